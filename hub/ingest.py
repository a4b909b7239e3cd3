"""Turn raw MQTT messages into stored alerts, incidents, node states and quarantine rows.

:meth:`Ingestor.handle_batch` stores many messages in **one** transaction (group commit: one
fsync for the batch instead of one per alert) and returns only after the commit, so the
caller may then acknowledge every message of the batch. :class:`hub.ingest_pipeline.
IngestPipeline` feeds it from paho's network thread; :meth:`Ingestor.handle` is a batch of
one, for tests and tools.

Every message is *decided*: stored, duplicate, a status/stats/snapshot, empty (a broker
clearing a retained message: MQTT's empty payload), or quarantined with a reason (the
decoding and the result types are in :mod:`hub.ingest_messages`). Nothing a node sends can
fail the batch:

* a message that breaks the protocol is a quarantine row (bad_topic, not_json, invalid ...);
* a message that makes the hub's own code raise runs inside its own savepoint, which is
  rolled back; it becomes a quarantine row with reason ``internal_error`` and the rest of
  the batch is stored as if it had not been there.

Only a failing *store* (:class:`hub.storage.failures.StorageFailure`: disk full, I/O error,
locked) fails the batch; then nothing of it is kept and nothing may be acknowledged.

Duplicates (QoS 1 redelivery, an edge resending after a lost receipt) are found by one
read for the whole batch and cost no write; their count is folded into the next commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from contract.protocol import (
    DEFAULT_TOPIC_ROOT,
    Alert,
    Channel,
    Heartbeat,
    NodeStats,
    NodeStatus,
    ProtocolError,
    Topic,
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
from hub.ingest_messages import BatchOutcome, Decoded, IngestResult, decode_message
from hub.ingest_ports import AlertSink, Correlator, HeartbeatSink
from hub.storage.failures import StorageFailure, as_storage_failure, is_storage_failure
from hub.storage.repositories import Storage

log = logging.getLogger(__name__)

#: An event time this far from the hub's receive time is kept but counted as clock skew.
#: Lists order by receive time, so such an alert never hides newer ones.
CLOCK_SKEW_LIMIT = timedelta(days=1)
#: Alerts a batch's log line names in full (the rest are counted).
LOGGED_ALERTS = 5


class Ingestor:
    """Validates, dedupes, stores and correlates messages, then publishes events."""

    def __init__(
        self,
        storage: Storage,
        bus: EventBus,
        correlator: Correlator | None = None,
        topic_root: str = DEFAULT_TOPIC_ROOT,
        clock: Clock = system_clock,
        *,
        heartbeats: HeartbeatSink | None = None,
        sink: AlertSink | None = None,
    ) -> None:
        self.storage = storage
        self.heartbeats = heartbeats
        self.sink = sink
        self._diverted = sink.kinds if sink else frozenset()
        self._quiet = sink.quiet if sink else frozenset()
        self.bus = bus
        self.correlator = correlator
        self.topic_root = topic_root
        self.clock = clock
        # Duplicates seen but not yet counted in storage (counted by the next commit).
        self._uncounted_duplicates = 0
        self._lock = threading.Lock()  # one batch at a time

    # --- entry points ---------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> IngestResult:
        """Store one message (committed on return) and publish its events. Never raises:
        a failing store gives ``held``."""
        try:
            outcome = self.handle_batch([(topic, payload)])
        except StorageFailure as exc:
            log.error("storage failed; %r not stored: %s", topic[:200], exc)
            return IngestResult("held", "storage_unavailable")
        self.publish(outcome.events)
        return outcome.results[0]

    def handle_batch(self, messages: Sequence[tuple[str, bytes]]) -> BatchOutcome:
        """Decide and store ``messages`` in one transaction; returns after the commit.

        Raises :class:`StorageFailure` when the store failed: then nothing was kept. The
        caller publishes ``events`` (:meth:`publish`) once it has acknowledged."""
        root = self.topic_root
        decoded = [decode_message(topic, payload, root) for topic, payload in messages]
        with self._lock:
            known = self._known_alerts(decoded)
            outcome = BatchOutcome([IngestResult("pending")] * len(decoded))
            duplicates = 0
            for i, item in enumerate(decoded):
                if not item.payload:  # a retained message being cleared: nothing to keep
                    outcome.results[i] = IngestResult("empty")
                elif isinstance(item.message, Alert) and item.message.id in known:
                    outcome.results[i] = _duplicate(item.message, known[item.message.id])
                    duplicates += 1
            writes = [i for i, r in enumerate(outcome.results) if r.outcome == "pending"]
            if not writes:  # all duplicates: no write at all, counted by a later commit
                self._uncounted_duplicates += duplicates
            else:  # if this raises, the batch is retried whole: count nothing yet
                with as_storage_failure(), self.storage.transaction():
                    self._store(decoded, writes, outcome)
                    if self._uncounted_duplicates + duplicates:
                        bump = self._uncounted_duplicates + duplicates
                        self.storage.counters.bump("duplicates", bump)
                self._uncounted_duplicates = 0
        self._log(outcome.results, decoded)
        return outcome

    def pending_counts(self) -> dict[str, int]:
        """Counts decided but not yet written (duplicates of a batch that needed no write
        wait for the next commit); the hub's figures add them, so they never lag."""
        with self._lock:
            return {"duplicates": self._uncounted_duplicates}

    def quarantine_alone(self, topic: str, payload: bytes, error: Exception) -> BatchOutcome:
        """Quarantine one message whose batch of one raised (``internal_error``), in its own
        transaction. Raises StorageFailure if even that cannot be written."""
        detail = f"{type(error).__name__}: {error}"
        try:
            with as_storage_failure(), self.storage.transaction():
                self._quarantine(topic, "internal_error", detail, payload)
        except StorageFailure:
            raise
        except Exception:
            log.exception("could not even quarantine a message on %r", topic[:200])
        return BatchOutcome([IngestResult("quarantined", "internal_error")])

    def publish(self, events: Sequence[HubEvent]) -> None:
        for event in events:
            try:
                self.bus.publish(event)
            except Exception:  # the data is stored; a broken listener must not matter
                log.exception("publishing %s failed", event.name)

    # --- deciding -------------------------------------------------------------------------

    def _known_alerts(self, decoded: list[Decoded]) -> dict[str, bool]:
        """The batch's alerts stored already, each with whether its snapshot is here too."""
        ids = [d.message.id for d in decoded if isinstance(d.message, Alert)]
        if not ids:
            return {}
        with as_storage_failure():
            return self.storage.alerts.known_ids(ids)

    def _store(self, decoded: list[Decoded], writes: list[int], outcome: BatchOutcome) -> None:
        """Inside the batch's transaction: the new alerts together (fast), then the rest
        one by one. If storing the alerts together raises, that savepoint is rolled back and
        they go one by one too, so only the alert that raises is quarantined."""
        now = self.clock()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # what storage keeps
        fresh: dict[str, int] = {}
        for i in writes:
            message = decoded[i].message
            # A sink's kinds go one by one, below.
            if isinstance(message, Alert) and message.kind not in self._diverted:
                fresh.setdefault(message.id, i)
        if fresh:
            events: list[HubEvent] = []
            try:
                with self.storage.transaction():
                    self._alerts_together(decoded, list(fresh.values()), now, outcome, events)
                outcome.events.extend(events)
            except Exception as exc:
                if is_storage_failure(exc):
                    raise
                log.warning("%d alerts failed together (%r); one by one", len(fresh), exc)
                for i in fresh.values():
                    outcome.results[i] = IngestResult("pending")
        for i in writes:
            if outcome.results[i].outcome == "pending":
                outcome.results[i] = self._store_one(decoded[i], outcome.events, now)

    def _alerts_together(
        self,
        decoded: list[Decoded],
        indexes: list[int],
        now: datetime,
        outcome: BatchOutcome,
        events: list[HubEvent],
    ) -> None:
        """The batch's new alerts: filed under incidents first, then stored each with its
        incident in one INSERT (an UPDATE per alert after it cost 5-10% of ingest)."""
        alerts: list[Alert] = [decoded[i].message for i in indexes]  # type: ignore[misc]
        records = [AlertRecord.received(alert, now) for alert in alerts]
        filed: list = [None] * len(records)
        if self.correlator is not None:
            filed = self.correlator.correlate_many(records)
        changed: dict[str, tuple[Incident, str]] = {}
        for record, found in zip(records, filed, strict=True):
            if found is not None:
                # Ours alone until stored and published: set it without a pydantic copy.
                record.__dict__["incident_id"] = found[0].id
                first = changed.setdefault(found[0].id, found)
                if found[1] == "opened" and first[1] != "opened":
                    changed[found[0].id] = found
        inserts = self.storage.alerts.insert_many(records)
        skewed = 0
        for i, alert, done in zip(indexes, alerts, inserts, strict=True):
            assert done.record is not None
            if alert.kind not in self._quiet:
                events.append(AlertStored(alert=done.record))
            skewed += self._notice(alert, done, now)
            outcome.results[i] = _stored(alert, done.record)
        # One event per incident the batch touched, with its state after the batch.
        events.extend(IncidentChanged(incident=f[0], change=f[1]) for f in changed.values())
        if skewed:
            self.storage.counters.bump("clock_skewed", skewed)

    def _notice(self, alert: Alert, done, now: datetime) -> int:
        """Log what a stored alert tells about its node; 1 if its clock is off by a day."""
        if done.seq_gap:
            log.warning(
                "%d alert(s) of %s/%s lost before seq %d",
                done.seq_gap, alert.site, alert.node, alert.seq,
            )  # fmt: skip
        if done.rejected_snapshot_topic:
            log.warning("dropped a snapshot for %s sent by another node", alert.id)
        if abs(alert.ts - now) <= CLOCK_SKEW_LIMIT:
            return 0
        # Kept (it may be real), counted, and listed by when it came, not when it says.
        log.warning(
            "alert %s from %s/%s says %s, received %s: node clock off",
            alert.id, alert.site, alert.node, alert.ts.isoformat(), now.isoformat(),
        )  # fmt: skip
        return 1

    def _store_one(self, item: Decoded, events: list[HubEvent], now: datetime) -> IngestResult:
        """One message inside the batch, in its own savepoint: if the hub's code raises on
        it, only it is rolled back and it is quarantined as ``internal_error``."""
        if item.refused is not None:
            self._quarantine(item.topic, item.refused.reason, item.refused.detail, item.payload)
            site, node, alert_id = item.refused_alert or (None, None, None)
            return IngestResult(
                "quarantined", item.refused.reason, alert_id=alert_id, site=site, node=node
            )
        mine: list[HubEvent] = []
        try:
            with self.storage.transaction():
                result = self._apply(item, mine, now)
        except Exception as exc:
            if is_storage_failure(exc):
                raise
            log.exception("failed to ingest a message on %r", item.topic[:200])
            detail = f"{type(exc).__name__}: {exc}"
            self._quarantine(item.topic, "internal_error", detail, item.payload)
            return IngestResult("quarantined", "internal_error")
        events.extend(mine)
        return result

    def _apply(self, item: Decoded, events: list[HubEvent], now: datetime) -> IngestResult:
        parsed, message = item.parsed, item.message
        assert parsed is not None
        if parsed.channel is Channel.SNAPSHOT:
            return self._snapshot(parsed, item.payload, now, events)
        if isinstance(message, Alert) and message.kind in self._diverted:
            return self._divert(item.topic, item.payload, message, now)
        if isinstance(message, Alert):
            return self._alert(message, now, events)
        if isinstance(message, NodeStatus):
            if self.storage.nodes.record_status(message, now):
                log.info("node %s/%s is %s", message.site, message.node, message.state)
                node = self.storage.nodes.get(message.site, message.node)
                if node is not None:
                    events.append(NodeChanged(node=node))
            return IngestResult("status")
        if isinstance(message, Heartbeat):  # without a sink (tools, old tests): decided, not kept
            if self.heartbeats is not None:
                events.extend(self.heartbeats.record(message, now))
            return IngestResult("heartbeat")
        assert isinstance(message, NodeStats)
        self.storage.nodes.record_stats(message, now)
        return IngestResult("stats")

    def _alert(self, alert: Alert, now: datetime, events: list[HubEvent]) -> IngestResult:
        done = self.storage.alerts.insert(alert, now)
        if not done.stored or done.record is None:  # a second copy in the same batch
            stored = self.storage.alerts.get(alert.id)
            return _duplicate(alert, stored is None or stored.snapshot_ready)
        record = done.record
        filed = self.correlator.correlate(record) if self.correlator else None
        if filed is not None:
            incident, change = filed
            record = record.model_copy(update={"incident_id": incident.id})
        if alert.kind not in self._quiet:
            events.append(AlertStored(alert=record))
        if filed is not None:
            events.append(IncidentChanged(incident=incident, change=change))
        if self._notice(alert, done, now):
            self.storage.counters.bump("clock_skewed")
        return _stored(alert, record)

    def _divert(self, topic: str, payload: bytes, alert: Alert, now: datetime) -> IngestResult:
        """An alert the sink keeps instead of the alerts table (a plate read for the log)."""
        assert self.sink is not None
        ids = dict(alert_id=alert.id, site=alert.site, node=alert.node)
        try:
            self.sink.take(alert, now)
        except ProtocolError as exc:
            self._quarantine(topic, exc.reason, exc.detail, payload)
            return IngestResult("quarantined", exc.reason, **ids)
        return IngestResult("stored", **ids)

    def _snapshot(
        self, parsed: Topic, jpeg: bytes, now: datetime, events: list[HubEvent]
    ) -> IngestResult:
        alert_id = parsed.alert_id or ""
        try:
            outcome = self.storage.alerts.save_snapshot(
                parsed.site, parsed.node, alert_id, jpeg, now
            )
        except ProtocolError as exc:  # a snapshot for another node's alert
            self._quarantine(str(parsed), exc.reason, exc.detail, jpeg)
            return IngestResult("quarantined", exc.reason)
        if outcome == "linked":
            events.append(SnapshotArrived(alert_id=alert_id))
            # The alert was waiting for this JPEG: now both are here, receipt the alert.
            return IngestResult(
                "snapshot_linked", alert_id=alert_id, site=parsed.site, node=parsed.node
            )
        if outcome == "duplicate" and self.storage.alerts.get(alert_id) is not None:
            # A re-sent JPEG of a complete alert: its node missed the receipt.
            return IngestResult(
                "snapshot_duplicate", alert_id=alert_id, site=parsed.site, node=parsed.node
            )
        name = f"snapshot_{outcome}" if outcome != "duplicate" else "duplicate"
        return IngestResult(name, alert_id=alert_id)

    def _quarantine(self, topic: str, reason: str, detail: str, payload: bytes) -> None:
        log.warning(
            "quarantined %s (%d bytes) on %r: %s", reason, len(payload), topic[:200], detail[:200]
        )
        self.storage.quarantine.add(self.clock(), topic, reason, detail, payload)

    def _log(self, results: list[IngestResult], decoded: list[Decoded]) -> None:
        """One INFO line per batch, not per alert: at thousands of alerts a second a line
        each cost the writer about a tenth of its time and flooded the journal. The first
        few alerts are named in full; every alert has its own DEBUG line."""
        stored = []
        for result, item in zip(results, decoded, strict=True):
            alert = item.message
            if not isinstance(alert, Alert) or result.outcome not in ("stored", "duplicate"):
                continue
            if result.outcome == "duplicate":
                log.debug("duplicate alert %s from %s ignored", alert.id, alert.node)
                continue
            stored.append(alert)
            log.debug(
                "alert %s from %s/%s seq=%d %s/%s area=%s zone=%s",
                alert.id, alert.site, alert.node, alert.seq, alert.kind, alert.severity,
                alert.area, alert.zone or "-",
            )  # fmt: skip
        if stored:
            named = "; ".join(
                f"{a.id} {a.kind}/{a.severity} in {a.area} from {a.node} seq={a.seq}"
                for a in stored[:LOGGED_ALERTS]
            )
            more = len(stored) - LOGGED_ALERTS
            log.info(
                "stored %d alert(s): %s%s",
                len(stored),
                named,
                f" and {more} more" if more > 0 else "",
            )


def _duplicate(alert: Alert, snapshot_ready: bool) -> IngestResult:
    """A copy of a stored alert. Receipted again (its node missed the first receipt),
    unless the JPEG it announced has still not come."""
    return IngestResult(
        "duplicate", alert_id=alert.id, site=alert.site, node=alert.node,
        awaiting_snapshot=alert.has_snapshot and not snapshot_ready,
    )  # fmt: skip


def _stored(alert: Alert, record: AlertRecord) -> IngestResult:
    return IngestResult(
        "stored", alert_id=alert.id, site=alert.site, node=alert.node,
        awaiting_snapshot=alert.has_snapshot and not record.snapshot_ready,
    )  # fmt: skip
