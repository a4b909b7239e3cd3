"""Incidents in SQLite: the incident rows, their transitions, notes and attachments.

The tables and indexes are in :mod:`hub.storage.sqlite.incident_schema`, the row mapping in
:mod:`hub.storage.sqlite.incident_rows`. Attachment files live in
``<data_dir>/attachments/<incident_id>/`` under names the hub makes up (never the
uploader's file name), written durably: temporary file, fsync, rename, fsync the folder.
"""

from __future__ import annotations

import secrets
import sqlite3
from datetime import date, datetime
from pathlib import Path

from contract.files import write_durably
from hub.domain.incidents import (
    OPEN_STATES,
    Attachment,
    Category,
    Incident,
    IncidentState,
    Note,
    Transition,
)
from hub.storage.incidents import (
    IdempotencyKeyReused,
    IncidentQuery,
    Milestones,
    StaleIncident,
)
from hub.storage.sqlite.database import SqliteDatabase, from_iso, iso, marks
from hub.storage.sqlite.incident_rows import (
    ID,
    attachment_record,
    cursor_key,
    filters,
    from_row,
    row_cursor,
    to_row,
)
from hub.storage.sqlite.incident_schema import OPEN_SQL, migrations

_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png"}
_MILESTONE_TIMES = Milestones._fields[1:]  # every field but the state


