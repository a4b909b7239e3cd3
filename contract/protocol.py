"""The VillageWatch wire protocol: topics, payload schemas and their version.

Every message a node or the hub publishes is defined here, once. Topics live under a
configurable root (default ``vw``) and always name the site and the publishing node, so the
broker's ACL can confine a node to its own subtree::

    {root}/{site}/{node}/status                retained, QoS 1: "online" on connect,
                                               "offline" as the last will
    {root}/{site}/{node}/alert                 QoS 1: one Alert per message
    {root}/{site}/{node}/snapshot/{alert_id}   QoS 1: JPEG bytes for that alert
    {root}/{site}/{node}/stats                 QoS 0: periodic NodeStats
    {root}/{site}/{node}/heartbeat             QoS 1: a sensor node's periodic Heartbeat
                                               (battery, signal, temperature, tamper)
    {root}/{site}/{node}/receipt               QoS 1, published by the hub, read only by
                                               that node: alert ids the hub has *stored*
    {root}/{site}/{node}/watch                 QoS 1, from the hub, read only by that node:
                                               a live-view lease (contract/live.py)
    {root}/{site}/{node}/live/{camera}         QoS 0, never retained, read only by the hub:
                                               privacy-filtered live frames (contract/live.py)
    {root}/{site}/{node}/verify                QoS 1, from the hub, read only by that node:
                                               "show me this camera now" (contract/verification.py)
    {root}/{site}/{node}/evidence/{request}    QoS 1, read only by the hub: the gateway's
                                               snapshot and clip for a verify request

JSON payloads carry ``"v"``: this code writes ``PROTOCOL_VERSION`` (2) and accepts every
version in ``SUPPORTED_VERSIONS``, so v1 nodes keep working. QoS 1 means *at least once*:
receivers drop duplicates by ``Alert.id``.

Version 2 adds end-to-end delivery: the broker's PUBACK only says the broker took a message,
and a broker can still lose it (a crash before saving, a full queue). A v2 node keeps each
alert in its outbox until a :class:`Receipt` from the hub names it, and sends it again after a
time-out; the hub stores by id, so a second copy costs nothing. ``Alert.seq`` increases by
one per alert of a node and survives restarts (the edge outbox persists it), so a gap tells
the hub an alert was lost.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

PROTOCOL_VERSION = 2
#: Versions a receiver accepts: v1 nodes (no receipts) still work.
SUPPORTED_VERSIONS = (1, 2)
#: Sequence numbers and counters stay exact in every JSON reader (IEEE doubles: 2**53).
MAX_SEQ = 2**53 - 1
#: Event times outside these years are refused: they cannot be real and they break arithmetic
#: (1970: replays of recordings count from the Unix epoch).
MIN_YEAR, MAX_YEAR = 1970, 2199
#: Alert ids one receipt may carry.
MAX_RECEIPT_IDS = 1000
DEFAULT_TOPIC_ROOT = "vw"

#: Largest JSON payload the hub accepts; alerts are a few hundred bytes.
MAX_JSON_BYTES = 64 * 1024
#: Largest snapshot the hub accepts (a 1080p JPEG at quality 80 is ~300 KB).
MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024

#: Node, site and area ids become topic levels and file names: keep them plain.
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_ID_RE = re.compile(ID_PATTERN)

Identifier = Annotated[str, Field(pattern=ID_PATTERN, description="lowercase id: a-z 0-9 _ -")]

#: Alert ids (and the hub's incident ids): a UUID as 32 lowercase hex digits.
HEX_ID_PATTERN = r"^[0-9a-f]{32}$"
#: What happened, as one word: intrusion, door, stream_lost ...
KIND_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


class Channel(StrEnum):
    """The last-but-one topic level: what kind of message a topic carries."""

    STATUS = "status"
    ALERT = "alert"
    SNAPSHOT = "snapshot"
    STATS = "stats"
    HEARTBEAT = "heartbeat"  # sensor nodes: battery, signal, tamper (added in v2, optional)
    RECEIPT = "receipt"
    WATCH = "watch"  # live view: the hub's lease to a gateway (contract/live.py)
    LIVE = "live"  # live view: a gateway's frames, one level more (the camera)
    VERIFY = "verify"  # video verification: the hub asks a gateway (contract/verification.py)
    EVIDENCE = "evidence"  # the gateway's answer, one level more (the request id)
    WATCHLIST = "watchlist"  # the hub's retained watchlist for a gateway (contract/watchlist.py)


#: Channels the hub writes for every node of its site and each node reads only its own: a node
#: that could read another's would learn where alarms are, or what is being looked for.
HUB_TO_NODE_CHANNELS = (Channel.RECEIPT, Channel.WATCH, Channel.VERIFY, Channel.WATCHLIST)


class Severity(StrEnum):
    """Alert severity, highest first (the ThingsBoard ladder)."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"
    INFO = "info"


