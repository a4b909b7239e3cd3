"""Units, their members, trackers and positions in SQLite (migrations ``villagewatch-hub-units``).

* ``units`` — one row per unit; ``incident_id``/``assignment_id`` name its active assignment.
* ``unit_members`` — (unit, username): who may act for a unit, looked up per request.
* ``unit_trackers`` — OsmAnd devices; only the SHA-256 of a token is kept (a token is 32
  random bytes, so a fast hash is enough and a position costs no password-hash time).
* ``unit_positions`` — the track. ``(unit_id, at)`` answers "newest of this unit" with one
  index step; ``(at)`` lets the retention purge delete old points without a scan.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from sqlite_utils.migrations import Migrations

from hub.domain.units import Position, Tracker, Unit
from hub.storage.sqlite.database import SqliteDatabase, iso, marks
from hub.storage.units import CallsignTaken

migrations = Migrations("villagewatch-hub-units")

_POSITION_FIELDS = (
    "unit_id", "lat", "lon", "at", "accuracy_m", "speed_kmh", "bearing", "battery", "source",
)  # fmt: skip
#: The newest position's row id of the unit ``u`` (the index walks one step).
_NEWEST = (
    "(SELECT id FROM unit_positions p WHERE p.unit_id = u.id ORDER BY p.at DESC, p.id DESC LIMIT 1)"
)


@migrations()
def m001_units(db) -> None:
    db.execute(
        """CREATE TABLE units (
            id TEXT PRIMARY KEY,
            callsign TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            availability TEXT NOT NULL,
            incident_id TEXT,
            assignment_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE unit_members (
            unit_id TEXT NOT NULL REFERENCES units (id),
            username TEXT NOT NULL,
            PRIMARY KEY (unit_id, username)
        )"""
    )
    db.execute("CREATE INDEX unit_members_username ON unit_members (username)")
    db.execute(
        """CREATE TABLE unit_trackers (
            id TEXT PRIMARY KEY,
            unit_id TEXT NOT NULL REFERENCES units (id),
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE unit_positions (
            id INTEGER PRIMARY KEY,
            unit_id TEXT NOT NULL REFERENCES units (id),
            lat REAL NOT NULL,
            lon REAL NOT NULL,
            at TEXT NOT NULL,
            accuracy_m REAL,
            speed_kmh REAL,
            bearing REAL,
            battery REAL,
            source TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX unit_positions_latest ON unit_positions (unit_id, at)")
    db.execute("CREATE INDEX unit_positions_at ON unit_positions (at)")


def _position(row: dict) -> Position:
    return Position.model_validate({k: row[k] for k in _POSITION_FIELDS})


class SqliteUnitRepository:
    """:class:`hub.storage.units.UnitRepository` on the hub's SQLite file."""

    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        database.migrate(migrations)

    # --- units -----------------------------------------------------------------------------

    def create(self, unit: Unit) -> Unit:
        try:
            with self.database.write() as db:
                db.execute(
                    "INSERT INTO units (id, callsign, kind, availability, incident_id,"
                    " assignment_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        unit.id,
                        unit.callsign,
                        unit.kind.value,
                        unit.availability.value,
                        unit.incident_id,
                        unit.assignment_id,
                        iso(unit.created_at),
                        iso(unit.updated_at),
                    ],
                )
                self._set_members(db, unit)
        except sqlite3.IntegrityError:
            raise CallsignTaken(f"a unit is called {unit.callsign} already") from None
        return self._get(unit.id)

    def save(self, unit: Unit) -> Unit:
        try:
            with self.database.write() as db:
                changed = db.execute(
                    "UPDATE units SET callsign = ?, kind = ?, availability = ?, incident_id = ?,"
                    " assignment_id = ?, updated_at = ? WHERE id = ?",
                    [
                        unit.callsign,
                        unit.kind.value,
                        unit.availability.value,
                        unit.incident_id,
                        unit.assignment_id,
                        iso(unit.updated_at),
                        unit.id,
                    ],
                ).rowcount
                if not changed:
                    raise KeyError(unit.id)
                self._set_members(db, unit)
        except sqlite3.IntegrityError:
            raise CallsignTaken(f"a unit is called {unit.callsign} already") from None
        return self._get(unit.id)

    @staticmethod
    def _set_members(db, unit: Unit) -> None:
        db.execute("DELETE FROM unit_members WHERE unit_id = ?", [unit.id])
        db.conn.executemany(
            "INSERT INTO unit_members (unit_id, username) VALUES (?, ?)",
            [(unit.id, name) for name in dict.fromkeys(unit.members)],
        )

    def get(self, unit_id: str) -> Unit | None:
        found = self._select("WHERE u.id = ?", [unit_id])
        return found[0] if found else None

    def _get(self, unit_id: str) -> Unit:
        unit = self.get(unit_id)
        assert unit is not None
        return unit

    def all(self) -> list[Unit]:
        return self._select("", [])

    def of_member(self, username: str) -> list[Unit]:
        return self._select(
            "WHERE u.id IN (SELECT unit_id FROM unit_members WHERE username = ?)", [username]
        )

    def _select(self, where: str, args: list) -> list[Unit]:
        """Units with their members and newest position: three reads, however many units."""
        rows = self.database.all(
            f"SELECT u.*, {_NEWEST} AS position_id FROM units u {where} ORDER BY u.callsign", args
        )
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        members: dict[str, list[str]] = {i: [] for i in ids}
        for m in self.database.all(
            f"SELECT unit_id, username FROM unit_members WHERE unit_id IN ({marks(ids)})"
            " ORDER BY username",
            ids,
        ):
            members[m["unit_id"]].append(m["username"])
        wanted = [r["position_id"] for r in rows if r["position_id"] is not None]
        positions = {
            p["id"]: _position(p)
            for p in self.database.all(
                f"SELECT * FROM unit_positions WHERE id IN ({marks(wanted)})", wanted
            )
        }
        return [
            Unit.model_validate(
                {k: v for k, v in r.items() if k != "position_id"}
                | {"members": members[r["id"]], "position": positions.get(r["position_id"])}
            )
            for r in rows
        ]

    # --- trackers --------------------------------------------------------------------------

    def add_tracker(self, tracker: Tracker, token_hash: str) -> None:
        try:
            with self.database.write() as db:
                db.execute(
                    "INSERT INTO unit_trackers (id, unit_id, name, token_hash, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [
                        tracker.id,
                        tracker.unit_id,
                        tracker.name,
                        token_hash,
                        iso(tracker.created_at),
                    ],
                )
        except sqlite3.IntegrityError:
            raise KeyError(tracker.id) from None

    def tracker(self, tracker_id: str) -> tuple[Tracker, str] | None:
        row = self.database.one("SELECT * FROM unit_trackers WHERE id = ?", [tracker_id])
        if row is None:
            return None
        token_hash = row.pop("token_hash")
        return Tracker.model_validate(row), token_hash

    def trackers(self, unit_id: str) -> list[Tracker]:
        rows = self.database.all(
            "SELECT id, unit_id, name, created_at FROM unit_trackers WHERE unit_id = ?"
            " ORDER BY created_at, id",
            [unit_id],
        )
        return [Tracker.model_validate(r) for r in rows]

    # --- positions -------------------------------------------------------------------------

    def add_position(self, position: Position) -> None:
        row = position.model_dump(mode="json") | {"at": iso(position.at)}
        with self.database.write() as db:
            db.execute(
                f"INSERT INTO unit_positions ({', '.join(_POSITION_FIELDS)})"
                f" VALUES ({marks(_POSITION_FIELDS)})",
                [row[k] for k in _POSITION_FIELDS],
            )

    def latest_position(self, unit_id: str) -> Position | None:
        row = self.database.one(
            "SELECT * FROM unit_positions WHERE unit_id = ? ORDER BY at DESC, id DESC LIMIT 1",
            [unit_id],
        )
        return _position(row) if row else None

    def track(self, unit_id: str, since: datetime, until: datetime) -> list[Position]:
        rows = self.database.all(
            "SELECT * FROM unit_positions WHERE unit_id = ? AND at >= ? AND at < ? ORDER BY at, id",
            [unit_id, iso(since), iso(until)],
        )
        return [_position(r) for r in rows]

    def purge_positions(self, before: datetime) -> dict[str, int]:
        with self.database.write() as db:
            gone = db.execute("DELETE FROM unit_positions WHERE at < ?", [iso(before)]).rowcount
        return {"positions": gone}
