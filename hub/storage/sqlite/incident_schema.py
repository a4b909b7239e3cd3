"""The incident tables and their indexes (migration set ``villagewatch-hub-incidents``).

* ``incidents`` — one row per incident. ``severity_rank`` (0 = critical … 4 = info) is the
  severity as a number so the queue can be read in order straight from an index.
  ``correlation_key`` is site/node/camera/kind for maintenance incidents (what a later alert
  of the same camera is matched on). The alerts repository joins ``incidents.id``/``state``.
* ``incident_transitions``, ``incident_notes``, ``incident_attachments`` — append-only.
* ``incident_idempotency`` — (username, key) → incident: the primary key is what makes the
  same request sent twice, even at the same moment, open one incident.
* ``incident_refs`` — the per-day counter behind ``INC-20261202-0007``.

Indexes, each for one question asked often: the duty desk's queue reads a *partial* index
of open incidents in (severity_rank, opened_at) order, so it stays a short index walk however
many closed incidents pile up; correlation looks up (area, category, state, last_alert_at);
history pages and reports walk (opened_at, id); a state filter starts from (state, opened_at).
Never edit a released migration: add the next one.
"""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

from hub.domain.incidents import OPEN_STATES

migrations = Migrations("villagewatch-hub-incidents")

#: The WHERE term of the partial indexes; a query must spell it the same to use them.
OPEN_SQL = "state IN ({})".format(", ".join(f"'{s.value}'" for s in OPEN_STATES))


@migrations()
def m001_incidents(db) -> None:
    db.execute(
        """CREATE TABLE incidents (
            id TEXT PRIMARY KEY,
            ref TEXT NOT NULL UNIQUE,
            category TEXT NOT NULL,
            source TEXT NOT NULL,
            state TEXT NOT NULL,
            severity TEXT NOT NULL,
            severity_rank INTEGER NOT NULL,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            area TEXT,
            lat REAL,
            lon REAL,
            address TEXT,
            caller_name TEXT,
            caller_phone TEXT,
            external_ref TEXT,
            correlation_key TEXT,
            opened_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_alert_at TEXT,
            alert_count INTEGER NOT NULL DEFAULT 0,
            acknowledged_at TEXT,
            dispatched_at TEXT,
            en_route_at TEXT,
            on_scene_at TEXT,
            resolved_at TEXT,
            outcome TEXT,
            escalation_tier INTEGER NOT NULL DEFAULT 0,
            escalated_at TEXT,
            opened_by TEXT NOT NULL
        )"""
    )
    db.execute(
        f"CREATE INDEX incidents_queue ON incidents (severity_rank, opened_at, id) WHERE {OPEN_SQL}"
    )
    db.execute("CREATE INDEX incidents_state ON incidents (state, opened_at)")
    db.execute(
        "CREATE INDEX incidents_correlation ON incidents (area, category, state, last_alert_at)"
    )
    db.execute(
        f"CREATE INDEX incidents_maintenance ON incidents (correlation_key) WHERE {OPEN_SQL}"
    )
    db.execute("CREATE INDEX incidents_opened ON incidents (opened_at, id)")
    db.execute(
        """CREATE TABLE incident_transitions (
            id INTEGER PRIMARY KEY,
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            action TEXT NOT NULL,
            from_state TEXT NOT NULL,
            to_state TEXT NOT NULL,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            note TEXT,
            outcome TEXT
        )"""
    )
    db.execute("CREATE INDEX incident_transitions_incident ON incident_transitions (incident_id)")
    db.execute(
        """CREATE TABLE incident_notes (
            id INTEGER PRIMARY KEY,
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            at TEXT NOT NULL,
            author TEXT NOT NULL,
            text TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX incident_notes_incident ON incident_notes (incident_id)")
    db.execute(
        """CREATE TABLE incident_attachments (
            id INTEGER PRIMARY KEY,
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            at TEXT NOT NULL,
            author TEXT NOT NULL,
            filename TEXT NOT NULL,
            content_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            stored_name TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX incident_attachments_incident ON incident_attachments (incident_id)")
    db.execute(
        """CREATE TABLE incident_idempotency (
            username TEXT NOT NULL,
            key TEXT NOT NULL,
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            fingerprint TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (username, key)
        )"""
    )
    db.execute("CREATE TABLE incident_refs (day TEXT PRIMARY KEY, last INTEGER NOT NULL)")
