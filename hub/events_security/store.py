"""Supervisor-made events and every event's sampled series, in the hub's SQLite file.

Events from the site file are not stored (the file is their source); events a supervisor
creates on the page are, whole, as the contract's JSON (new optional fields need no
migration). A sample is one row per ring per moment, with the feeds behind it as JSON: the
replay draws the heat of each camera ring from them. Samples live ``keep_days`` after their
event ends (:meth:`EventStore.purge`, run by the hub's retention job).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils.migrations import Migrations

from contract.event_settings import SiteEvent
from hub.events_security.aggregate import RingFigure
from hub.storage.repositories import Storage
from hub.storage.sqlite.database import SqliteDatabase, iso

migrations = Migrations("villagewatch-hub-event-security")


@migrations()
def m001_events(db) -> None:
    db.execute(
        """CREATE TABLE event_defs (
            id TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE event_samples (
            event_id TEXT NOT NULL,
            ring TEXT NOT NULL,
            at TEXT NOT NULL,
            occupancy INTEGER NOT NULL,
            upper INTEGER NOT NULL,
            per_m2 REAL,
            complete INTEGER NOT NULL,
            feeds TEXT NOT NULL,
            PRIMARY KEY (event_id, ring, at)
        )"""
    )
    db.execute("CREATE INDEX event_samples_at ON event_samples (event_id, at)")


@dataclass(frozen=True)
class Sample:
    """One ring at one stored moment."""

    ring: str
    at: datetime
    occupancy: int
    upper: int
    per_m2: float | None
    complete: bool
    #: :class:`FeedFigure` dumps as stored: a 6-hour replay reads ~10,000 of them, and
    #: building models of rows this hub wrote from validated figures cost 20x the query.
    feeds: list[dict]


class EventStore:
    """The event tables, on the hub's connection and writer lock (like the sensor tables)."""

    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        database.migrate(migrations)

    @classmethod
    def for_storage(cls, storage: Storage) -> EventStore:
        return cls(storage.alerts.database)  # type: ignore[attr-defined]

    def create(self, event: SiteEvent, actor: str, at: datetime) -> bool:
        """Store a supervisor's event; False if its id is taken."""
        with self.database.write() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO event_defs VALUES (?, ?, ?, ?)",
                [event.id, event.model_dump_json(), actor, iso(at)],
            )
            return cursor.rowcount == 1

    def delete(self, event_id: str) -> bool:
        """Forget a supervisor's event and its series."""
        with self.database.write() as db:
            gone = db.execute("DELETE FROM event_defs WHERE id = ?", [event_id]).rowcount
            db.execute("DELETE FROM event_samples WHERE event_id = ?", [event_id])
        return gone == 1

    def events(self) -> list[SiteEvent]:
        rows = self.database.all("SELECT definition FROM event_defs ORDER BY id")
        return [SiteEvent.model_validate_json(r["definition"]) for r in rows]

    def add(self, event_id: str, at: datetime, figures: list[RingFigure]) -> None:
        rows = [
            [
                event_id,
                f.ring,
                iso(at),
                f.occupancy,
                f.upper,
                f.per_m2,
                int(f.complete),
                json.dumps([feed.model_dump(mode="json") for feed in f.feeds]),
            ]
            for f in figures
        ]
        with self.database.write() as db:
            db.conn.executemany(
                "INSERT OR REPLACE INTO event_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def series(
        self, event_id: str, start: datetime, end: datetime, *, feeds: bool = True
    ) -> list[Sample]:
        """The samples in [start, end), oldest first."""
        what = "feeds" if feeds else "'[]' AS feeds"  # the trend needs no feeds
        rows = self.database.all(
            f"SELECT ring, at, occupancy, upper, per_m2, complete, {what} FROM event_samples"
            " WHERE event_id = ? AND at >= ? AND at < ? ORDER BY at, ring",
            [event_id, iso(start), iso(end)],
        )
        return [
            Sample(
                ring=r["ring"],
                at=datetime.fromisoformat(r["at"]),
                occupancy=r["occupancy"],
                upper=r["upper"],
                per_m2=r["per_m2"],
                complete=bool(r["complete"]),
                feeds=json.loads(r["feeds"]),
            )
            for r in rows
        ]

    def purge(self, keep_until: dict[str, datetime], now: datetime, orphan_days: int) -> int:
        """Delete the series of events past their keep date (``keep_until``: event id ->
        date), and of unknown events (gone from the site file) older than ``orphan_days``."""
        deleted = 0
        with self.database.write() as db:
            for event_id, until in keep_until.items():
                if now >= until:
                    sql = "DELETE FROM event_samples WHERE event_id = ?"
                    deleted += db.execute(sql, [event_id]).rowcount
            known = list(keep_until)
            marks = ", ".join("?" * len(known)) or "''"
            cutoff = iso(now - timedelta(days=orphan_days))
            deleted += db.execute(
                f"DELETE FROM event_samples WHERE event_id NOT IN ({marks}) AND at < ?",
                [*known, cutoff],
            ).rowcount
        return deleted
