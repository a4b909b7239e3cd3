"""What ingest makes of one message before and after storing it.

:func:`decode_message` validates a raw MQTT message into a :class:`Decoded` — outside the
store's transaction and lock, and never raising: a message that breaks the protocol (or
makes the validator itself raise) comes back refused, with its reason. :class:`IngestResult`
is what was decided about one message, :class:`BatchOutcome` about a batch
(:meth:`hub.ingest.Ingestor.handle_batch`).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field

from contract.protocol import (
    MAX_JSON_BYTES,
    Alert,
    Channel,
    Heartbeat,
    NodeStats,
    NodeStatus,
    ProtocolError,
    Topic,
    check_snapshot,
    decode,
    parse_topic,
)
from hub.events import HubEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """What happened to one message.

    ``outcome`` is one of ``stored`` (new alert), ``duplicate``, ``snapshot_linked``,
    ``snapshot_pending`` (its alert is not here yet), ``status``, ``stats``, ``heartbeat``,
    ``quarantined`` (then ``reason`` says why: bad_topic, too_large, not_json,
    wrong_version, invalid, node_mismatch, not_jpeg, internal_error) or ``held`` (the store
    failed: nothing was kept and the message must not be acknowledged; reason
    ``storage_unavailable``).
    ``site``/``node`` name the sending node of an alert (for its receipt).
    """

    outcome: str
    reason: str | None = None
    alert_id: str | None = None
    site: str | None = None
    node: str | None = None
    #: The alert is stored but the JPEG it announced is not: no receipt yet, so the node
    #: keeps (and re-sends) both until the snapshot is here too.
    awaiting_snapshot: bool = False

    @property
    def receipted(self) -> bool:
        """The hub has decided this alert for good — stored with everything it announced,
        or quarantined (kept with its reason) — so the node may forget it. A quarantined
        alert is receipted too: re-sending it would only be refused again."""
        decided = self.outcome in (
            "stored", "duplicate", "quarantined", "snapshot_linked", "snapshot_duplicate"
        )  # fmt: skip
        return decided and self.node is not None and not self.awaiting_snapshot


@dataclass
class BatchOutcome:
    """One result per message, in order, and the events to publish (after the commit)."""

    results: list[IngestResult]
    events: list[HubEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Decoded:
    """One message, validated: ``message`` (or, for a snapshot, only ``parsed``), or
    ``refused`` with the protocol's reason."""

    topic: str
    payload: bytes
    parsed: Topic | None = None
    message: Alert | NodeStatus | NodeStats | Heartbeat | None = None
    refused: ProtocolError | None = None
    #: For a refused alert on a valid alert topic: the id it claims, so it can be receipted.
    refused_alert: tuple[str, str, str] | None = None  # site, node, alert id


def decode_message(topic: str, payload: bytes, topic_root: str) -> Decoded:
    """Validate one message; never raises."""
    try:
        parsed = _parse_topic(topic, topic_root)
        if parsed.channel is Channel.SNAPSHOT:
            check_snapshot(payload)
            return Decoded(topic, payload, parsed)
        return Decoded(topic, payload, parsed, decode(parsed, payload))
    except ProtocolError as exc:
        claimed = _claimed(topic, payload, topic_root)
        return Decoded(topic, payload, refused=exc, refused_alert=claimed)
    except Exception as exc:  # the validator itself broke: poison, not a crash
        log.exception("validating a message on %r failed", topic[:200])
        refused = ProtocolError("internal_error", f"{type(exc).__name__}: {exc}")
        return Decoded(topic, payload, refused=refused)


def _claimed(topic: str, payload: bytes, topic_root: str) -> tuple[str, str, str] | None:
    """(site, node, id) of a refused message on a well-formed alert topic that names an
    alert id: the node that sent it gets a receipt and stops re-sending it."""
    try:
        parsed = _parse_topic(topic, topic_root)
    except ProtocolError:
        return None
    found = _CLAIMED_ID.search(payload[:MAX_JSON_BYTES])
    if parsed.channel is not Channel.ALERT or found is None:
        return None
    return parsed.site, parsed.node, found.group(1).decode()


@functools.lru_cache(maxsize=4096)
def _parse_topic(topic: str, root: str) -> Topic:
    """Topics repeat (one per node and channel): parse each once. Topic is frozen."""
    return parse_topic(topic, root)


#: The id an alert payload claims, found without parsing it (it failed to parse or validate).
_CLAIMED_ID = re.compile(rb'"id"\s*:\s*"([0-9a-f]{32})"')
