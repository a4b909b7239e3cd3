"""History for the data-sharing tests: incidents and alerts written straight into the hub's
real SQLite file, each carrying the personal data that must never leave through sharing
(a position, a caller's name and phone, a plate in the message, a snapshot path, detection
boxes). :data:`SECRETS` lists those values so a test can scan every export for them.

Rows go in with ``executemany`` in one transaction: the storage layer commits each incident
durably, which is right for a hub and far too slow for hypothesis's hundreds of histories.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from datetime import UTC, datetime

from hub.storage.sqlite.database import SqliteDatabase, iso

#: Values present in every seeded row that no export may contain.
LAT, LON = 51.4861234, -0.1245678
SECRETS = (
    "51.4861234",
    "-0.1245678",
    "Wang Secret",
    "13800138000",
    "AB12CDE",
    "snapshots/secret",
    "track_id",
    "score",
    "box",
)
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday
_numbers = itertools.count(1)


def incident_row(opened_at: datetime, area: str, kind: str, **fields) -> dict:
    n = next(_numbers)
    row = {
        "id": f"{n:032x}",
        "ref": f"INC-{n:08d}",
        "category": "security",
        "source": "alerts",
        "state": "new",
        "severity": "major",
        "severity_rank": 1,
        "kind": kind,
        "title": f"{kind} seen, plate AB12CDE",
        "area": area,
        "lat": LAT,
        "lon": LON,
        "caller_name": "Wang Secret",
        "caller_phone": "13800138000",
        "opened_at": iso(opened_at),
        "updated_at": iso(opened_at),
        "alert_count": 1,
        "escalation_tier": 0,
        "opened_by": "hub",
    }
    return row | fields


def alert_row(ts: datetime, area: str, kind: str) -> dict:
    n = next(_numbers)
    box = {"label": "person", "score": 0.9, "box": [1, 2, 3, 4], "track_id": 7}
    return {
        "id": f"{n:032x}",
        "site": "riverside",
        "node": "gw-plaza",
        "seq": n,
        "ts": iso(ts),
        "received_at": iso(ts),
        "kind": kind,
        "severity": "major",
        "area": area,
        "zone": "lawn",
        "camera": "plaza",
        "message": "car AB12CDE in zone lawn",
        "objects": json.dumps([box]),
        "has_snapshot": 1,
        "snapshot_path": f"snapshots/secret-{n}.jpg",
    }


def insert(database: SqliteDatabase, table: str, rows: Iterable[dict]) -> None:
    rows = list(rows)
    if not rows:
        return
    columns = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    with database.write() as db:
        db.conn.executemany(sql, [[r[c] for c in columns] for r in rows])


def clear(database: SqliteDatabase) -> None:
    with database.write() as db:
        db.execute("DELETE FROM alerts")
        db.execute("DELETE FROM incidents")
