"""A realistic hub store at scale, for ``bench/hub_scale.py``: a month of alerts and incidents.

What happens in that month — the sources, the incidents and how each one unfolds — is planned
by ``bench/hub_scale_plan.py``; this module turns the plans into the store's rows.

Rows go in with ``executemany`` in one transaction on the repositories' own
:class:`SqliteDatabase`: bench-only SQL, because a million alerts through ``Ingestor.handle``
(a durable commit each, a few hundred a second) would take over an hour. Snapshot rows point
at JPEG paths, but no files are written.
"""

from __future__ import annotations

import heapq
import json
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from hub_scale_plan import OFFICERS, Plan, Source, decide_fates, pick, plan, topology, wording

from contract.protocol import DetectedObject
from hub.storage.sqlite.database import SqliteDatabase, iso

SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2, "warning": 3, "info": 4}
ESCALATE_AFTER_S = {"critical": 30, "major": 60, "minor": 300, "warning": 600}
INCIDENT_COLUMNS = (
    "id", "ref", "category", "source", "state", "severity", "severity_rank", "kind", "title",
    "area", "lat", "lon", "address", "caller_name", "caller_phone", "external_ref",
    "correlation_key", "opened_at", "updated_at", "last_alert_at", "alert_count",
    "acknowledged_at", "dispatched_at", "en_route_at", "on_scene_at", "resolved_at", "outcome",
    "escalation_tier", "escalated_at", "opened_by",
)  # fmt: skip
ALERT_SQL = (
    "INSERT INTO alerts (id, site, node, seq, ts, received_at, kind, severity, area, zone, camera,"
    " message, objects, frame_size, has_snapshot, snapshot_path, incident_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INCIDENT_SQL = (
    f"INSERT INTO incidents ({', '.join(INCIDENT_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(INCIDENT_COLUMNS))})"
)
TRANSITION_SQL = (
    "INSERT INTO incident_transitions (incident_id, action, from_state, to_state, at, actor,"
    " note, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def incident_row(p: Plan, incident_id: str, ref: str, severity: str, title: str, rng):
    times = p.times
    waited_until = times.get("acknowledged_at") or times.get("resolved_at") or times["now"]
    after = ESCALATE_AFTER_S.get(severity)
    tier = min(2, int((waited_until - p.opened) // after)) if after else 0
    last_step = p.steps[-1][3] if p.steps else p.opened
    row = dict.fromkeys(INCIDENT_COLUMNS)
    row |= {
        "id": incident_id, "ref": ref, "category": p.category, "source": p.source,
        "state": p.state, "severity": severity, "severity_rank": SEVERITY_RANK[severity],
        "kind": p.kind, "title": title, "area": p.area, "opened_at": stamp(p.opened),
        "updated_at": stamp(max(last_step, p.last_alert)), "alert_count": len(p.offsets),
        "last_alert_at": stamp(p.last_alert) if p.offsets else None,
        "outcome": times["outcome"], "escalation_tier": tier,
        "escalated_at": stamp(p.opened + tier * after) if tier else None,
        "opened_by": "system" if p.source == "alerts" else rng.choice(OFFICERS),
    }  # fmt: skip
    for column in ("acknowledged_at", "dispatched_at", "en_route_at", "on_scene_at",
                   "resolved_at"):  # fmt: skip
        row[column] = stamp(times[column]) if column in times else None
    if p.category == "maintenance":
        o = p.origin
        row["correlation_key"] = f"{o.site}/{o.node}/{o.camera or '-'}/{p.kind}"
    if p.source == "call":
        street = p.area.replace("-", " ").title()
        row["caller_name"] = rng.choice(("A. Okafor", "J. Smith", "M. Novak", "R. Patel"))
        row["caller_phone"] = f"+44 7700 900{rng.randrange(1000):03d}"
        row["address"] = f"{rng.randint(1, 90)} {street} Road"
    if p.source == "external":
        row["external_ref"] = f"CAD-{rng.randrange(10**6):06d}"
    return row


def stamp(epoch: float) -> str:
    return iso(datetime.fromtimestamp(epoch, UTC))


def object_lists(rng: random.Random, label: str) -> list[str]:
    """JSON of one to three objects side by side, as cameras report them."""

    def one(x: float, k: int) -> dict:
        box = (x + 70 * k, 200.0, x + 70 * k + 60, 420.0)
        score, track = round(rng.uniform(0.5, 0.97), 2), rng.randrange(500)
        return DetectedObject(label=label, score=score, box=box, track_id=track).model_dump()

    return [json.dumps([one(x, k) for k in range(n)]) for x in (100, 300, 500) for n in (1, 2, 3)]


class AlertMaker:
    """Alert rows for one plan, in the repository's column layout (seq filled in later)."""

    def __init__(self, rng: random.Random, areas: dict[str, list[Source]]) -> None:
        self.rng, self.areas = rng, areas
        self.objects = {label: object_lists(rng, label) for label in ("person", "car")}

    def rows(self, p: Plan, incident_id: str) -> tuple[list[tuple[float, list]], str, str]:
        """(received, row) pairs, the incident's severity (the most severe of its alerts)
        and its title (the first alert's message)."""
        rng, out, worst, title = self.rng, [], "info", ""
        for j, offset in enumerate(p.offsets):
            source, kind = p.origin, p.kind
            if p.category == "security" and j and rng.random() < 0.25:
                source = rng.choice(self.areas[p.area])
                kind = pick(rng, source.kinds)
            cleared = p.cleared and j == len(p.offsets) - 1
            severity, zone, message = wording(rng, source, kind, cleared)
            if SEVERITY_RANK[severity] < SEVERITY_RANK[worst]:
                worst = severity
            received = p.opened + offset
            title = title or message
            row = self.row(source, kind, severity, zone, message, received, incident_id)
            out.append((received, row))
        return out, worst, title

    def row(self, s: Source, kind, severity, zone, message, received, incident_id) -> list:
        rng = self.rng
        alert_id = f"{rng.getrandbits(128):032x}"
        ts = datetime.fromtimestamp(received - rng.uniform(0.05, 1.5), UTC)
        objects, frame, snapshot, path = "[]", None, 0, None
        if s.camera and not kind.startswith(("stream", "lens", "blind")):
            label = "car" if kind == "no_parking" else "person"
            objects, frame, snapshot = rng.choice(self.objects[label]), "[768, 576]", 1
            if rng.random() < 0.98:  # a few JPEGs never arrived
                path = f"snapshots/{s.site}/{ts:%Y-%m-%d}/{alert_id}.jpg"
        return [alert_id, s.site, s.node, 0, iso(ts), stamp(received), kind, severity, s.area,
                zone, s.camera, message, objects, frame, snapshot, path, incident_id]  # fmt: skip


@dataclass
class Loaded:
    alerts: int
    incidents: int
    transitions: int
    open: int
    first: datetime
    last: datetime


def fill(
    database: SqliteDatabase,
    n_alerts: int,
    n_incidents: int,
    end: datetime,
    timezone: tzinfo,
    days: float = 30,
    seed: int = 6,
) -> Loaded:
    """Bulk-load the store in one transaction (with a 1 GB page cache, then as it was)."""
    rng, stop = random.Random(seed), end.timestamp()
    plans = plan(n_incidents, n_alerts, stop - days * 86400, stop, rng)
    decide_fates(plans, stop, rng)
    previous_cache = database.scalar("PRAGMA cache_size")
    with database.write() as db:
        db.execute("PRAGMA cache_size = -1000000")
        loader = Loader(db.conn, rng, timezone)
        for p in plans:
            loader.add(p)
        loader.flush(float("inf"))
        write_bookkeeping(db, loader.seqs, loader.refs, loader.counts["alerts"], end)
    database.db.execute(f"PRAGMA cache_size = {previous_cache}")
    database.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    first = datetime.fromtimestamp(plans[0].opened, UTC)
    c = loader.counts
    return Loaded(c["alerts"], c["incidents"], c["transitions"], c["open"], first, end)


class Loader:
    """Writes planned incidents and their alerts. Alerts go in in received order (a heap
    holds those of incidents still going on), each node's ``seq`` counting up as it would."""

    def __init__(self, conn, rng: random.Random, timezone: tzinfo) -> None:
        self.conn, self.rng, self.timezone = conn, rng, timezone
        self.maker = AlertMaker(rng, topology())
        self.pending: list = []  # heap of (received, n, row)
        self.seqs: dict[tuple[str, str], int] = {}
        self.refs: dict[str, int] = {}  # day → last ref number
        self.buffers: dict[str, list] = {ALERT_SQL: [], INCIDENT_SQL: [], TRANSITION_SQL: []}
        self.counts = Counter()

    def add(self, p: Plan) -> None:
        self.flush(p.opened)  # no later incident has an alert before this one opened
        incident_id = f"{self.rng.getrandbits(128):032x}"
        rows, severity, title = self.maker.rows(p, incident_id)
        for received, row in rows:
            self.counts["pushed"] += 1
            heapq.heappush(self.pending, (received, self.counts["pushed"], row))
        if not rows:
            severity = self.rng.choice(("major", "minor"))
            title = f"{p.kind.replace('_', ' ')} reported by {p.source}"
        day = datetime.fromtimestamp(p.opened, self.timezone).strftime("%Y%m%d")
        self.refs[day] = self.refs.get(day, 0) + 1
        ref = f"INC-{day}-{self.refs[day]:04d}"
        row = incident_row(p, incident_id, ref, severity, title[:120], self.rng)
        self.buffers[INCIDENT_SQL].append([row[c] for c in INCIDENT_COLUMNS])
        self.buffers[TRANSITION_SQL] += [
            (incident_id, action, before, after, stamp(at), actor, None, outcome)
            for action, before, after, at, actor, outcome in p.steps
        ]
        self.counts["open"] += p.state not in ("resolved", "cancelled")

    def flush(self, until: float) -> None:
        """Release the alerts received before ``until``; write when the buffers are full."""
        alerts = self.buffers[ALERT_SQL]
        while self.pending and self.pending[0][0] < until:
            row = heapq.heappop(self.pending)[2]
            key = (row[1], row[2])
            row[3] = self.seqs[key] = self.seqs.get(key, -1) + 1
            alerts.append(row)
        full = len(alerts) >= 50_000 or len(self.buffers[TRANSITION_SQL]) >= 20_000
        if not full and until != float("inf"):
            return
        # In this order: incidents before their transitions (a foreign key).
        for sql, rows in self.buffers.items():
            self.conn.executemany(sql, rows)
            self.counts[_COUNTED[sql]] += len(rows)
            rows.clear()


_COUNTED = {ALERT_SQL: "alerts", INCIDENT_SQL: "incidents", TRANSITION_SQL: "transitions"}


def write_bookkeeping(db, seqs, refs, n_alerts: int, end: datetime) -> None:
    """What ingest keeps beside the rows: each node's last seq, the ref counters, counts."""
    roles = {(s.site, s.node): s.role for sources in topology().values() for s in sources}
    now = iso(end)
    db.conn.executemany(
        "INSERT INTO nodes (site, node, state, role, software, ts, received_at, last_seq)"
        " VALUES (?, ?, 'online', ?, 'bench', ?, ?, ?)",
        [(site, node, roles[site, node], now, now, seq) for (site, node), seq in seqs.items()],
    )
    db.conn.executemany(
        "INSERT INTO incident_refs (day, last) VALUES (?, ?)"
        " ON CONFLICT (day) DO UPDATE SET last = max(last, excluded.last)",
        list(refs.items()),
    )
    db.conn.execute(
        "INSERT INTO counters (name, value) VALUES ('alerts', ?)"
        " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        [n_alerts],
    )