class NodeRole(StrEnum):
    CAMERA_GATEWAY = "camera_gateway"
    SENSOR = "sensor"
    HUB = "hub"
    #: Another system's broker login (Home Assistant reading the discovery prefix): no
    #: node topics at all, and it never publishes a status.
    INTEGRATION = "integration"


def _sane_time(value: datetime | None) -> datetime | None:
    """Refuse times no real node sends (year 0001, 9999): they overflow in UTC."""
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year {value.year} is outside {MIN_YEAR}..{MAX_YEAR}")
    return value


SaneTime = Annotated[datetime, AfterValidator(_sane_time)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1, 2] = Field(PROTOCOL_VERSION, description="protocol version (1 or 2)")


class DetectedObject(BaseModel):
    """One object that caused an alert. Boxes are pixels of the frame in ``Alert.frame_size``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(max_length=32)
    score: float = Field(ge=0.0, le=1.0)
    box: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 in pixels")
    track_id: int | None = Field(None, ge=0)
    plate: str | None = Field(None, max_length=16, description="vehicles: the plate read, if any")


class WatchlistHit(BaseModel):
    """What an alert of kind ``watchlist_plate`` / ``watchlist_face`` says about its match
    (contract/watchlist.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    list: Literal["plate", "face"]
    entry_id: str = Field(pattern=HEX_ID_PATTERN)
    score: float = Field(ge=0.0, le=1.0, description="1 = exact plate / identical embedding")
    plate: str | None = Field(None, max_length=16, description="the text read (plates only)")
    authorisation: str | None = Field(
        None, pattern=HEX_ID_PATTERN, description="faces: the authorisation it ran under"
    )


class Alert(_Payload):
    """Something happened that an officer may need to act on."""

    type: Literal["alert"] = "alert"
    id: str = Field(
        pattern=HEX_ID_PATTERN,
        description="unique id (a UUID as 32 hex digits; version 7 preferred)",
    )
    site: Identifier
    node: Identifier
    seq: int = Field(ge=0, le=MAX_SEQ, description="per-node sequence number, +1 per alert")
    ts: SaneTime = Field(description="event time, ISO 8601 with timezone")
    kind: str = Field(pattern=KIND_PATTERN, description="intrusion, door, ...")
    severity: Severity
    area: Identifier = Field(description="the site area the alert belongs to")
    zone: str | None = Field(None, max_length=64, description="zone/rule name within the camera")
    camera: Identifier | None = None
    message: str = Field("", max_length=280, description="one line for a human")
    objects: list[DetectedObject] = Field(default_factory=list, max_length=64)
    frame_size: tuple[int, int] | None = Field(None, description="width, height of the frame")
    has_snapshot: bool = Field(False, description="a JPEG follows on snapshot/{id}")
    watchlist: WatchlistHit | None = Field(None, description="watchlist alerts: the match")


class NodeStatus(_Payload):
    """Retained availability of a node; the broker publishes ``offline`` as its last will."""

    type: Literal["status"] = "status"
    site: Identifier
    node: Identifier
    state: Literal["online", "offline"]
    role: NodeRole
    ts: SaneTime | None = Field(None, description="absent in the last will (set at connect)")
    software: str = Field("", max_length=64)


class CameraStats(BaseModel):
    """Per-camera pipeline figures, the same ones Frigate reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_fps: float = Field(ge=0, description="frames/s read from the source")
    process_fps: float = Field(ge=0, description="frames/s through the motion gate")
    detect_fps: float = Field(ge=0, description="detector runs/s")
    #: Optional (added in v2 without a version bump): older nodes do not send it.
    detect_fps_target: float | None = Field(
        None,
        ge=0,
        description="configured detect.fps: what detect_fps reaches while something moves",
    )
    skipped_fps: float = Field(ge=0, description="frames/s dropped to stay real-time")
    skipped_frames: int = Field(ge=0, description="frames dropped since start")
    inference_ms: float = Field(ge=0, description="mean detector latency")
    motion_ratio: float = Field(0.0, ge=0, le=1, description="share of frames with motion")
    connected: bool = True
    #: Optional (added in v2 without a version bump, for event security): people per crowd
    #: rule ring on the last detector frame, keyed ``rule/ring`` (``square/core``), and that
    #: frame's time. The hub adds cameras up per event ring (hub/events_security/).
    rings: dict[str, int] = Field(
        default_factory=dict, description="people per crowd ring, keyed rule/ring"
    )
    rings_at: SaneTime | None = Field(None, description="when the ring counts were measured")


class NodeStats(_Payload):
    type: Literal["stats"] = "stats"
    site: Identifier
    node: Identifier
    ts: SaneTime
    uptime_s: float = Field(ge=0)
    outbox_pending: int = Field(0, ge=0)
    cameras: dict[str, CameraStats] = Field(default_factory=dict)


class Heartbeat(_Payload):
    """A sensor node's health, every ``interval_s`` seconds (added in v2 without a version
    bump: nodes that never send one are still accepted).

    The hub counts a node offline after three missed intervals, whether or not the broker
    delivers its last will; ``battery_v`` over days gives the battery's trend; ``tamper``
    (the enclosure switch) is a security event; ``state`` and ``state_since`` show a sensor
    stuck in one state (a door contact open for three days). Every measurement is optional:
    a node sends what its hardware has.
    """

    type: Literal["heartbeat"] = "heartbeat"
    site: Identifier
    node: Identifier
    ts: SaneTime
    interval_s: int = Field(ge=5, le=86_400, description="seconds until the next heartbeat")
    uptime_s: float = Field(ge=0, le=MAX_SEQ, description="seconds since the node booted")
    battery_v: float | None = Field(None, ge=0, le=60, description="battery voltage")
    battery_pct: float | None = Field(None, ge=0, le=100, description="battery charge, %")
    rssi_dbm: int | None = Field(None, ge=-150, le=0, description="radio signal strength")
    temperature_c: float | None = Field(None, ge=-60, le=150, description="sensor temperature")
    tamper: bool | None = Field(None, description="true while the enclosure is open")
    state: str | None = Field(
        None, pattern=KIND_PATTERN, description="the sensor's current state: open, closed, wet"
    )
    state_since: SaneTime | None = Field(None, description="when ``state`` last changed")
    queued: int = Field(0, ge=0, le=MAX_SEQ, description="alerts not yet receipted by the hub")


class Receipt(_Payload):
    """From the hub to one node: these alerts are stored; the node may forget them."""

    type: Literal["receipt"] = "receipt"
    site: Identifier
    node: Identifier
    ids: list[Annotated[str, Field(pattern=HEX_ID_PATTERN)]] = Field(
        min_length=1, max_length=MAX_RECEIPT_IDS, description="stored alert ids"
    )


JsonMessage = Alert | NodeStatus | NodeStats | Heartbeat
_MODEL_BY_CHANNEL: dict[Channel, type[_Payload]] = {
    Channel.ALERT: Alert,
    Channel.STATUS: NodeStatus,
    Channel.STATS: NodeStats,
    Channel.HEARTBEAT: Heartbeat,
}


# --- topics ---------------------------------------------------------------------------------


class Topic(BaseModel):
    """A parsed topic. ``str(topic)`` builds it back."""

    model_config = ConfigDict(frozen=True)

    root: str
    site: str
    node: str
    channel: Channel
    alert_id: str | None = None
    camera: str | None = None  # live topics: the camera streamed
    request_id: str | None = None  # evidence topics: the verify request answered

    def __str__(self) -> str:
        base = f"{self.root}/{self.site}/{self.node}/{self.channel.value}"
        extra = self.alert_id or self.camera or self.request_id
        return f"{base}/{extra}" if extra else base


def status_topic(root: str, site: str, node: str) -> str:
    return f"{root}/{site}/{node}/{Channel.STATUS}"


def alert_topic(root: str, site: str, node: str) -> str:
    return f"{root}/{site}/{node}/{Channel.ALERT}"


def snapshot_topic(root: str, site: str, node: str, alert_id: str) -> str:
    return f"{root}/{site}/{node}/{Channel.SNAPSHOT}/{alert_id}"


def stats_topic(root: str, site: str, node: str) -> str:
    return f"{root}/{site}/{node}/{Channel.STATS}"


def heartbeat_topic(root: str, site: str, node: str) -> str:
    return f"{root}/{site}/{node}/{Channel.HEARTBEAT}"


def receipt_topic(root: str, site: str, node: str) -> str:
    return f"{root}/{site}/{node}/{Channel.RECEIPT}"


def node_subtree(root: str, site: str, node: str) -> str:
    """The topic filter a node may publish to (its ACL entry)."""
    return f"{root}/{site}/{node}/#"


def hub_subscriptions(root: str) -> list[tuple[str, int]]:
    """Topic filters and QoS the hub subscribes to, for every site."""
    # Live frames have their own link in the hub (QoS 0, never through ingest).
    # Verification evidence too (hub/verification.py): binary, never stored as alerts.
    outbound = (Channel.SNAPSHOT, Channel.LIVE, Channel.EVIDENCE, *HUB_TO_NODE_CHANNELS)
    inbound = [c for c in Channel if c not in outbound]
    plain = [(f"{root}/+/+/{c}", 1) for c in inbound]
    return [*plain, (f"{root}/+/+/{Channel.SNAPSHOT}/+", 1)]


class ProtocolError(ValueError):
    """A message that breaks the protocol. ``reason`` is a short machine-friendly code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def parse_topic(topic: str, root: str = DEFAULT_TOPIC_ROOT) -> Topic:
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != root:
        raise ProtocolError("bad_topic", f"{topic!r} is not {root}/<site>/<node>/<channel>")
    _, site, node, channel, *rest = parts
    for name, value in (("site", site), ("node", node)):
        if not _ID_RE.match(value):
            raise ProtocolError("bad_topic", f"{name} {value!r} in {topic!r} is not a valid id")
    try:
        chan = Channel(channel)
    except ValueError:
        raise ProtocolError("bad_topic", f"unknown channel {channel!r} in {topic!r}") from None
    extra = rest[0] if rest else None
    if chan is Channel.LIVE:
        if extra is None or not _ID_RE.match(extra):
            raise ProtocolError("bad_topic", f"{topic!r}: live topics end with a camera id")
        return Topic(root=root, site=site, node=node, channel=chan, camera=extra)
    if chan is Channel.EVIDENCE:
        if extra is None or not re.match(HEX_ID_PATTERN, extra):
            raise ProtocolError("bad_topic", f"{topic!r}: evidence topics end with a request id")
        return Topic(root=root, site=site, node=node, channel=chan, request_id=extra)
    alert_id = extra
    if (chan is Channel.SNAPSHOT) != (alert_id is not None):
        raise ProtocolError("bad_topic", f"{topic!r}: only snapshot topics carry an alert id")
    if alert_id is not None and not re.match(HEX_ID_PATTERN, alert_id):
        raise ProtocolError("bad_topic", f"{topic!r}: alert id must be 32 hex digits")
    return Topic(root=root, site=site, node=node, channel=chan, alert_id=alert_id)


