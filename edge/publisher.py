"""``Publisher``: drains the outbox to the broker, oldest first, whenever it is connected.

It owns the gateway's one :class:`contract.mqtt.MqttLink`, which retains ``online`` status on
every connect and leaves ``offline`` as the last will. The loop:

1. publish up to ``max_inflight`` pending rows and remember ``mid → row id``;
2. when the broker acknowledges a mid (PUBACK), delete that row;
3. when the connection drops, forget every in-flight mid: those rows are simply sent again
   after the reconnect (at least once; the hub drops duplicates by alert id).

All bookkeeping happens on the publisher's own thread. paho calls ``on_ack`` from its network
thread *while holding its own lock*, possibly before ``publish()`` has even returned the mid,
so the callback only queues the mid and wakes us — it never touches SQLite or our mid map.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from contract.connection import NodeConnection
from contract.mqtt import LinkSettings, MqttLink
from contract.protocol import (
    NodeStats,
    encode,
    stats_topic,
)
from edge.outbox import Outbox

log = logging.getLogger(__name__)

SOFTWARE = "villagewatch-edge/0.1"


class Publisher:
    """A worker thread between an :class:`Outbox` and the broker. ``start()`` / ``stop()``."""

    def __init__(
        self,
        connection: NodeConnection,
        outbox: Outbox,
        *,
        stats: Callable[[], NodeStats] | None = None,
        stats_interval_s: float = 30.0,
        max_inflight: int = 10,
    ) -> None:
        self.connection = connection
        self.outbox = outbox
        self.max_inflight = max_inflight
        self.stats_interval_s = stats_interval_s
        self._stats = stats
        self.link = MqttLink(
            LinkSettings.for_node(connection, software=SOFTWARE),
            on_ack=self._on_ack,
            on_connection_change=self._on_connection_change,
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._acks: deque[int] = deque()  # appended by paho's thread, consumed by ours
        self._disconnected = threading.Event()
        self._inflight: dict[int, int] = {}  # mid -> outbox row id (publisher thread only)
        self._thread: threading.Thread | None = None
        #: Messages the broker acknowledged since start (for stats and tests).
        self.acked = 0

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.link.start()
        self._thread = threading.Thread(target=self._run, name="vw-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop draining and disconnect, publishing ``offline`` (a clean exit has no will)."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
        self.link.stop()

    def kick(self) -> None:
        """Something was put in the outbox: send it now rather than at the next poll."""
        self._wake.set()

    @property
    def connected(self) -> bool:
        return self.link.connected.is_set()

    # --- paho callbacks (network thread): only queue and wake ------------------------------

    def _on_ack(self, mid: int) -> None:
        self._acks.append(mid)
        self._wake.set()

    def _on_connection_change(self, connected: bool) -> None:
        if not connected:
            self._disconnected.set()
        self._wake.set()

    # --- the loop -------------------------------------------------------------------------

    def _run(self) -> None:
        next_stats = time.monotonic() + min(2.0, self.stats_interval_s)
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self._settle_acks()
                if self._disconnected.is_set():
                    self._disconnected.clear()
                    if self._inflight:
                        log.info(
                            "connection lost: %d in-flight messages will be re-sent",
                            len(self._inflight),
                        )
                    self._inflight.clear()
                if self.connected:
                    self._send_pending()
                    if self._stats and time.monotonic() >= next_stats:
                        next_stats = time.monotonic() + self.stats_interval_s
                        self._publish_stats()
            except Exception:  # a bad row or a closed DB must not kill delivery forever
                log.exception("publisher loop error")
                self._stop.wait(1.0)

    def _settle_acks(self) -> None:
        while self._acks:
            mid = self._acks.popleft()
            row_id = self._inflight.pop(mid, None)
            if row_id is not None:
                self.outbox.delete(row_id)
                self.acked += 1

    def _send_pending(self) -> None:
        free = self.max_inflight - len(self._inflight)
        if free <= 0:
            return
        rows = self.outbox.pending(free, exclude=set(self._inflight.values()))
        for row in rows:
            mid = self.link.publish(row.topic, row.payload, qos=row.qos)
            if mid is None:
                return  # disconnected meanwhile; the rows stay in the outbox
            if row.qos == 0:
                self.outbox.delete(row.id)  # no acknowledgement will ever come
            else:
                self._inflight[mid] = row.id
        if rows:
            # Acks for what we just sent may already be queued: settle them before sleeping.
            self._wake.set()

    def _publish_stats(self) -> None:
        assert self._stats is not None
        c = self.connection
        self.link.publish(stats_topic(c.topic_root, c.site, c.node), encode(self._stats()), qos=0)
