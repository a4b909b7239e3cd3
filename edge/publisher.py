"""``Publisher``: drains the outbox to the broker, and forgets a row only once the hub has it.

It owns the gateway's one :class:`contract.mqtt.MqttLink`, which retains ``online`` status on
every connect, leaves ``offline`` as the last will, and subscribes (again at every connect) to
the node's receipt topic. Delivery is end to end (protocol v2): the broker's PUBACK only says
the broker took a message, and a broker can still lose it (a crash before it saved, a queue
that overflowed). So the loop is:

1. publish pending rows, oldest first: at most ``max_inflight`` waiting for a PUBACK and at
   most ``window`` waiting for a receipt;
2. a **receipt** from the hub names alert ids it has committed: delete those alert rows, and
   their snapshot rows once the broker has PUBACKed them (a snapshot whose alert is already
   receipted goes on its PUBACK). Rows of no alert go on their PUBACK alone;
3. a row not released ``receipt_timeout_s`` after it was sent is sent again, each time
   waiting twice as long (up to ``max_receipt_timeout_s``): a hub that is down is not flooded.
   The time-out also follows how long receipts really take (TCP's rule: smoothed latency plus
   four times its deviation, measured on alerts sent once only), so a hub that is slowly
   working through a backlog is not buried under copies of what it is about to store;
4. when the connection drops, everything unreleased is sent again right after the reconnect
   (the broker may have restarted and lost it). The hub drops duplicates by alert id and
   receipts them again, so re-sending is always safe.

All bookkeeping happens on the publisher's own thread. paho calls ``on_ack`` and
``on_message`` from its network thread *while holding its own lock*, possibly before
``publish()`` has even returned the mid, so those callbacks only queue and wake us — they
never touch SQLite or our maps. Time comes from ``clock`` (seconds, monotonic), so tests move
it instead of sleeping.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from contract.connection import NodeConnection
from contract.mqtt import LinkSettings, MqttLink
from contract.protocol import (
    NodeStats,
    ProtocolError,
    decode_receipt,
    encode,
    receipt_topic,
    stats_topic,
)
from edge.outbox import ALERT, SNAPSHOT, Outbox, OutboxRow

log = logging.getLogger(__name__)

SOFTWARE = "villagewatch-edge/0.2"


@dataclass
class _Sent:
    """A published row not yet released: when to send it again, and how often it was sent."""

    deadline: float
    attempts: int
    kind: str | None
    alert_id: str | None
    first_sent: float


class Publisher:
    """A worker thread between an :class:`Outbox` and the broker. ``start()`` / ``stop()``."""

    def __init__(
        self,
        connection: NodeConnection,
        outbox: Outbox,
        *,
        stats: Callable[[], NodeStats] | None = None,
        stats_interval_s: float = 30.0,
        max_inflight: int = 100,
        window: int = 1000,
        receipt_timeout_s: float = 30.0,
        max_receipt_timeout_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        client_id: str | None = None,
        commands: dict[str, Callable[[bytes], None]] | None = None,
    ) -> None:
        """``commands``: more topics to read on the gateway's one link (a broker lets a node
        hold one connection), each with its handler, called on paho's thread: it must only
        record and return (the live view's leases, :mod:`edge.live`)."""
        self.connection = connection
        self._commands = dict(commands or {})
        self.outbox = outbox
        self.max_inflight = max_inflight
        self.window = window
        self.receipt_timeout_s = receipt_timeout_s
        self.max_receipt_timeout_s = max_receipt_timeout_s
        self.stats_interval_s = stats_interval_s
        self.clock = clock
        self._stats = stats
        c = connection
        self._receipt_topic = receipt_topic(c.topic_root, c.site, c.node)
        self.link = MqttLink(
            LinkSettings.for_node(
                c,
                client_id=client_id,
                software=SOFTWARE,
                # A clean session, subscribed afresh at every connect: receipts published
                # while we were away are lost, and the time-out re-send earns new ones.
                subscriptions=[(self._receipt_topic, 1), *((t, 1) for t in self._commands)],
            ),
            on_message=self._on_message,
            on_ack=self._on_ack,
            on_connection_change=self._on_connection_change,
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        # Filled by paho's thread, consumed by ours.
        self._acks: deque[int] = deque()
        self._receipts: deque[list[str]] = deque()
        self._disconnected = threading.Event()
        # The publisher thread's own state.
        self._inflight: dict[int, int] = {}  # mid -> row id, waiting for the PUBACK
        self._unreleased: dict[int, _Sent] = {}  # row id -> sent, not yet released
        self._acked_snapshots: set[int] = set()  # snapshot rows the broker took
        self._sent_upto = 0  # rows up to this id have been published at least once
        self._next_due = math.inf  # no unreleased row is due before this (may be early)
        # Receipt latency, smoothed, and its mean deviation (None: no sample yet).
        self._latency: float | None = None
        self._deviation = 0.0
        self._thread: threading.Thread | None = None
        self._next_stats = 0.0
        #: Figures since start (for stats and tests): PUBACKs, alerts released by a receipt,
        #: rows sent again after a time-out or a reconnect.
        self.acked = 0
        self.receipted = 0
        self.resent = 0

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._next_stats = self.clock() + min(2.0, self.stats_interval_s)
        self.link.start()
        self._thread = threading.Thread(target=self._run, name="vw-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop draining and disconnect, publishing ``offline`` (a clean exit has no will).
        Unreleased rows stay in the outbox and are sent after the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
        self.link.stop()

    def kick(self) -> None:
        """Something was put in the outbox, or the clock moved: look again now."""
        self._wake.set()

    @property
    def connected(self) -> bool:
        return self.link.connected.is_set()

    @property
    def unreleased(self) -> int:
        """Rows sent and still waiting for their receipt or PUBACK."""
        return len(self._unreleased)

    # --- paho callbacks (network thread): only queue and wake ------------------------------

    def _on_ack(self, mid: int) -> None:
        self._acks.append(mid)
        self._wake.set()

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic in self._commands:
            self._commands[topic](payload)
            return
        if topic != self._receipt_topic:
            return
        c = self.connection
        try:
            receipt = decode_receipt(payload, c.site, c.node)
        except ProtocolError as exc:  # never trust it: a bad receipt releases nothing
            log.warning("ignored a bad receipt on %s: %s", topic, exc)
            return
        self._receipts.append(receipt.ids)
        self._wake.set()

    def _on_connection_change(self, connected: bool) -> None:
        if not connected:
            self._disconnected.set()
        self._wake.set()

    # --- the loop -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self.tick()
            except Exception:  # a bad row or a closed DB must not kill delivery forever
                log.exception("publisher loop error")
                self._stop.wait(1.0)

    def tick(self) -> None:
        """One round: settle PUBACKs and receipts, then send what is new or overdue."""
        self._settle_acks()
        self._settle_receipts()
        if self._disconnected.is_set():
            self._disconnected.clear()
            self._forget_connection()
        if self.connected:
            self._send()
            if self._stats and self.clock() >= self._next_stats:
                self._next_stats = self.clock() + self.stats_interval_s
                self._publish_stats()

    def _settle_acks(self) -> None:
        done: list[int] = []
        while self._acks:
            row_id = self._inflight.pop(self._acks.popleft(), None)
            sent = self._unreleased.get(row_id) if row_id is not None else None
            if sent is None:
                continue  # released by a receipt before its PUBACK came
            self.acked += 1
            if sent.kind is None:
                done.append(row_id)
            elif sent.kind == SNAPSHOT:
                if self.outbox.has_alert(sent.alert_id or ""):
                    self._acked_snapshots.add(row_id)  # its alert's receipt releases it
                else:
                    done.append(row_id)  # its alert was receipted already
        self._release(done)

    def _settle_receipts(self) -> None:
        ids: list[str] = []
        while self._receipts:
            ids += self._receipts.popleft()
        if not ids:
            return
        done = []
        now = self.clock()
        for row_id, kind in self.outbox.of_alerts(ids):
            if kind == ALERT:
                done.append(row_id)
                self.receipted += 1
                sent = self._unreleased.get(row_id)
                if sent is not None and sent.attempts == 1:  # a copy's receipt says nothing
                    self._observe(now - sent.first_sent)
            elif kind == SNAPSHOT and row_id in self._acked_snapshots:
                done.append(row_id)
        self._release(done)

    def _release(self, row_ids: list[int]) -> None:
        if not row_ids:
            return
        self.outbox.delete_many(row_ids)
        for row_id in row_ids:
            self._unreleased.pop(row_id, None)
            self._acked_snapshots.discard(row_id)

    def _forget_connection(self) -> None:
        """Lost the broker: no PUBACK will come for what was in flight, and the broker may
        have lost what it had taken. Everything unreleased is due again."""
        if self._unreleased:
            log.info("connection lost: %d unreleased rows will be re-sent", len(self._unreleased))
        self._inflight.clear()
        now = self._next_due = self.clock()
        for sent in self._unreleased.values():
            sent.deadline = now

    def _send(self) -> None:
        now = self.clock()
        free = self.max_inflight - len(self._inflight)
        # Look through the whole window only when something may be due: with a full window
        # that look is most of a round's work, and rounds come with every PUBACK.
        if free > 0 and now >= self._next_due:
            in_flight = set(self._inflight.values())
            due = [
                r for r, s in self._unreleased.items() if s.deadline <= now and r not in in_flight
            ]
            batch = sorted(due)[:free]
            rows = self.outbox.rows(batch)
            gone = set(batch) - {r.id for r in rows}  # released meanwhile
            for row_id in gone:
                self._unreleased.pop(row_id, None)
            free -= self._publish(rows, now, again=True)
            self._next_due = min((s.deadline for s in self._unreleased.values()), default=math.inf)
        room = min(free, self.window - len(self._unreleased))
        if room > 0:
            rows = self.outbox.after(self._sent_upto, room)
            self._publish(rows, now, again=False)
        if self._acks or self._receipts:
            self._wake.set()  # settle what came in meanwhile before sleeping

    def _publish(self, rows: list[OutboxRow], now: float, again: bool) -> int:
        """Publish ``rows``; returns how many now wait for a PUBACK."""
        waiting = 0
        for row in rows:
            mid = self.link.publish(row.topic, row.payload, qos=row.qos)
            if mid is None:
                break  # disconnected meanwhile; the rows stay in the outbox
            self._sent_upto = max(self._sent_upto, row.id)
            if row.qos == 0:
                self.outbox.delete(row.id)  # no acknowledgement will ever come
                continue
            sent = self._unreleased.get(row.id)
            if sent is None:
                sent = self._unreleased[row.id] = _Sent(now, 0, row.kind, row.alert_id, now)
            else:
                self.resent += 1
            sent.deadline = now + self._timeout(sent.attempts)
            self._next_due = min(self._next_due, sent.deadline)
            sent.attempts += 1
            self._inflight[mid] = row.id
            waiting += 1
        if again and waiting:
            log.info("re-sent %d rows not yet receipted", waiting)
        return waiting

    def _timeout(self, attempts: int) -> float:
        """Receipt time-out after ``attempts`` earlier sends: 30 s, 60 s, … up to the cap;
        longer from the start when receipts have been taking long."""
        base = self.receipt_timeout_s
        if self._latency is not None:
            base = max(base, self._latency + 4 * self._deviation)
        return min(base * 2 ** min(attempts, 16), self.max_receipt_timeout_s)

    @property
    def receipt_timeout(self) -> float:
        """The time-out a row sent now would get."""
        return self._timeout(0)

    def _observe(self, latency: float) -> None:
        """One receipt latency (Jacobson/Karels, as TCP estimates its round trip)."""
        if self._latency is None:
            self._latency, self._deviation = latency, latency / 2
        else:
            self._deviation += (abs(self._latency - latency) - self._deviation) / 4
            self._latency += (latency - self._latency) / 8

    def _publish_stats(self) -> None:
        assert self._stats is not None
        c = self.connection
        self.link.publish(stats_topic(c.topic_root, c.site, c.node), encode(self._stats()), qos=0)
