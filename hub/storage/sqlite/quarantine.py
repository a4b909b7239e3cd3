"""Refused messages: topic, reason, detail, size and the first KiB, never the whole payload."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils.migrations import Migrations

from hub.domain.users import QuarantinedMessage
from hub.storage.sqlite.counters import SqliteCounters
from hub.storage.sqlite.database import SqliteDatabase, iso

#: Bytes of a refused payload kept for diagnosis (never the whole, possibly 10 MB, thing).
EXCERPT_BYTES = 1024

migrations = Migrations("villagewatch-hub-quarantine")


@migrations()
def m001_quarantine(db) -> None:
    db.execute(
        """CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            received_at TEXT NOT NULL,
            topic TEXT NOT NULL,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL,
            size INTEGER NOT NULL,
            excerpt BLOB NOT NULL
        )"""
    )
    db.execute("CREATE INDEX quarantine_received ON quarantine (received_at)")


class SqliteQuarantine:
    def __init__(self, database: SqliteDatabase, counters: SqliteCounters) -> None:
        self.database = database
        self.counters = counters
        database.migrate(migrations)

    def add(self, at: datetime, topic: str, reason: str, detail: str, payload: bytes) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO quarantine (received_at, topic, reason, detail, size, excerpt)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [iso(at), topic[:256], reason[:64], detail[:500], len(payload),
                 bytes(payload[:EXCERPT_BYTES])],
            )  # fmt: skip
            self.counters.bump(f"quarantined.{reason[:64]}")

    def entries(self, limit: int = 100) -> list[QuarantinedMessage]:
        rows = self.database.all("SELECT * FROM quarantine ORDER BY id DESC LIMIT ?", [limit])
        return [
            QuarantinedMessage(
                **{k: r[k] for k in ("id", "received_at", "topic", "reason", "detail", "size")},
                excerpt=bytes(r["excerpt"]).decode("utf-8", "backslashreplace"),
            )
            for r in rows
        ]

    def purge(self, before: datetime) -> dict[str, int]:
        with self.database.write() as db:
            n = db.execute("DELETE FROM quarantine WHERE received_at < ?", [iso(before)]).rowcount
        return {"quarantine": n}
