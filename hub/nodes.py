"""Node bookkeeping: current status, status history, latest stats and alert sequence gaps.

A node's ``seq`` grows by one per alert and survives its restarts, so a jump tells the hub
that alerts were lost on the way (:meth:`NodeBook.account_seq`). Status history keeps one
row per *change* of state, which is what "when was the gate sensor offline" needs.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime

from sqlite_utils import Database

from contract.protocol import Alert, NodeStats, NodeStatus
from hub.db import first_row, iso, utc_now

_NODE_FIELDS = ("site", "node", "state", "role", "software", "ts", "received_at")
_NODE_FIELDS += ("last_seq", "seq_gaps")


class NodeBook:
    """The ``nodes``, ``node_status`` and ``node_stats`` tables (shares the store's lock)."""

    def __init__(self, db: Database, lock: threading.RLock) -> None:
        self.db = db
        self.lock = lock

    def _ensure(self, site: str, node: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO nodes (site, node) VALUES (?, ?)", [site, node])

    def account_seq(self, alert: Alert) -> int:
        """Update the node's sequence bookkeeping for a *new* alert; returns how many alerts
        went missing just before it. Call inside the caller's transaction.

        A jump from 4 to 7 means 5 and 6 were lost (2 gaps). An unseen alert with a lower
        number than the last is a late one filling an earlier gap, so a gap is given back.
        """
        self._ensure(alert.site, alert.node)
        row = first_row(
            self.db,
            "SELECT last_seq, seq_gaps FROM nodes WHERE site = ? AND node = ?",
            [alert.site, alert.node],
        )
        assert row is not None
        last, gaps, gap = row["last_seq"], row["seq_gaps"], 0
        if last is None or alert.seq > last:
            gap = alert.seq - last - 1 if last is not None else 0
            last, gaps = alert.seq, gaps + gap
        elif gaps > 0:
            gaps -= 1
        self.db.execute(
            "UPDATE nodes SET last_seq = ?, seq_gaps = ? WHERE site = ? AND node = ?",
            [last, gaps, alert.site, alert.node],
        )
        return gap

    def record_status(self, status: NodeStatus, received_at: datetime | None = None) -> bool:
        """Keep a node's current state; adds a history row and returns True on a change."""
        received = iso(received_at or utc_now())
        ts = iso(status.ts) if status.ts else None
        role = str(status.role)
        with self.lock, self.db.atomic():
            current = first_row(
                self.db,
                "SELECT state, role FROM nodes WHERE site = ? AND node = ?",
                [status.site, status.node],
            )
            changed = not current or (current["state"], current["role"]) != (status.state, role)
            self._ensure(status.site, status.node)
            self.db.execute(
                "UPDATE nodes SET state = ?, role = ?, software = ?, ts = ?, received_at = ?"
                " WHERE site = ? AND node = ?",
                [status.state, role, status.software, ts, received, status.site, status.node],
            )
            if changed:
                self.db.execute(
                    "INSERT INTO node_status (site, node, state, role, ts, received_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [status.site, status.node, status.state, role, ts, received],
                )
        return changed

    def record_stats(self, stats: NodeStats, received_at: datetime | None = None) -> None:
        """Keep only the latest stats of each node."""
        received = iso(received_at or utc_now())
        cameras = json.dumps({k: v.model_dump() for k, v in stats.cameras.items()})
        row = [stats.site, stats.node, iso(stats.ts), received, stats.uptime_s]
        with self.lock, self.db.atomic():
            self._ensure(stats.site, stats.node)
            self.db.execute(
                "INSERT OR REPLACE INTO node_stats VALUES (?, ?, ?, ?, ?, ?, ?)",
                [*row, stats.outbox_pending, cameras],
            )

    def current(self) -> list[dict]:
        """Every node heard of: status (None if never reported), sequence bookkeeping and
        latest stats (None if none yet)."""
        with self.lock:
            rows = list(
                self.db.query(
                    "SELECT n.*, s.ts AS stats_ts, s.uptime_s, s.outbox_pending, s.cameras"
                    " FROM nodes n LEFT JOIN node_stats s USING (site, node)"
                    " ORDER BY n.site, n.node"
                )
            )
        out = []
        for r in rows:
            stats = None
            if r["stats_ts"] is not None:
                stats = {"ts": r["stats_ts"], "uptime_s": r["uptime_s"]}
                stats |= {
                    "outbox_pending": r["outbox_pending"],
                    "cameras": json.loads(r["cameras"]),
                }
            out.append({k: r[k] for k in _NODE_FIELDS} | {"stats": stats})
        return out

    def get(self, site: str, node: str) -> dict | None:
        return next((n for n in self.current() if (n["site"], n["node"]) == (site, node)), None)

    def status_history(self, site: str, node: str) -> list[dict]:
        """State changes of one node, oldest first."""
        with self.lock:
            return list(
                self.db.query(
                    "SELECT state, role, ts, received_at FROM node_status"
                    " WHERE site = ? AND node = ? ORDER BY id",
                    [site, node],
                )
            )

    def total_seq_gaps(self) -> int:
        with self.lock:
            return self.db.execute("SELECT COALESCE(SUM(seq_gaps), 0) FROM nodes").fetchone()[0]
