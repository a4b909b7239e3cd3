"""Assignments in SQLite (migrations ``villagewatch-hub-assignments``).

One row per unit sent to an incident, with the first time it reached each state. Indexes:
``(incident_id)`` for an incident's units, ``(unit_id, state)`` for a unit's active
assignment, ``(state, dispatched_at)`` for the accept time-out's "who has not accepted yet".
"""

from __future__ import annotations

from datetime import datetime

from sqlite_utils.migrations import Migrations

from hub.domain.units import ACTIVE_STATES, Assignment, AssignmentState
from hub.storage.sqlite.database import SqliteDatabase, iso, marks
from hub.storage.units import AssignmentTiming, StaleAssignment

migrations = Migrations("villagewatch-hub-assignments")

_TIMES = ("dispatched_at", "accepted_at", "en_route_at", "on_scene_at", "ended_at")
_FIELDS = tuple(Assignment.model_fields)
_ACTIVE = [s.value for s in ACTIVE_STATES]


@migrations()
def m001_assignments(db) -> None:
    db.execute(
        """CREATE TABLE assignments (
            id TEXT PRIMARY KEY,
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            unit_id TEXT NOT NULL REFERENCES units (id),
            state TEXT NOT NULL,
            dispatched_at TEXT NOT NULL,
            accepted_at TEXT,
            en_route_at TEXT,
            on_scene_at TEXT,
            ended_at TEXT,
            dispatched_by TEXT NOT NULL,
            backup_for TEXT,
            outcome TEXT,
            note TEXT
        )"""
    )
    db.execute("CREATE INDEX assignments_incident ON assignments (incident_id, dispatched_at)")
    db.execute("CREATE INDEX assignments_unit ON assignments (unit_id, state)")
    db.execute("CREATE INDEX assignments_state ON assignments (state, dispatched_at)")


def _row(assignment: Assignment) -> dict:
    row = assignment.model_dump(mode="json")
    for column in _TIMES:
        moment = getattr(assignment, column)
        row[column] = iso(moment) if moment else None
    return row


def _record(row: dict) -> Assignment:
    return Assignment.model_validate({k: row[k] for k in _FIELDS})


class SqliteAssignmentRepository:
    """:class:`hub.storage.units.AssignmentRepository` on the hub's SQLite file."""

    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        database.migrate(migrations)

    def create(self, assignment: Assignment) -> Assignment:
        row = _row(assignment)
        with self.database.write() as db:
            db.execute(
                f"INSERT INTO assignments ({', '.join(row)}) VALUES ({marks(row)})",
                list(row.values()),
            )
        return assignment

    def get(self, assignment_id: str) -> Assignment | None:
        row = self.database.one("SELECT * FROM assignments WHERE id = ?", [assignment_id])
        return _record(row) if row else None

    def save(self, assignment: Assignment, from_state: AssignmentState) -> Assignment:
        row = _row(assignment)
        for fixed in ("id", "incident_id", "unit_id", "dispatched_at", "dispatched_by"):
            del row[fixed]
        sets = ", ".join(f"{column} = ?" for column in row)
        with self.database.write() as db:
            changed = db.execute(
                f"UPDATE assignments SET {sets} WHERE id = ? AND state = ?",
                [*row.values(), assignment.id, from_state.value],
            ).rowcount
        if not changed:
            raise StaleAssignment("the assignment changed meanwhile; reload it")
        return assignment

    def for_incident(self, incident_id: str) -> list[Assignment]:
        rows = self.database.all(
            "SELECT * FROM assignments WHERE incident_id = ? ORDER BY dispatched_at, id",
            [incident_id],
        )
        return [_record(r) for r in rows]

    def active_for_units(self, unit_ids: list[str]) -> list[Assignment]:
        if not unit_ids:
            return []
        rows = self.database.all(
            f"SELECT * FROM assignments WHERE unit_id IN ({marks(unit_ids)})"
            f" AND state IN ({marks(_ACTIVE)}) ORDER BY dispatched_at, id",
            [*unit_ids, *_ACTIVE],
        )
        return [_record(r) for r in rows]

    def unaccepted_since(self, dispatched_before: datetime) -> list[Assignment]:
        rows = self.database.all(
            "SELECT * FROM assignments WHERE state = ? AND dispatched_at <= ?"
            " ORDER BY dispatched_at, id",
            [AssignmentState.DISPATCHED.value, iso(dispatched_before)],
        )
        return [_record(r) for r in rows]

    def timings_between(
        self,
        start: datetime,
        end: datetime,
        *,
        area: str | None = None,
        kind: str | None = None,
        category: str | None = None,
    ) -> list[AssignmentTiming]:
        where = ["i.opened_at >= ?", "i.opened_at < ?"]
        args: list = [iso(start), iso(end)]
        for column, value in (("area", area), ("kind", kind), ("category", category)):
            if value is not None:
                where.append(f"i.{column} = ?")
                args.append(getattr(value, "value", value))
        # rowid: two units dispatched in the same instant stay in the order they were sent.
        rows = self.database.all(
            "SELECT a.*, u.callsign AS unit_callsign, u.kind AS unit_kind,"
            " i.ref AS incident_ref, i.area AS incident_area"
            " FROM assignments a JOIN incidents i ON i.id = a.incident_id"
            " JOIN units u ON u.id = a.unit_id"
            f" WHERE {' AND '.join(where)} ORDER BY i.opened_at, i.id, a.dispatched_at, a.rowid",
            args,
        )
        return [
            AssignmentTiming(
                _record(r),
                r["unit_callsign"],
                r["unit_kind"],
                r["incident_ref"],
                r["incident_area"],
            )
            for r in rows
        ]
