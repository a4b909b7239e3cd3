"""The bridge's outbox: every alert is on disk before it is sent, until the hub receipts it.

The same contract as a camera gateway's outbox (protocol v2): an alert row is deleted only
when a :class:`contract.protocol.Receipt` from the hub names its id, and is sent again after
a time-out that doubles on each try. One SQLite file (WAL, ``synchronous=FULL``: a
committed row survives a power cut) serves every bridged device; each row names its node.
Each node's ``Alert.seq`` is kept here too, raised in the same transaction as the alert, so
it keeps increasing across restarts and a gap at the hub really means a loss. And each
device's last state (``open`` since when) is kept, so a bridge restart does not turn a door
that is still open into a new alarm.

Written here rather than reusing ``edge/outbox.py``: the bridge may import only ``contract``
(the parts never import each other), and it needs far less (no snapshots, no byte budget).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from contract.protocol import Alert, encode

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id       TEXT PRIMARY KEY,
    node     TEXT NOT NULL,
    payload  BLOB NOT NULL,
    sent_at  REAL,              -- NULL: not sent on the current connection
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_node ON alerts (node);
CREATE TABLE IF NOT EXISTS counters (node TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS states (node TEXT PRIMARY KEY, state TEXT NOT NULL, since TEXT NOT NULL);
"""


class BridgeOutbox:
    """A thread-safe persistent queue of alerts for many nodes, released by receipts."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, node: str, make: Callable[[int], Alert]) -> Alert:
        """Store a new alert of ``node``: ``make(seq)`` builds it with the node's next
        sequence number, counted in the same transaction as the row."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT seq FROM counters WHERE node=?", (node,)).fetchone()
                seq = row[0] + 1 if row else 0
                alert = make(seq)
                self._db.execute(
                    "INSERT OR REPLACE INTO counters (node, seq) VALUES (?, ?)", (node, seq)
                )
                self._db.execute(
                    "INSERT INTO alerts (id, node, payload) VALUES (?, ?, ?)",
                    (alert.id, node, encode(alert)),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return alert

    def due(
        self, node: str, now: float, timeout_s: float, max_timeout_s: float = 300.0
    ) -> list[tuple[str, bytes]]:
        """``(id, payload)`` of ``node``'s alerts to send now: never sent on this connection,
        or sent and not receipted within the time-out (doubled per attempt)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, payload, sent_at, attempts FROM alerts WHERE node=? ORDER BY rowid",
                (node,),
            ).fetchall()
        out = []
        for alert_id, payload, sent_at, attempts in rows:
            wait = min(timeout_s * 2 ** max(attempts - 1, 0), max_timeout_s)
            if sent_at is None or now - sent_at >= wait:
                out.append((alert_id, bytes(payload)))
        return out

    def mark_sent(self, ids: list[str], now: float) -> None:
        with self._lock:
            self._db.executemany(
                "UPDATE alerts SET sent_at=?, attempts=attempts+1 WHERE id=?",
                [(now, i) for i in ids],
            )

    def unsent(self, node: str) -> None:
        """The connection of ``node`` dropped: send its waiting alerts again at reconnect."""
        with self._lock:
            self._db.execute("UPDATE alerts SET sent_at=NULL WHERE node=?", (node,))

    def release(self, node: str, ids: list[str]) -> int:
        """Forget the alerts of ``node`` a receipt names; returns how many were waiting."""
        with self._lock:
            cur = self._db.executemany(
                "DELETE FROM alerts WHERE node=? AND id=?", [(node, i) for i in ids]
            )
            return cur.rowcount

    def pending(self, node: str | None = None) -> int:
        """Alerts not yet receipted (of one node, or of all)."""
        with self._lock:
            if node is None:
                return self._db.execute("SELECT count(*) FROM alerts").fetchone()[0]
            sql = "SELECT count(*) FROM alerts WHERE node=?"
            return self._db.execute(sql, (node,)).fetchone()[0]

    def save_state(self, node: str, state: str, since: datetime) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO states (node, state, since) VALUES (?, ?, ?)",
                (node, state, since.isoformat()),
            )

    def states(self) -> dict[str, tuple[str, datetime]]:
        with self._lock:
            rows = self._db.execute("SELECT node, state, since FROM states").fetchall()
        return {n: (s, datetime.fromisoformat(t)) for n, s, t in rows}
