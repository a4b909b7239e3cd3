"""The hub's storage: one SQLite file (WAL) plus snapshot JPEGs on disk.

:class:`HubStore` is shared by the MQTT network thread (writes, through the ingestor) and
the web server's worker threads (reads). A SQLite connection is not safe to share without a
lock, so every method takes ``self.lock``; each does a handful of small statements, so the
lock is held for microseconds to a few milliseconds. Related tables have their own small
classes on the same connection and lock: ``store.nodes`` (:class:`NodeBook`) and
``store.accounts`` (:class:`Accounts`: users, sessions, audit).

Durability: every commit reaches the disk before it returns (``synchronous=FULL``) and
snapshot files are fsynced, because the ingestor's caller acknowledges the MQTT message as
soon as :meth:`HubStore.insert_alert` returns ("persisted before acknowledged").

Layout under ``data_dir``::

    hub.sqlite3                                   the database (schema: migrations.py)
    snapshots/<site>/<yyyy-mm-dd>/<alert_id>.jpg  one JPEG per alert that sent one; the
                                                  date is the alert's (UTC), or the day it
                                                  arrived if it came before its alert
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contract.protocol import Alert, ProtocolError
from hub.accounts import Accounts
from hub.db import first_row, iso, open_database, utc_now
from hub.nodes import NodeBook

log = logging.getLogger(__name__)

#: Bytes of a refused payload kept for diagnosis (never the whole, possibly 10 MB, thing).
EXCERPT_BYTES = 1024
#: A snapshot whose alert has not arrived after this long is dropped by :meth:`purge`.
PENDING_SNAPSHOT_MAX_AGE = timedelta(hours=1)

__all__ = ["EXCERPT_BYTES", "AlertInsert", "HubStore", "iso", "utc_now"]


@dataclass(frozen=True)
class AlertInsert:
    """What :meth:`HubStore.insert_alert` did."""

    stored: bool  # False: a duplicate of an alert already stored
    seq_gap: int = 0  # alerts of this node missing just before this one
    snapshot_linked: bool = False  # a snapshot that arrived earlier is now attached
    rejected_snapshot_topic: str | None = None  # an earlier snapshot from another node


class HubStore:
    """Alerts, snapshots, quarantine and counters of one hub, plus ``nodes``/``accounts``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.snapshot_root = self.data_dir / "snapshots"
        self.db_path = self.data_dir / "hub.sqlite3"
        self.lock = threading.RLock()
        self.db = open_database(self.db_path)
        self.nodes = NodeBook(self.db, self.lock)
        self.accounts = Accounts(self.db, self.lock)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # --- alerts -------------------------------------------------------------------------

    def insert_alert(self, alert: Alert, received_at: datetime | None = None) -> AlertInsert:
        """Store a new alert (committed on return); a known id is counted as a duplicate."""
        received = iso(received_at or utc_now())
        drop_file: Path | None = None
        with self.lock, self.db.atomic():
            if self._one("SELECT 1 FROM alerts WHERE id = ?", [alert.id]):
                self._bump("duplicates")
                return AlertInsert(stored=False)
            gap = self.nodes.account_seq(alert)
            snapshot_path, linked, rejected = None, False, None
            pending = self._one("SELECT * FROM pending_snapshots WHERE alert_id = ?", [alert.id])
            if pending:
                self.db.execute("DELETE FROM pending_snapshots WHERE alert_id = ?", [alert.id])
                if (pending["site"], pending["node"]) == (alert.site, alert.node):
                    snapshot_path, linked = pending["path"], True
                else:  # another node sent a snapshot for this alert id first
                    rejected = f"{pending['site']}/{pending['node']}/snapshot/{alert.id}"
                    drop_file = self.data_dir / pending["path"]
                    why = f"snapshot from {pending['node']} for an alert of {alert.node}"
                    self._quarantine(rejected, "node_mismatch", why, b"", received)
            objects = json.dumps([o.model_dump() for o in alert.objects])
            frame = json.dumps(alert.frame_size) if alert.frame_size else None
            self.db.execute(
                "INSERT INTO alerts (id, site, node, seq, ts, received_at, kind, severity, area,"
                " zone, camera, message, objects, frame_size, has_snapshot, snapshot_path)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [alert.id, alert.site, alert.node, alert.seq, iso(alert.ts), received,
                 alert.kind, str(alert.severity), alert.area, alert.zone, alert.camera,
                 alert.message, objects, frame, int(alert.has_snapshot), snapshot_path],
            )  # fmt: skip
            self._bump("alerts")
            self._bump("seq_gaps_seen", gap)
        if drop_file:
            drop_file.unlink(missing_ok=True)
        return AlertInsert(True, gap, linked, rejected)

    def alert_ids(self) -> list[str]:
        """Every stored alert id, oldest received first."""
        with self.lock:
            rows = self.db.execute("SELECT id FROM alerts ORDER BY received_at, rowid")
            return [r[0] for r in rows]

    def get_alert(self, alert_id: str) -> dict | None:
        """One stored alert as a dict (``objects`` decoded, internal ``snapshot_path``)."""
        with self.lock:
            row = self._one("SELECT * FROM alerts WHERE id = ?", [alert_id])
        return _alert_dict(row) if row else None

    def alerts(
        self,
        since: datetime | None = None,
        before: datetime | None = None,
        limit: int = 50,
        area: str | None = None,
    ) -> list[dict]:
        """Alerts newest first (by event time), optionally only after ``since``, before
        ``before`` and in one ``area``."""
        where, args = [], []
        for clause, value in (("ts > ?", since), ("ts < ?", before), ("area = ?", area)):
            if value is not None:
                where.append(clause)
                args.append(iso(value) if isinstance(value, datetime) else value)
        sql = "SELECT * FROM alerts" + (" WHERE " + " AND ".join(where) if where else "")
        with self.lock:
            rows = list(
                self.db.query(f"{sql} ORDER BY ts DESC, rowid DESC LIMIT ?", [*args, limit])
            )
        return [_alert_dict(r) for r in rows]

    # --- snapshots ----------------------------------------------------------------------

    def save_snapshot(
        self, site: str, node: str, alert_id: str, jpeg: bytes, received_at: datetime | None = None
    ) -> str:
        """Keep a snapshot; returns ``"linked"``, ``"pending"`` (alert not here yet) or
        ``"duplicate"``. Raises ProtocolError ``node_mismatch`` when the alert (or an earlier
        snapshot) for this id came from another node."""
        received = received_at or utc_now()
        with self.lock:
            alert = self._one(
                "SELECT site, node, ts, snapshot_path FROM alerts WHERE id = ?", [alert_id]
            )
            pending = None
            if alert is None:
                pending = self._one(
                    "SELECT site, node FROM pending_snapshots WHERE alert_id = ?", [alert_id]
                )
            owner = alert or pending
            if owner and (owner["site"], owner["node"]) != (site, node):
                where = f"{owner['site']}/{owner['node']}"
                raise ProtocolError("node_mismatch", f"alert {alert_id} belongs to {where}")
            if pending or (alert and alert["snapshot_path"]):
                self._bump("snapshot_duplicates")
                return "duplicate"
            day = datetime.fromisoformat(alert["ts"]) if alert else received
            rel = Path(
                "snapshots", site, day.astimezone(UTC).strftime("%Y-%m-%d"), f"{alert_id}.jpg"
            )
            _write_durably(self.data_dir / rel, jpeg)
            try:
                with self.db.atomic():
                    if alert:
                        self.db.execute(
                            "UPDATE alerts SET snapshot_path = ? WHERE id = ?", [str(rel), alert_id]
                        )
                    else:
                        self.db.execute(
                            "INSERT INTO pending_snapshots VALUES (?, ?, ?, ?, ?)",
                            [alert_id, site, node, str(rel), iso(received)],
                        )
                    self._bump("snapshots")
            except Exception:
                (self.data_dir / rel).unlink(missing_ok=True)
                raise
        return "linked" if alert else "pending"

    def snapshot_file(self, alert_id: str) -> Path | None:
        """The JPEG of an alert, if it has arrived and is still on disk."""
        with self.lock:
            row = self._one("SELECT snapshot_path FROM alerts WHERE id = ?", [alert_id])
        if not row or not row["snapshot_path"]:
            return None
        path = (self.data_dir / row["snapshot_path"]).resolve()
        # The path came from our own code, but never serve anything outside the snapshot root.
        if not path.is_relative_to(self.snapshot_root.resolve()) or not path.is_file():
            return None
        return path

    def pending_snapshot_ids(self) -> list[str]:
        """Alert ids whose snapshot arrived but whose alert has not (yet)."""
        with self.lock:
            return [r[0] for r in self.db.execute("SELECT alert_id FROM pending_snapshots")]

    # --- quarantine and counters --------------------------------------------------------

    def quarantine(
        self,
        topic: str,
        reason: str,
        detail: str,
        payload: bytes,
        received_at: datetime | None = None,
    ) -> None:
        """Record a refused message: topic, reason, detail, size and the first KiB only."""
        with self.lock, self.db.atomic():
            self._quarantine(topic, reason, detail, payload, iso(received_at or utc_now()))

    def _quarantine(self, topic: str, reason: str, detail: str, payload: bytes, at: str) -> None:
        excerpt = bytes(payload[:EXCERPT_BYTES])
        self.db.execute(
            "INSERT INTO quarantine (received_at, topic, reason, detail, size, excerpt)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [at, topic[:256], reason[:64], detail[:500], len(payload), excerpt],
        )
        self._bump(f"quarantined.{reason[:64]}")

    def quarantine_rows(self, limit: int = 100) -> list[dict]:
        """Newest first; ``excerpt`` is the first KiB as text (undecodable bytes escaped)."""
        with self.lock:
            rows = list(self.db.query("SELECT * FROM quarantine ORDER BY id DESC LIMIT ?", [limit]))
        for r in rows:
            r["excerpt"] = bytes(r["excerpt"]).decode("utf-8", "backslashreplace")
        return rows

    def counters(self) -> dict[str, int]:
        """Monotonic counters: alerts, duplicates, snapshots, quarantined.<reason>, ..."""
        with self.lock:
            return {r[0]: r[1] for r in self.db.execute("SELECT name, value FROM counters")}

    def stats(self) -> dict:
        """The figures ``GET /api/stats`` reports. ``seq_gaps`` is alerts still missing
        (late arrivals give theirs back); ``seq_gaps_seen`` never goes down."""
        c = self.counters()
        with self.lock:
            stored = self.db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
        quarantined = {
            k.split(".", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("quarantined.")
        }
        return {
            "alerts_received": c.get("alerts", 0),
            "alerts_stored": stored,
            "duplicates": c.get("duplicates", 0),
            "seq_gaps": self.nodes.total_seq_gaps(),
            "seq_gaps_seen": c.get("seq_gaps_seen", 0),
            "snapshots": c.get("snapshots", 0),
            "snapshot_duplicates": c.get("snapshot_duplicates", 0),
            "quarantined": quarantined,
        }

    def _bump(self, name: str, by: int = 1) -> None:
        if by:
            self.db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                [name, by],
            )

    # --- retention ----------------------------------------------------------------------

    def purge(
        self,
        older_than_days: float,
        now: datetime | None = None,
        pending_max_age: timedelta = PENDING_SNAPSHOT_MAX_AGE,
    ) -> dict[str, int]:
        """Delete what was *received* more than ``older_than_days`` ago (the hub's clock, not
        a node's): alerts and their snapshot files, status history, quarantine, audit, and
        expired sessions. Snapshots whose alert never came go after ``pending_max_age``.
        Returns how many of each were deleted."""
        now = now or utc_now()
        cutoff = iso(now - timedelta(days=older_than_days))
        pending_cutoff = iso(now - pending_max_age)
        old_alert_files = "SELECT snapshot_path FROM alerts WHERE received_at < ?"
        deletes = {
            "alerts": ("DELETE FROM alerts WHERE received_at < ?", cutoff),
            "pending_snapshots": (
                "DELETE FROM pending_snapshots WHERE received_at < ?",
                pending_cutoff,
            ),
            "node_status": ("DELETE FROM node_status WHERE received_at < ?", cutoff),
            "quarantine": ("DELETE FROM quarantine WHERE received_at < ?", cutoff),
            "audit": ("DELETE FROM audit WHERE ts < ?", cutoff),
            "sessions": ("DELETE FROM sessions WHERE expires_at < ?", iso(now)),
        }
        with self.lock, self.db.atomic():
            files = [r[0] for r in self.db.execute(old_alert_files, [cutoff]) if r[0]]
            files += [
                r[0]
                for r in self.db.execute(
                    "SELECT path FROM pending_snapshots WHERE received_at < ?", [pending_cutoff]
                )
            ]
            counts = {
                name: self.db.execute(sql, [arg]).rowcount for name, (sql, arg) in deletes.items()
            }
        for rel in files:
            path = self.data_dir / rel
            path.unlink(missing_ok=True)
            _remove_empty_dirs(path.parent, self.snapshot_root)
        counts["snapshot_files"] = len(files)
        if any(counts.values()):
            log.info("retention purge (%s days): %s", older_than_days, counts)
        return counts

    def _one(self, sql: str, args: list) -> dict | None:
        return first_row(self.db, sql, args)


def _alert_dict(row: dict) -> dict:
    out = dict(row)
    out["objects"] = json.loads(row["objects"])
    out["frame_size"] = json.loads(row["frame_size"]) if row["frame_size"] else None
    out["has_snapshot"] = bool(row["has_snapshot"])
    return out


def _write_durably(path: Path, data: bytes) -> None:
    """Write via a temporary file, fsync, then rename: a crash leaves old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remove_empty_dirs(folder: Path, stop: Path) -> None:
    """Remove ``folder`` and its parents while empty, never ``stop`` itself."""
    stop, folder = stop.resolve(), folder.resolve()
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
