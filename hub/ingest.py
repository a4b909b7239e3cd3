"""Turn raw MQTT messages into stored alerts, node states and quarantine rows.

:meth:`Ingestor.handle` runs on paho's network thread. paho acknowledges a QoS 1 message
(PUBACK) right after ``on_message`` returns, so ``handle`` commits everything before it
returns: an alert is persisted before it is acknowledged, and a node whose PUBACK arrived
may forget the alert. Nothing a node sends can make ``handle`` raise: anything that breaks
the protocol becomes a quarantine row with a reason, and the next message is served.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from contract.protocol import (
    DEFAULT_TOPIC_ROOT,
    Alert,
    Channel,
    NodeStats,
    NodeStatus,
    ProtocolError,
    check_snapshot,
    decode,
    parse_topic,
)
from hub.store import HubStore, utc_now

log = logging.getLogger(__name__)

Listener = Callable[[dict], None]


def snapshot_url(alert_id: str) -> str:
    return f"/api/alerts/{alert_id}/snapshot"


@dataclass(frozen=True)
class IngestResult:
    """What happened to one message.

    ``outcome`` is one of ``stored`` (new alert), ``duplicate``, ``snapshot_linked``,
    ``snapshot_pending`` (its alert is not here yet), ``status``, ``stats`` or ``quarantined``
    (then ``reason`` says why: bad_topic, too_large, not_json, wrong_version, invalid,
    node_mismatch, not_jpeg, internal_error).
    """

    outcome: str
    reason: str | None = None
    alert_id: str | None = None


class Ingestor:
    """Validates, dedupes and stores messages, then tells listeners (the live feed)."""

    def __init__(
        self,
        store: HubStore,
        topic_root: str = DEFAULT_TOPIC_ROOT,
        listeners: list[Listener] | None = None,
    ) -> None:
        self.store = store
        self.topic_root = topic_root
        self.listeners: list[Listener] = list(listeners or [])

    def handle(self, topic: str, payload: bytes) -> IngestResult:
        """Store one message (committed on return). Never raises."""
        try:
            return self._handle(topic, payload)
        except ProtocolError as exc:
            return self._quarantine(topic, exc.reason, exc.detail, payload)
        except Exception as exc:  # a bug or a full disk must not kill the MQTT thread
            log.exception("failed to ingest a message on %r", topic[:200])
            return self._quarantine(
                topic, "internal_error", f"{type(exc).__name__}: {exc}", payload
            )

    def _handle(self, topic: str, payload: bytes) -> IngestResult:
        parsed = parse_topic(topic, self.topic_root)
        if parsed.channel is Channel.SNAPSHOT:
            return self._snapshot(parsed.site, parsed.node, parsed.alert_id or "", payload)
        message = decode(parsed, payload)
        if isinstance(message, Alert):
            return self._alert(message)
        if isinstance(message, NodeStatus):
            if self.store.nodes.record_status(message):
                log.info("node %s/%s is %s", message.site, message.node, message.state)
                self._notify(
                    {
                        "type": "node",
                        "site": message.site,
                        "node": message.node,
                        "state": message.state,
                        "role": str(message.role),
                        "ts": (message.ts or utc_now()).isoformat(),
                    }
                )
            return IngestResult("status")
        assert isinstance(message, NodeStats)
        self.store.nodes.record_stats(message)
        return IngestResult("stats")

    def _alert(self, alert: Alert) -> IngestResult:
        done = self.store.insert_alert(alert)
        if not done.stored:
            log.debug("duplicate alert %s from %s ignored", alert.id, alert.node)
            return IngestResult("duplicate", alert_id=alert.id)
        log.info(
            "alert %s from %s/%s seq=%d %s/%s area=%s zone=%s",
            alert.id,
            alert.site,
            alert.node,
            alert.seq,
            alert.kind,
            alert.severity,
            alert.area,
            alert.zone or "-",
        )
        if done.seq_gap:
            log.warning(
                "%d alert(s) of %s/%s lost before seq %d",
                done.seq_gap,
                alert.site,
                alert.node,
                alert.seq,
            )
        if done.rejected_snapshot_topic:
            log.warning("dropped a snapshot for %s sent by another node", alert.id)
        self._notify({"type": "alert", **alert_summary(self.store.get_alert(alert.id) or {})})
        return IngestResult("stored", alert_id=alert.id)

    def _snapshot(self, site: str, node: str, alert_id: str, jpeg: bytes) -> IngestResult:
        check_snapshot(jpeg)
        outcome = self.store.save_snapshot(site, node, alert_id, jpeg)
        if outcome == "linked":
            self._notify(
                {"type": "snapshot", "alert_id": alert_id, "snapshot_url": snapshot_url(alert_id)}
            )
        return IngestResult(
            f"snapshot_{outcome}" if outcome != "duplicate" else "duplicate", alert_id=alert_id
        )

    def _quarantine(self, topic: str, reason: str, detail: str, payload: bytes) -> IngestResult:
        log.warning(
            "quarantined %s (%d bytes) on %r: %s", reason, len(payload), topic[:200], detail[:200]
        )
        try:
            self.store.quarantine(topic, reason, detail, payload)
        except Exception:
            log.exception("could not even quarantine a message on %r", topic[:200])
        return IngestResult("quarantined", reason=reason)

    def _notify(self, event: dict) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("live listener failed")


def alert_summary(alert: dict) -> dict:
    """The public view of a stored alert (what the API and the live feed send)."""
    keys = (
        "id",
        "site",
        "node",
        "seq",
        "ts",
        "received_at",
        "kind",
        "severity",
        "area",
        "zone",
        "camera",
        "message",
        "objects",
        "frame_size",
        "has_snapshot",
    )
    out = {k: alert.get(k) for k in keys}
    out["snapshot_url"] = snapshot_url(alert["id"]) if alert.get("snapshot_path") else None
    return out
