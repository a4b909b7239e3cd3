"""Live view on the wire: the hub asks a gateway to stream a camera, the gateway sends frames.

Gateways only ever connect *out* to the broker, so the hub cannot open a stream to a camera.
Instead, while at least one officer watches a camera, the hub publishes a :class:`LiveRequest`
(a *lease*) to that node's ``watch`` topic every ``renew_s`` seconds; the gateway streams the
camera until the lease lapses (``lease_s`` after the last request, on the gateway's own
clock, so the two clocks need not agree). A request with ``lease_s = 0`` ends it at once (the
last viewer closed). Frames go to ``live/{camera}``: QoS 0 and never retained — a late frame
is worth nothing, and the broker must not queue or keep them::

    {root}/{site}/{node}/watch            QoS 1, from the hub, read only by that node
    {root}/{site}/{node}/live/{camera}    QoS 0, from the node, read only by the hub

A live frame is ``[4-byte big-endian header length][LiveFrameHeader JSON][JPEG]``: the
header says when the frame was captured (wall clock, for glass-to-glass latency) and its
sequence number. The JPEG is privacy filtered exactly like an alert snapshot (masks, blurred
faces), only not cropped. The gateway encodes each frame once, whatever the number of
viewers: the hub fans it out.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.framing import pack_framed, unpack_framed
from contract.node_commands import decode_for_node
from contract.protocol import (
    DEFAULT_TOPIC_ROOT,
    PROTOCOL_VERSION,
    Channel,
    Identifier,
    ProtocolError,
)

#: Largest live frame on the wire (header included); a 960-px JPEG at quality 70 is ~60 KB.
MAX_LIVE_FRAME_BYTES = 512 * 1024
_MAX_HEADER_BYTES = 1024


class LiveSettings(BaseModel):
    """The hub's ``hub.live`` section: how long a lease lasts and what a stream may cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lease_s: float = Field(
        10.0, gt=0, le=300, description="a gateway streams this long after the last renewal"
    )
    renew_s: float = Field(3.0, gt=0, le=100, description="the hub renews a watched lease")
    max_fps: float = Field(8.0, gt=0, le=30, description="frames/s a gateway sends at most")
    max_width: int = Field(960, ge=160, le=1920, description="frames are shrunk to this width")
    quality: int = Field(70, ge=20, le=95, description="JPEG quality of live frames")
    viewer_bytes_per_s: int = Field(
        1_500_000, ge=10_000, description="bandwidth cap of one viewer (frames over it are skipped)"
    )
    max_viewers: int = Field(16, ge=1, le=1000, description="viewers of one camera at once")


class LiveRequest(BaseModel):
    """From the hub to one gateway: stream ``camera`` for ``lease_s`` more seconds (0: stop)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[2] = Field(PROTOCOL_VERSION, description="protocol version")
    type: Literal["live_request"] = "live_request"
    site: Identifier
    node: Identifier
    camera: Identifier
    lease_s: float = Field(ge=0, le=300, description="0 ends the stream now")
    max_fps: float = Field(gt=0, le=30)
    max_width: int = Field(ge=160, le=1920)
    quality: int = Field(ge=20, le=95)


class LiveFrameHeader(BaseModel):
    """What precedes the JPEG of a live frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera: Identifier
    seq: int = Field(ge=0, le=2**53 - 1, description="+1 per frame sent for this camera")
    captured: float = Field(description="Unix time (s) the gateway read the frame")
    width: int = Field(ge=1, le=8192)
    height: int = Field(ge=1, le=8192)


def watch_topic(root: str, site: str, node: str) -> str:
    return f"{root}/{site}/{node}/{Channel.WATCH}"


def live_topic(root: str, site: str, node: str, camera: str) -> str:
    return f"{root}/{site}/{node}/{Channel.LIVE}/{camera}"


def live_subscription(root: str = DEFAULT_TOPIC_ROOT) -> str:
    """The hub's filter for every gateway's live frames."""
    return f"{root}/+/+/{Channel.LIVE}/+"


def encode_request(request: LiveRequest) -> bytes:
    return request.model_dump_json().encode()


def decode_request(payload: bytes, site: str, node: str) -> LiveRequest:
    """A gateway's check of a request (:class:`ProtocolError` ``invalid`` or ``node_mismatch``)."""
    return decode_for_node(LiveRequest, payload, site, node, _MAX_HEADER_BYTES)


def encode_frame(header: LiveFrameHeader, jpeg: bytes) -> bytes:
    return pack_framed(header, jpeg)


def decode_frame(payload: bytes) -> tuple[LiveFrameHeader, bytes]:
    """Split and check a live frame: a sane header and one JPEG (:class:`ProtocolError`)."""
    header, jpeg = unpack_framed(
        payload, LiveFrameHeader, MAX_LIVE_FRAME_BYTES, _MAX_HEADER_BYTES, "live frame"
    )
    if not (jpeg.startswith(b"\xff\xd8") and jpeg.endswith(b"\xff\xd9")):
        raise ProtocolError("not_jpeg", "live frame is not a JPEG")
    return header, jpeg
