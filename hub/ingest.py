"""Turn raw MQTT messages into stored alerts, incidents, node states and quarantine rows.

:meth:`Ingestor.handle` runs on paho's network thread. paho acknowledges a QoS 1 message
(PUBACK) right after ``on_message`` returns, so ``handle`` commits everything before it
returns: an alert is persisted, with its incident, before it is acknowledged. Only then are
the events published (the live feed, notifiers). Nothing a node sends can make ``handle``
raise: anything that breaks the protocol becomes a quarantine row with a reason, and the
next message is served.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

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
from hub.clock import Clock, system_clock
from hub.domain.alerts import AlertRecord
from hub.domain.incidents import Incident
from hub.events import (
    AlertStored,
    EventBus,
    HubEvent,
    IncidentChanged,
    NodeChanged,
    SnapshotArrived,
)
from hub.storage.repositories import Storage

log = logging.getLogger(__name__)


class Correlator(Protocol):
    def correlate(self, alert: AlertRecord) -> tuple[Incident, str] | None:
        """The incident this new alert belongs to and what changed (inside the caller's
        transaction), or None when the alert belongs to none."""


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
    """Validates, dedupes, stores and correlates messages, then publishes events."""

    def __init__(
        self,
        storage: Storage,
        bus: EventBus,
        correlator: Correlator | None = None,
        topic_root: str = DEFAULT_TOPIC_ROOT,
        clock: Clock = system_clock,
    ) -> None:
        self.storage = storage
        self.bus = bus
        self.correlator = correlator
        self.topic_root = topic_root
        self.clock = clock

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
            if self.storage.nodes.record_status(message, self.clock()):
                log.info("node %s/%s is %s", message.site, message.node, message.state)
                node = self.storage.nodes.get(message.site, message.node)
                if node is not None:
                    self._publish(NodeChanged(node=node))
            return IngestResult("status")
        assert isinstance(message, NodeStats)
        self.storage.nodes.record_stats(message, self.clock())
        return IngestResult("stats")

    def _alert(self, alert: Alert) -> IngestResult:
        events: list[HubEvent] = []
        with self.storage.transaction():
            done = self.storage.alerts.insert(alert, self.clock())
            if done.stored and done.record is not None:
                record = done.record
                filed = self.correlator.correlate(record) if self.correlator else None
                if filed is not None:
                    incident, change = filed
                    record = record.model_copy(update={"incident_id": incident.id})
                    events.append(IncidentChanged(incident=incident, change=change))
                events.insert(0, AlertStored(alert=record))
        if not done.stored:
            log.debug("duplicate alert %s from %s ignored", alert.id, alert.node)
            return IngestResult("duplicate", alert_id=alert.id)
        log.info(
            "alert %s from %s/%s seq=%d %s/%s area=%s zone=%s",
            alert.id, alert.site, alert.node, alert.seq, alert.kind, alert.severity,
            alert.area, alert.zone or "-",
        )  # fmt: skip
        if done.seq_gap:
            log.warning(
                "%d alert(s) of %s/%s lost before seq %d",
                done.seq_gap, alert.site, alert.node, alert.seq,
            )  # fmt: skip
        if done.rejected_snapshot_topic:
            log.warning("dropped a snapshot for %s sent by another node", alert.id)
        for event in events:
            self._publish(event)
        return IngestResult("stored", alert_id=alert.id)

    def _snapshot(self, site: str, node: str, alert_id: str, jpeg: bytes) -> IngestResult:
        check_snapshot(jpeg)
        outcome = self.storage.alerts.save_snapshot(site, node, alert_id, jpeg, self.clock())
        if outcome == "linked":
            self._publish(SnapshotArrived(alert_id=alert_id))
        return IngestResult(
            f"snapshot_{outcome}" if outcome != "duplicate" else "duplicate", alert_id=alert_id
        )

    def _quarantine(self, topic: str, reason: str, detail: str, payload: bytes) -> IngestResult:
        log.warning(
            "quarantined %s (%d bytes) on %r: %s", reason, len(payload), topic[:200], detail[:200]
        )
        try:
            self.storage.quarantine.add(self.clock(), topic, reason, detail, payload)
        except Exception:
            log.exception("could not even quarantine a message on %r", topic[:200])
        return IngestResult("quarantined", reason=reason)

    def _publish(self, event: HubEvent) -> None:
        try:
            self.bus.publish(event)
        except Exception:  # the data is stored; a broken listener must not withhold PUBACK
            log.exception("publishing %s failed", event.name)
