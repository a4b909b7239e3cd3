"""Monotonic counters (alerts, duplicates, quarantined.<reason> ...); they survive purges."""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

from hub.storage.sqlite.database import SqliteDatabase

migrations = Migrations("villagewatch-hub-counters")


@migrations()
def m001_counters(db) -> None:
    db.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL DEFAULT 0)")


class SqliteCounters:
    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        database.migrate(migrations)

    def bump(self, name: str, by: int = 1) -> None:
        if by:
            with self.database.write() as db:
                db.execute(
                    "INSERT INTO counters (name, value) VALUES (?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                    [name[:80], by],
                )

    def all(self) -> dict[str, int]:
        return {
            r["name"]: r["value"] for r in self.database.all("SELECT name, value FROM counters")
        }
