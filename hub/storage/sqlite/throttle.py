"""Failed-login counters in SQLite, so the login throttle survives a hub restart.

A restart must not hand an attacker a fresh set of free guesses. The throttle
(:class:`hub.api.auth.LoginThrottle`) keeps its counters in memory under its lock, which is
what makes its check race-free, and writes every change through to this table; a new hub
process loads them back. ``last`` is wall-clock seconds (epoch), so waits carry over.
"""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

from hub.storage.repositories import Storage
from hub.storage.sqlite.database import SqliteDatabase

migrations = Migrations("villagewatch-hub-login-throttle")


@migrations()
def m001_login_failures(db) -> None:
    db.execute(
        """CREATE TABLE login_failures (
            key TEXT PRIMARY KEY,
            count INTEGER NOT NULL,
            last REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX login_failures_last ON login_failures (last)")


class SqliteLoginFailures:
    """``key -> (failures, time of the last one)`` for the login throttle."""

    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        database.migrate(migrations)

    def load(self, limit: int) -> list[tuple[str, int, float]]:
        """The ``limit`` most recent keys, oldest first (the order the throttle evicts in)."""
        rows = self.database.all(
            "SELECT key, count, last FROM login_failures ORDER BY last DESC LIMIT ?", [limit]
        )
        return [(r["key"], r["count"], r["last"]) for r in reversed(rows)]

    def save(self, key: str, count: int, last: float) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO login_failures (key, count, last) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET count = excluded.count, last = excluded.last",
                [key, count, last],
            )

    def delete(self, key: str) -> None:
        with self.database.write() as db:
            db.execute("DELETE FROM login_failures WHERE key = ?", [key])


def login_failures_for(storage: Storage) -> SqliteLoginFailures:
    """The counters in the same SQLite file as ``storage`` (from :func:`open_sqlite_storage`),
    on its connection: one file to back up, one writer lock."""
    return SqliteLoginFailures(storage.alerts.database)  # type: ignore[attr-defined]
