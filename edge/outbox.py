"""``Outbox``: every alert is written to disk before anyone tries to send it.

A gateway on a village pole loses power and uplink; an alert raised during an outage must
still reach the hub afterwards. So the pipeline never publishes directly: it puts messages in
this SQLite outbox (one transaction, WAL, ``synchronous=FULL`` so a committed row survives a
power cut), and the publisher deletes a row only when the broker has acknowledged it (PUBACK).
Something can therefore be sent twice, never lost: the hub drops duplicates by alert id.

The outbox also keeps the node's alert sequence counter, in the same transaction as the alert
itself, so ``Alert.seq`` keeps increasing across restarts and a gap really means a loss.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    topic   TEXT    NOT NULL,
    payload BLOB    NOT NULL,
    qos     INTEGER NOT NULL DEFAULT 1,
    created REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

#: A message to queue: (topic, payload, qos).
Message = tuple[str, bytes, int]


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes
    qos: int
    created: float


class Outbox:
    """A thread-safe persistent queue of MQTT messages. One file per gateway."""

    def __init__(self, path: Path, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        #: Above this many payload bytes the oldest *snapshots* are dropped (alerts are kept):
        #: a week-long uplink outage must not fill the gateway's disk.
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writing --------------------------------------------------------------------------

    def put(self, topic: str, payload: bytes, qos: int = 1) -> int:
        """Queue one message durably; returns its row id."""
        return self.put_many([(topic, payload, qos)])[0]

    def put_many(self, messages: Sequence[Message]) -> list[int]:
        """Queue several messages in one transaction (all or none); returns their row ids."""
        return self.put_numbered(lambda _seq: messages, counter=None)[1]

    def put_numbered(
        self, build: Callable[[int], Sequence[Message]], counter: str | None = "alert_seq"
    ) -> tuple[int, list[int]]:
        """Take the next number of ``counter`` and queue ``build(number)`` atomically.

        Returns ``(number, row ids)``. If ``build`` raises, neither the number nor any message
        is used. Numbers start at 0 and never repeat, across restarts.
        """
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                number = -1
                if counter is not None:
                    row = db.execute(
                        "SELECT value FROM counters WHERE name = ?", (counter,)
                    ).fetchone()
                    number = 0 if row is None else row[0] + 1
                    db.execute(
                        "INSERT INTO counters(name, value) VALUES (?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                        (counter, number),
                    )
                now = time.time()
                ids = []
                for topic, payload, qos in build(number):
                    cur = db.execute(
                        "INSERT INTO outbox(topic, payload, qos, created) VALUES (?, ?, ?, ?)",
                        (topic, bytes(payload), int(qos), now),
                    )
                    ids.append(int(cur.lastrowid))
                self._trim()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return number, ids

    def _trim(self) -> None:
        total = self._db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()[
            0
        ]
        while total > self.max_bytes:
            row = self._db.execute(
                "SELECT id, LENGTH(payload) FROM outbox WHERE topic LIKE '%/snapshot/%' "
                "ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row[0],))
            total -= row[1]

    # --- reading and acknowledging --------------------------------------------------------

    def pending(
        self, limit: int = 100, exclude: set[int] | frozenset[int] = frozenset()
    ) -> list[OutboxRow]:
        """Oldest rows first, skipping ids in ``exclude`` (already in flight)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, created FROM outbox ORDER BY id LIMIT ?",
                (limit + len(exclude),),
            ).fetchall()
        out = [OutboxRow(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows if r[0] not in exclude]
        return out[:limit]

    def delete(self, row_id: int) -> None:
        """Forget a row: call only once the broker acknowledged it."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    def pending_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def counter(self, name: str = "alert_seq") -> int | None:
        """The last number handed out for ``name`` (None if never used)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])
