"""Node bookkeeping: current status, status history, latest stats and alert sequence gaps.

A node's ``seq`` grows by one per alert and survives its restarts, so a jump tells the hub
that alerts were lost on the way (:meth:`SqliteNodeRepository.account_seq_many`). Status history
keeps one row per *change* of state, which is what "when was the gate sensor offline" needs.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlite_utils.migrations import Migrations

from contract.protocol import Alert, NodeStats, NodeStatus
from hub.domain.nodes import NodeState, NodeStatsRecord, StatusChange
from hub.storage.sqlite.counters import SqliteCounters
from hub.storage.sqlite.database import SqliteDatabase, iso

migrations = Migrations("villagewatch-hub-nodes")


@migrations()
def m001_nodes(db) -> None:
    db.execute(
        """CREATE TABLE nodes (
            site TEXT NOT NULL,
            node TEXT NOT NULL,
            state TEXT,
            role TEXT,
            software TEXT NOT NULL DEFAULT '',
            ts TEXT,
            received_at TEXT,
            last_seq INTEGER,
            seq_gaps INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (site, node)
        )"""
    )
    db.execute(
        """CREATE TABLE node_status (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            node TEXT NOT NULL,
            state TEXT NOT NULL,
            role TEXT NOT NULL,
            ts TEXT,
            received_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX node_status_received ON node_status (received_at)")
    # Latest stats per node only: history belongs in a metrics system, not here.
    db.execute(
        """CREATE TABLE node_stats (
            site TEXT NOT NULL,
            node TEXT NOT NULL,
            ts TEXT NOT NULL,
            received_at TEXT NOT NULL,
            uptime_s REAL NOT NULL,
            outbox_pending INTEGER NOT NULL,
            cameras TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (site, node)
        )"""
    )


@migrations()
def m002_seq_missing(db) -> None:
    # The alerts a gap says are missing, as ranges: only a late alert that really falls in
    # one gives a gap back (a lower seq outside every range is no evidence of anything).
    db.execute(
        """CREATE TABLE seq_missing (
            site TEXT NOT NULL,
            node TEXT NOT NULL,
            first INTEGER NOT NULL,
            last INTEGER NOT NULL,
            PRIMARY KEY (site, node, first)
        )"""
    )


#: A jump of more than this many sequence numbers is not counted as loss: no node loses a
#: million alerts between two, so it is a reset or a broken counter (counted ``seq_jumps``),
#: and the node's last number stays where it was so real gaps after it are still seen.
MAX_SEQ_GAP = 1_000_000


class SqliteNodeRepository:
    def __init__(self, database: SqliteDatabase, counters: SqliteCounters) -> None:
        self.database = database
        self.counters = counters
        database.migrate(migrations)

    def _ensure(self, site: str, node: str) -> None:
        self.database.db.execute(
            "INSERT OR IGNORE INTO nodes (site, node) VALUES (?, ?)", [site, node]
        )

    def account_seq_many(self, alerts: list[Alert]) -> list[int]:
        """Update the nodes' sequence bookkeeping for *new* alerts in arrival order; returns
        how many alerts went missing just before each. Call inside the caller's transaction;
        one read and one write per node, not per alert (ingest's group commit).

        A jump from 4 to 7 means 5 and 6 were lost (2 gaps, remembered as the range 5..6).
        A late alert whose number is in a remembered range fills it and gives one back;
        any other lower number (a node reset, a replay) changes nothing. So the count of
        missing alerts goes down only when a missing alert arrives.
        """
        gaps = [0] * len(alerts)
        by_node: dict[tuple[str, str], list[int]] = {}
        for i, alert in enumerate(alerts):
            by_node.setdefault((alert.site, alert.node), []).append(i)
        with self.database.write() as db:
            conn = db.conn
            for (site, node), indexes in by_node.items():
                row = conn.execute(
                    "SELECT last_seq, seq_gaps FROM nodes WHERE site = ? AND node = ?",
                    [site, node],
                ).fetchone()
                if row is None:
                    conn.execute("INSERT INTO nodes (site, node) VALUES (?, ?)", [site, node])
                last, missing = row if row is not None else (None, 0)
                for i in indexes:
                    seq = alerts[i].seq
                    if last is None:
                        last = seq
                    elif seq > last:
                        gap = seq - last - 1
                        if gap > MAX_SEQ_GAP:
                            self.counters.bump("seq_jumps")
                            continue
                        if gap:
                            conn.execute(
                                "INSERT OR REPLACE INTO seq_missing VALUES (?, ?, ?, ?)",
                                [site, node, last + 1, seq - 1],
                            )
                        gaps[i], missing, last = gap, missing + gap, seq
                    elif seq < last and missing > 0 and self._fill(conn, site, node, seq):
                        missing -= 1
                conn.execute(
                    "UPDATE nodes SET last_seq = ?, seq_gaps = ? WHERE site = ? AND node = ?",
                    [last, missing, site, node],
                )
        return gaps

    def _fill(self, conn, site: str, node: str, seq: int) -> bool:
        """Take ``seq`` out of the missing range holding it; False if none holds it."""
        hit = conn.execute(
            "SELECT first, last FROM seq_missing WHERE site = ? AND node = ? AND first <= ?"
            " ORDER BY first DESC LIMIT 1",
            [site, node, seq],
        ).fetchone()
        if hit is None or hit[1] < seq:
            return False
        first, last = hit
        conn.execute(
            "DELETE FROM seq_missing WHERE site = ? AND node = ? AND first = ?",
            [site, node, first],
        )
        for lo, hi in ((first, seq - 1), (seq + 1, last)):
            if lo <= hi:
                conn.execute("INSERT INTO seq_missing VALUES (?, ?, ?, ?)", [site, node, lo, hi])
        return True

    def record_status(self, status: NodeStatus, received_at: datetime) -> bool:
        received = iso(received_at)
        ts = iso(status.ts) if status.ts else None
        role = str(status.role)
        with self.database.write() as db:
            current = self.database.one(
                "SELECT state, role FROM nodes WHERE site = ? AND node = ?",
                [status.site, status.node],
            )
            changed = not current or (current["state"], current["role"]) != (status.state, role)
            self._ensure(status.site, status.node)
            db.execute(
                "UPDATE nodes SET state = ?, role = ?, software = ?, ts = ?, received_at = ?"
                " WHERE site = ? AND node = ?",
                [status.state, role, status.software, ts, received, status.site, status.node],
            )
            if changed:
                db.execute(
                    "INSERT INTO node_status (site, node, state, role, ts, received_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [status.site, status.node, status.state, role, ts, received],
                )
        return changed

    def record_stats(self, stats: NodeStats, received_at: datetime) -> None:
        cameras = json.dumps({k: v.model_dump(mode="json") for k, v in stats.cameras.items()})
        row = [stats.site, stats.node, iso(stats.ts), iso(received_at), stats.uptime_s]
        with self.database.write() as db:
            self._ensure(stats.site, stats.node)
            db.execute(
                "INSERT OR REPLACE INTO node_stats VALUES (?, ?, ?, ?, ?, ?, ?)",
                [*row, stats.outbox_pending, cameras],
            )

    def all(self) -> list[NodeState]:
        return [_state(r) for r in self.database.all(_NODES_SQL + " ORDER BY n.site, n.node")]

    def get(self, site: str, node: str) -> NodeState | None:
        row = self.database.one(_NODES_SQL + " WHERE n.site = ? AND n.node = ?", [site, node])
        return _state(row) if row else None

    def status_history(self, site: str, node: str) -> list[StatusChange]:
        rows = self.database.all(
            "SELECT state, role, ts, received_at FROM node_status"
            " WHERE site = ? AND node = ? ORDER BY id",
            [site, node],
        )
        return [StatusChange(**r) for r in rows]

    def total_seq_gaps(self) -> int:
        # TOTAL, not SUM: a float never raises "integer overflow" whatever the rows hold.
        return int(self.database.scalar("SELECT TOTAL(seq_gaps) FROM nodes") or 0)

    def purge(self, received_before: datetime) -> dict[str, int]:
        with self.database.write() as db:
            n = db.execute(
                "DELETE FROM node_status WHERE received_at < ?", [iso(received_before)]
            ).rowcount
        return {"node_status": n}


_NODES_SQL = (
    "SELECT n.*, s.ts AS stats_ts, s.uptime_s, s.outbox_pending, s.cameras"
    " FROM nodes n LEFT JOIN node_stats s USING (site, node)"
)


def _state(r: dict) -> NodeState:
    stats = None
    if r["stats_ts"] is not None:
        stats = NodeStatsRecord(
            ts=r["stats_ts"],
            uptime_s=r["uptime_s"],
            outbox_pending=r["outbox_pending"],
            cameras=json.loads(r["cameras"]),
        )
    fields = ("site", "node", "state", "role", "software", "ts", "received_at", "last_seq")
    return NodeState(**{k: r[k] for k in fields}, seq_gaps=r["seq_gaps"], stats=stats)
