"""``Outbox``: every alert is written to disk before anyone tries to send it.

A gateway on a village pole loses power and uplink; an alert raised during an outage must
still reach the hub afterwards. So the pipeline never publishes directly: it puts messages in
this SQLite outbox (one transaction, WAL, ``synchronous=FULL`` so a committed row survives a
power cut), and the publisher deletes a row only once it is safe (protocol v2):

- an **alert** row once the hub's *receipt* names its id — the hub has committed it;
- a **snapshot** row once its alert is receipted *and* the broker acknowledged the JPEG;
- any other QoS 1 row on the broker's PUBACK.

Something can therefore be sent twice, never lost: the hub drops duplicates by alert id. Each
row remembers which alert it belongs to (``alert_id``, indexed), so a receipt of a thousand
ids is one indexed delete.

The outbox also keeps the node's alert sequence counter, in the same transaction as the alert
itself, so ``Alert.seq`` keeps increasing across restarts and a gap really means a loss.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
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
_COLUMNS = "id, topic, payload, qos, created, kind, alert_id"

#: A message to queue: (topic, payload, qos).
Message = tuple[str, bytes, int]

ALERT, SNAPSHOT = "alert", "snapshot"

#: What a snapshot dropped for space becomes: an 8x8 grey JPEG (331 bytes). The alert promised
#: a JPEG (``has_snapshot``) and the hub receipts it only once it has one, so the node still
#: sends *a* JPEG rather than leaving the alert unreceipted for ever.
PLACEHOLDER_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAFA3PEY8MlBGQUZaVVBfeMiCeG5uePWvuZHI//////////////////////"
    "//////////////////////////////wAALCAAIAAgBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL"
    "/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJi"
    "coKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ip"
    "qrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/ACv/2Q=="
)


def delivery_key(topic: str, payload: bytes) -> tuple[str | None, str | None]:
    """``(kind, alert_id)`` of a message: which receipt will release it.

    ``{root}/{site}/{node}/alert`` is an alert (its id is in the JSON),
    ``…/snapshot/{id}`` a snapshot; anything else (None, None) waits only for PUBACK.
    """
    parts = topic.split("/")
    if len(parts) == 5 and parts[3] == SNAPSHOT:
        return SNAPSHOT, parts[4]
    if len(parts) == 4 and parts[3] == ALERT:
        try:
            alert_id = json.loads(payload).get("id")
        except (ValueError, AttributeError):
            alert_id = None
        if isinstance(alert_id, str):
            return ALERT, alert_id
    return None, None


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes
    qos: int
    created: float
    #: ``alert``, ``snapshot`` or None (released by PUBACK alone).
    kind: str | None = None
    alert_id: str | None = None


def _row(r: tuple) -> OutboxRow:
    return OutboxRow(r[0], r[1], bytes(r[2]), r[3], r[4], r[5], r[6])


class Outbox:
    """A thread-safe persistent queue of MQTT messages. One file per gateway."""

    def __init__(self, path: Path, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        #: Above this many payload bytes the oldest *snapshots* shrink to a placeholder
        #: (alerts are kept): a week-long uplink outage must not fill the gateway's disk.
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Outboxes written by v1 gateways lack ``kind``/``alert_id``: add and fill them."""
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(outbox)")}
        if "alert_id" not in columns:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ALTER TABLE outbox ADD COLUMN kind TEXT")
            self._db.execute("ALTER TABLE outbox ADD COLUMN alert_id TEXT")
            for row_id, topic, payload in self._db.execute(
                "SELECT id, topic, payload FROM outbox"
            ).fetchall():
                kind, alert_id = delivery_key(topic, bytes(payload))
                self._db.execute(
                    "UPDATE outbox SET kind = ?, alert_id = ? WHERE id = ?",
                    (kind, alert_id, row_id),
                )
            self._db.execute("COMMIT")
        self._db.execute("CREATE INDEX IF NOT EXISTS outbox_alert ON outbox(alert_id)")

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
                    kind, alert_id = delivery_key(topic, payload)
                    cur = db.execute(
                        "INSERT INTO outbox(topic, payload, qos, created, kind, alert_id) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (topic, bytes(payload), int(qos), now, kind, alert_id),
                    )
                    ids.append(int(cur.lastrowid))
                self._trim()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return number, ids

    def _trim(self) -> None:
        """Shrink the oldest snapshots to :data:`PLACEHOLDER_JPEG` until under ``max_bytes``."""
        total = self._db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()[
            0
        ]
        while total > self.max_bytes:
            row = self._db.execute(
                "SELECT id, LENGTH(payload) FROM outbox WHERE kind = ? AND LENGTH(payload) > ? "
                "ORDER BY id LIMIT 1",
                (SNAPSHOT, len(PLACEHOLDER_JPEG)),
            ).fetchone()
            if row is None:
                return
            self._db.execute(
                "UPDATE outbox SET payload = ? WHERE id = ?", (PLACEHOLDER_JPEG, row[0])
            )
            total -= row[1] - len(PLACEHOLDER_JPEG)

    # --- reading --------------------------------------------------------------------------

    def pending(
        self, limit: int = 100, exclude: set[int] | frozenset[int] = frozenset()
    ) -> list[OutboxRow]:
        """Oldest rows first, skipping ids in ``exclude`` (already in flight)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM outbox ORDER BY id LIMIT ?",
                (limit + len(exclude),),
            ).fetchall()
        return [_row(r) for r in rows if r[0] not in exclude][:limit]

    def after(self, row_id: int, limit: int = 100) -> list[OutboxRow]:
        """Up to ``limit`` rows newer than ``row_id``, oldest first (the unsent tail)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (row_id, limit),
            ).fetchall()
        return [_row(r) for r in rows]

    def rows(self, row_ids: Iterable[int]) -> list[OutboxRow]:
        """The rows among ``row_ids`` still in the outbox, oldest first."""
        ids = list(row_ids)
        out: list[OutboxRow] = []
        with self._lock:
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                out += map(
                    _row,
                    self._db.execute(
                        f"SELECT {_COLUMNS} FROM outbox WHERE id IN ({marks})", chunk
                    ).fetchall(),
                )
        return sorted(out, key=lambda r: r.id)

    def of_alerts(self, alert_ids: Iterable[str]) -> list[tuple[int, str]]:
        """``(row id, kind)`` of every alert and snapshot row of these alerts."""
        ids = list(alert_ids)
        out: list[tuple[int, str]] = []
        with self._lock:
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                out += self._db.execute(
                    f"SELECT id, kind FROM outbox WHERE alert_id IN ({marks})", chunk
                ).fetchall()
        return out

    def has_alert(self, alert_id: str) -> bool:
        """Is the alert row of ``alert_id`` still waiting for its receipt?"""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM outbox WHERE alert_id = ? AND kind = ? LIMIT 1", (alert_id, ALERT)
            ).fetchone()
        return row is not None

    # --- forgetting -----------------------------------------------------------------------

    def delete(self, row_id: int) -> None:
        """Forget a row: call only once it is safe (see the module docstring)."""
        self.delete_many([row_id])

    def delete_many(self, row_ids: Iterable[int]) -> None:
        """Forget several rows in one transaction (one fsync, not one per row)."""
        ids = list(row_ids)
        if not ids:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for chunk in _chunks(ids):
                    marks = ",".join("?" * len(chunk))
                    self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", chunk)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # --- figures --------------------------------------------------------------------------

    def pending_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def counter(self, name: str = "alert_seq") -> int | None:
        """The last number handed out for ``name`` (None if never used)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])


def _chunks(items: list, size: int = 500) -> Iterable[list]:
    """SQLite limits the number of ``?`` in one statement: query in slices."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
