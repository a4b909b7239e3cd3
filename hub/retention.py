"""Retention: what the hub received more than ``retention_days`` ago is deleted.

Ages are measured on the hub's clock (when it received a thing), never a node's. Snapshots
whose alert never came go after an hour; expired sessions go at once.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from hub.clock import Clock, system_clock
from hub.storage.repositories import Storage

log = logging.getLogger(__name__)

#: A snapshot whose alert has not arrived after this long is dropped.
PENDING_SNAPSHOT_MAX_AGE = timedelta(hours=1)


def purge(storage: Storage, retention_days: float, clock: Clock = system_clock) -> dict[str, int]:
    """Delete everything older than the retention period; returns how many of each."""
    now = clock()
    cutoff = now - timedelta(days=retention_days)
    counts: dict[str, int] = {}
    counts |= storage.alerts.purge(cutoff, now - PENDING_SNAPSHOT_MAX_AGE)
    counts |= storage.nodes.purge(cutoff)
    counts |= storage.quarantine.purge(cutoff)
    counts |= storage.audit.purge(cutoff)
    counts |= storage.notifications.purge(cutoff)
    counts |= storage.sessions.purge(now)
    if any(counts.values()):
        log.info("retention purge (%s days): %s", retention_days, counts)
    return counts


class RetentionWorker:
    """Purges once at start and then every ``interval_s`` seconds."""

    def __init__(self, storage: Storage, retention_days: int, interval_s: float = 3600.0) -> None:
        self.storage = storage
        self.retention_days = retention_days
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                purge(self.storage, self.retention_days)
            except Exception:  # a locked or full disk must not end retention for good
                log.exception("retention purge failed; retrying in %.0f s", self.interval_s)
            self._stop.wait(self.interval_s)