# --- encoding -------------------------------------------------------------------------------


def encode(message: JsonMessage) -> bytes:
    """Serialise a payload to compact JSON bytes."""
    return message.model_dump_json(exclude_none=True).encode()


def decode(topic: Topic, payload: bytes) -> JsonMessage:
    """Validate a JSON payload against the schema its topic promises.

    Raises :class:`ProtocolError` with reason ``too_large``, ``not_json``, ``wrong_version``,
    ``invalid`` or ``node_mismatch`` (the payload claims another site/node than the topic,
    which the broker ACL has already tied to the authenticated user).
    """
    if topic.channel not in _MODEL_BY_CHANNEL:  # snapshots, receipts, live view, verification
        raise ProtocolError("bad_topic", f"nodes do not send JSON on {topic.channel} topics")
    message = _validate(_MODEL_BY_CHANNEL[topic.channel], payload)
    if (message.site, message.node) != (topic.site, topic.node):
        raise ProtocolError(
            "node_mismatch",
            f"payload says {message.site}/{message.node}, topic says {topic.site}/{topic.node}",
        )
    return message


def decode_receipt(payload: bytes, site: str, node: str) -> Receipt:
    """A node's check of a receipt from the hub (same errors as :func:`decode`)."""
    receipt = _validate(Receipt, payload)
    if (receipt.site, receipt.node) != (site, node):
        raise ProtocolError("node_mismatch", f"receipt for {receipt.site}/{receipt.node}")
    return receipt