class SqliteIncidentRepository:
    """:class:`hub.storage.incidents.IncidentRepository` on the hub's SQLite file."""

    def __init__(self, database: SqliteDatabase, data_dir: Path) -> None:
        self.database = database
        self.attachments_dir = Path(data_dir) / "attachments"
        database.migrate(migrations)

    # --- incidents -------------------------------------------------------------------------

    def next_ref(self, day: date) -> str:
        label = day.strftime("%Y%m%d")
        with self.database.write() as db:
            number = db.execute(
                "INSERT INTO incident_refs (day, last) VALUES (?, 1)"
                " ON CONFLICT (day) DO UPDATE SET last = last + 1 RETURNING last",
                [label],
            ).fetchone()[0]
        return f"INC-{label}-{number:04d}"

    def create(
        self,
        incident: Incident,
        idempotency_key: str | None = None,
        *,
        fingerprint: str | None = None,
        correlation_key: str | None = None,
    ) -> Incident:
        with self.database.write():
            if idempotency_key is not None:
                earlier = self.replay(incident.opened_by, idempotency_key, fingerprint)
                if earlier is not None:
                    return earlier
            try:
                self._insert(incident, idempotency_key, fingerprint, correlation_key)
            except sqlite3.IntegrityError:
                # Another writer got the key in first: the primary key decided, theirs stands.
                earlier = idempotency_key and self.replay(
                    incident.opened_by, idempotency_key, fingerprint
                )
                if not earlier:
                    raise
                return earlier
        stored = self.get(incident.id)
        assert stored is not None
        return stored

    def _insert(
        self,
        incident: Incident,
        idempotency_key: str | None,
        fingerprint: str | None,
        correlation_key: str | None,
    ) -> None:
        row = to_row(incident) | {"correlation_key": correlation_key}
        with self.database.write() as db:  # a savepoint: both rows or neither
            db.execute(
                f"INSERT INTO incidents ({', '.join(row)}) VALUES ({marks(row)})",
                list(row.values()),
            )
            if idempotency_key is not None:
                db.execute(
                    "INSERT INTO incident_idempotency"
                    " (username, key, incident_id, fingerprint, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [
                        incident.opened_by,
                        idempotency_key,
                        incident.id,
                        fingerprint,
                        iso(incident.opened_at),
                    ],
                )

    def replay(self, username: str, key: str, fingerprint: str | None) -> Incident | None:
        row = self.database.one(
            "SELECT incident_id, fingerprint FROM incident_idempotency"
            " WHERE username = ? AND key = ?",
            [username, key],
        )
        earlier = self.get(row["incident_id"]) if row else None
        if earlier is not None and fingerprint != row["fingerprint"]:
            raise IdempotencyKeyReused(
                f"idempotency key {key!r} was used for a different request (incident {earlier.ref})"
            )
        return earlier

    def get(self, incident_id: str) -> Incident | None:
        row = self.database.one("SELECT * FROM incidents WHERE id = ?", [incident_id])
        return from_row(row) if row else None

    def save(self, incident: Incident, transition: Transition | None = None) -> Incident:
        row = to_row(incident)
        del row["id"], row["ref"], row["opened_at"], row["opened_by"]  # never change
        sets = ", ".join(f"{column} = ?" for column in row)
        where, args = "id = ?", [*row.values(), incident.id]
        if transition is not None:
            where += " AND state = ?"
            args.append(transition.from_state.value)
        with self.database.write() as db:
            changed = db.execute(f"UPDATE incidents SET {sets} WHERE {where}", args).rowcount
            if changed == 0:
                if self.get(incident.id) is None:
                    raise KeyError(incident.id)
                raise StaleIncident(f"incident {incident.ref} changed meanwhile; reload it")
            if transition is not None:
                self._insert_transition(db, transition)
        stored = self.get(incident.id)
        assert stored is not None
        return stored

    @staticmethod
    def _insert_transition(db, t: Transition) -> None:
        db.execute(
            "INSERT INTO incident_transitions"
            " (incident_id, action, from_state, to_state, at, actor, note, outcome)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                t.incident_id,
                t.action.value,
                t.from_state.value,
                t.to_state.value,
                iso(t.at),
                t.actor,
                t.note,
                t.outcome.value if t.outcome else None,
            ],
        )

    # --- questions -------------------------------------------------------------------------

    def open_for_correlation(
        self, area: str, category: Category, since: datetime
    ) -> Incident | None:
        states = [s.value for s in OPEN_STATES]
        row = self.database.one(
            "SELECT * FROM incidents WHERE area = ? AND category = ?"
            f" AND state IN ({marks(states)}) AND last_alert_at >= ?"
            " ORDER BY last_alert_at DESC, opened_at DESC LIMIT 1",
            [area, category.value, *states, iso(since)],
        )
        return from_row(row) if row else None

    def open_maintenance(self, correlation_key: str) -> Incident | None:
        row = self.database.one(
            f"SELECT * FROM incidents WHERE correlation_key = ? AND {OPEN_SQL}"
            " ORDER BY opened_at DESC LIMIT 1",
            [correlation_key],
        )
        return from_row(row) if row else None

    def find(self, query: IncidentQuery) -> tuple[list[Incident], str | None]:
        where, args = filters(query)
        if query.cursor:
            opened_at, incident_id = cursor_key(query.cursor)
            where.append("(opened_at, id) < (?, ?)")
            args += [opened_at, incident_id]
        sql = "SELECT * FROM incidents"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY opened_at DESC, id DESC LIMIT ?"
        rows = self.database.all(sql, [*args, query.limit + 1])
        items = [from_row(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return items, (row_cursor(rows[query.limit - 1]) if more and items else None)

    def queue(self, limit: int = 200, category: Category | None = None) -> list[Incident]:
        where, args = OPEN_SQL, []
        if category is not None:
            where, args = where + " AND category = ?", [category.value]
        rows = self.database.all(
            f"SELECT * FROM incidents INDEXED BY incidents_queue WHERE {where}"
            " ORDER BY severity_rank, opened_at, id LIMIT ?",
            [*args, limit],
        )
        return [from_row(r) for r in rows]

    def unacknowledged(self) -> list[Incident]:
        rows = self.database.all(
            "SELECT * FROM incidents WHERE state = ? ORDER BY opened_at, id",
            [IncidentState.NEW.value],
        )
        return [from_row(r) for r in rows]

    def milestones_between(
        self,
        start: datetime,
        end: datetime,
        *,
        area: str | None = None,
        kind: str | None = None,
        category: Category | None = None,
    ) -> list[Milestones]:
        # Only these columns, and no Incident model per row: a year's report reads ~100,000.
        query = IncidentQuery(
            area=area, kind=kind, category=category, opened_since=start, opened_before=end
        )
        where, args = filters(query)
        rows = self.database.all(
            f"SELECT {', '.join(Milestones._fields)} FROM incidents"
            f" WHERE {' AND '.join(where)} ORDER BY opened_at, id",
            args,
        )
        return [
            Milestones(IncidentState(r["state"]), *(from_iso(r[c]) for c in _MILESTONE_TIMES))
            for r in rows
        ]

    def transitions(self, incident_id: str) -> list[Transition]:
        rows = self.database.all(
            "SELECT * FROM incident_transitions WHERE incident_id = ? ORDER BY id", [incident_id]
        )
        return [Transition.model_validate(r) for r in rows]

    # --- notes and attachments -------------------------------------------------------------

    def add_note(self, incident_id: str, at: datetime, author: str, text: str) -> Note:
        with self.database.write() as db:
            note_id = db.execute(
                "INSERT INTO incident_notes (incident_id, at, author, text) VALUES (?, ?, ?, ?)",
                [incident_id, iso(at), author, text],
            ).lastrowid
        return Note(id=note_id, incident_id=incident_id, at=at, author=author, text=text)

    def notes(self, incident_id: str) -> list[Note]:
        rows = self.database.all(
            "SELECT * FROM incident_notes WHERE incident_id = ? ORDER BY id", [incident_id]
        )
        return [Note.model_validate(r) for r in rows]

    def add_attachment(
        self,
        incident_id: str,
        at: datetime,
        author: str,
        filename: str,
        content_type: str,
        data: bytes,
    ) -> Attachment:
        folder = self._folder(incident_id)
        stored_name = secrets.token_hex(16) + _EXTENSIONS.get(content_type, ".bin")
        path = folder / stored_name
        write_durably(path, data)  # tmp file, fsync, rename; mode 0600
        try:
            with self.database.write() as db:
                attachment_id = db.execute(
                    "INSERT INTO incident_attachments"
                    " (incident_id, at, author, filename, content_type, size, stored_name)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [incident_id, iso(at), author, filename, content_type, len(data), stored_name],
                ).lastrowid
        except BaseException:
            path.unlink(missing_ok=True)  # no row, no file
            raise
        return Attachment(
            id=attachment_id,
            incident_id=incident_id,
            at=at,
            author=author,
            filename=filename,
            content_type=content_type,
            size=len(data),
        )

    def attachments(self, incident_id: str) -> list[Attachment]:
        rows = self.database.all(
            "SELECT * FROM incident_attachments WHERE incident_id = ? ORDER BY id", [incident_id]
        )
        return [attachment_record(r) for r in rows]

    def attachment_file(self, incident_id: str, attachment_id: int) -> tuple[Attachment, bytes]:
        row = self.database.one(
            "SELECT * FROM incident_attachments WHERE incident_id = ? AND id = ?",
            [incident_id, attachment_id],
        )
        if row is None:
            raise KeyError(attachment_id)
        folder = self._folder(incident_id).resolve()
        path = (folder / row["stored_name"]).resolve()
        if path.parent != folder:  # a tampered row must not reach outside the folder
            raise KeyError(attachment_id)
        try:
            return attachment_record(row), path.read_bytes()
        except FileNotFoundError:
            raise KeyError(attachment_id) from None

    def _folder(self, incident_id: str) -> Path:
        if not ID.match(incident_id):
            raise KeyError(incident_id)
        return self.attachments_dir / incident_id
