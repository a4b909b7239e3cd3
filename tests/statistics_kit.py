"""Hand-made incident and alert history for the statistics tests and bench/stats_queries.py.

Rows go straight into the hub's real SQLite file with ``executemany`` in one transaction, in
the columns of hub/storage/sqlite/incident_schema.py and alerts.py: the storage layer's own
writes commit durably one incident at a time, which is right for a hub and far too slow for
a year of history. Every value a statistic reads (opened_at, kind, area, category, state,
outcome, milestones; an alert's node, camera, zone, kind and incident) is set by the caller.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime

from hub.storage.sqlite.database import SqliteDatabase, iso

INCIDENT_COLUMNS = (
    "id", "ref", "category", "source", "state", "severity", "severity_rank", "kind", "title",
    "area", "opened_at", "updated_at", "alert_count", "acknowledged_at", "dispatched_at",
    "en_route_at", "on_scene_at", "resolved_at", "outcome", "escalation_tier", "opened_by",
)  # fmt: skip
ALERT_COLUMNS = (
    "id", "site", "node", "seq", "ts", "received_at", "kind", "severity", "area", "zone",
    "camera", "message", "objects", "has_snapshot", "incident_id",
)  # fmt: skip
MILESTONES = ("acknowledged_at", "dispatched_at", "en_route_at", "on_scene_at", "resolved_at")

_numbers = itertools.count(1)


def incident(
    opened_at: datetime,
    *,
    kind: str = "intrusion",
    area: str | None = "plaza",
    category: str = "security",
    state: str = "new",
    outcome: str | None = None,
    **milestones: datetime | None,
) -> dict:
    """One incident row; ``milestones`` are acknowledged_at … resolved_at."""
    n = next(_numbers)
    times = {name: iso(at) if at else None for name, at in milestones.items()}
    unknown = set(times) - set(MILESTONES)
    if unknown:
        raise TypeError(f"not a milestone: {unknown}")
    return {
        "id": f"{n:032x}",
        "ref": f"INC-{n:08d}",
        "category": category,
        "source": "alerts",
        "state": state,
        "severity": "major",
        "severity_rank": 1,
        "kind": kind,
        "title": kind,
        "area": area,
        "opened_at": iso(opened_at),
        "updated_at": iso(opened_at),
        "alert_count": 0,
        "outcome": outcome,
        "escalation_tier": 0,
        "opened_by": "system",
        **{name: times.get(name) for name in MILESTONES},
    }


def alert(
    incident_row: dict | None,
    received_at: datetime,
    *,
    node: str = "gate-1",
    camera: str | None = "cam1",
    zone: str | None = "yard",
    kind: str = "intrusion",
) -> dict:
    """One alert row, joined to ``incident_row`` (None: raised no incident)."""
    n = next(_numbers)
    return {
        "id": f"a{n:031x}",
        "site": "riverside",
        "node": node,
        "seq": n,
        "ts": iso(received_at),
        "received_at": iso(received_at),
        "kind": kind,
        "severity": "major",
        "area": (incident_row or {}).get("area") or "plaza",
        "zone": zone,
        "camera": camera,
        "message": "",
        "objects": "[]",
        "has_snapshot": 0,
        "incident_id": incident_row["id"] if incident_row else None,
    }


def insert(
    database: SqliteDatabase, incidents: Iterable[dict], alerts: Iterable[dict] = ()
) -> None:
    """All rows in one transaction."""

    def sql(table: str, columns: tuple[str, ...]) -> str:
        marks = ", ".join("?" for _ in columns)
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"

    with database.write() as db:
        conn = db.conn
        conn.executemany(
            sql("incidents", INCIDENT_COLUMNS),
            ([row[c] for c in INCIDENT_COLUMNS] for row in incidents),
        )
        alerts = list(alerts)
        conn.executemany(
            sql("alerts", ALERT_COLUMNS), ([row[c] for c in ALERT_COLUMNS] for row in alerts)
        )
        # What the alerts repository writes beside each filed alert (alert_schema.m002).
        conn.executemany(
            "INSERT OR IGNORE INTO incident_sources VALUES (?, ?, ?, ?, ?)",
            {
                (a["incident_id"], a["node"], a["camera"] or "", a["zone"] or "", a["kind"])
                for a in alerts
                if a["incident_id"]
            },
        )