def _validate(model: type[_Payload], payload: bytes):
    if len(payload) > MAX_JSON_BYTES:
        raise ProtocolError("too_large", f"{len(payload)} bytes > {MAX_JSON_BYTES}")
    try:  # the common case, parsed and checked in one pass by pydantic-core (3x faster)
        return model.model_validate_json(payload)
    except (ValidationError, ValueError, RecursionError):
        pass  # say exactly what is wrong, below
    try:
        data = json.loads(payload)
    except ValueError as exc:  # bad UTF-8, bad JSON, an integer of over 4,300 digits
        raise ProtocolError("not_json", str(exc)[:200]) from None
    except RecursionError:
        raise ProtocolError("not_json", "JSON nested too deep") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid", f"expected a JSON object, got {type(data).__name__}")
    if data.get("v") not in SUPPORTED_VERSIONS:
        versions = ", ".join(map(str, SUPPORTED_VERSIONS))
        raise ProtocolError("wrong_version", f"v={data.get('v')!r}; this code speaks {versions}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ProtocolError("invalid", f"{where}: {first['msg']}") from None
    except RecursionError:
        raise ProtocolError("invalid", "payload nested too deep") from None


def check_snapshot(payload: bytes) -> None:
    """Raise :class:`ProtocolError` unless ``payload`` looks like one JPEG of sane size."""
    if len(payload) > MAX_SNAPSHOT_BYTES:
        raise ProtocolError("too_large", f"snapshot {len(payload)} bytes > {MAX_SNAPSHOT_BYTES}")
    if not (payload.startswith(b"\xff\xd8") and payload.rstrip(b"\x00").endswith(b"\xff\xd9")):
        raise ProtocolError("not_jpeg", "snapshot is not a JPEG (missing SOI/EOI markers)")


def utc_now() -> datetime:
    return datetime.now(UTC)
