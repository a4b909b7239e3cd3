"""Alerts and their snapshots in SQLite (rows) and on disk (JPEG files).

One row per unique ``Alert.id``: QoS 1 delivers at least once, so a known id is counted as a
duplicate and dropped. A snapshot may arrive before its alert (they travel on two topics);
it waits in ``pending_snapshots`` and is linked when the alert comes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import TypeAdapter

from contract.files import write_durably
from contract.protocol import Alert, DetectedObject, ProtocolError
from hub.domain.alerts import AlertInsert, AlertPage, AlertQuery, AlertRecord
from hub.storage.sqlite.alert_schema import migrations
from hub.storage.sqlite.counters import SqliteCounters
from hub.storage.sqlite.database import (
    BAD_CURSOR,
    SQLITE_INT_MAX,
    SqliteDatabase,
    decode_cursor,
    encode_cursor,
    from_iso,
    iso,
    marks,
)
from hub.storage.sqlite.nodes import SqliteNodeRepository
from hub.storage.sqlite.quarantine import SqliteQuarantine


class SqliteAlertRepository:
    """Alerts, pending snapshots and snapshot files (see :class:`AlertRepository`)."""

    def __init__(
        self,
        database: SqliteDatabase,
        data_dir: Path,
        nodes: SqliteNodeRepository,
        counters: SqliteCounters,
        quarantine: SqliteQuarantine,
    ) -> None:
        self.database = database
        self.data_dir = Path(data_dir)
        self.snapshot_root = self.data_dir / "snapshots"
        self.nodes = nodes
        self.counters = counters
        self.quarantine = quarantine
        database.migrate(migrations)

    # --- alerts ------------------------------------------------------------------------

    def insert(self, alert: Alert, received_at: datetime) -> AlertInsert:
        """One alert (see :meth:`insert_many`); a known id is counted as a duplicate."""
        with self.database.write() as db:
            if db.conn.execute("SELECT 1 FROM alerts WHERE id = ?", [alert.id]).fetchone():
                self.counters.bump("duplicates")
                return AlertInsert(stored=False)
            return self.insert_many([AlertRecord.received(alert, received_at)])[0]

    def insert_many(self, records: Sequence[AlertRecord]) -> list[AlertInsert]:
        """Store alerts whose ids are distinct and not stored yet (the caller checked with
        :meth:`known_ids`), each with its incident, linking snapshots that came first: one
        statement per kind of write, not per alert (ingest's hot path, 10,000 alerts/s).
        Raises if any alert cannot be stored; then none is (savepoint)."""
        db, drop_files, done = self.database, [], []
        with db.write():
            conn = db.db.conn
            gaps = self.nodes.account_seq_many(records)
            pending = self._take_pending([r.id for r in records])
            rows, received = [], {}
            for record, gap in zip(records, gaps, strict=True):
                snapshot_path, rejected = None, None
                early = pending.get(record.id)
                if early and (early["site"], early["node"]) == (record.site, record.node):
                    snapshot_path = early["path"]
                    record = record.model_copy(update={"snapshot_ready": True})
                elif early:  # another node sent a snapshot for this alert id first
                    rejected = f"{early['site']}/{early['node']}/snapshot/{record.id}"
                    drop_files.append(self.data_dir / early["path"])
                    why = f"snapshot from {early['node']} for an alert of {record.node}"
                    self.quarantine.add(record.received_at, rejected, "node_mismatch", why, b"")
                at = record.received_at  # one per batch: formatted once
                if at not in received:
                    received[at] = iso(at)
                rows.append(_row(record, snapshot_path, received[at]))
                done.append(AlertInsert(True, record, gap, rejected))
            conn.executemany(_INSERT_SQL, rows)
            conn.executemany(_SOURCE_SQL, {_source(r) for r in records if r.incident_id})
            self.counters.bump("alerts", len(rows))
            self.counters.bump("seq_gaps_seen", sum(gaps))
        for path in drop_files:
            path.unlink(missing_ok=True)
        return done

    def _take_pending(self, alert_ids: list[str]) -> dict[str, dict]:
        """Snapshots that came before these alerts, taken out of ``pending_snapshots``."""
        found: dict[str, dict] = {}
        for chunk in _chunks(alert_ids):
            sql = f"SELECT * FROM pending_snapshots WHERE alert_id IN ({marks(chunk)})"
            for row in self.database.all(sql, chunk):
                found[row["alert_id"]] = row
        if found:
            self.database.db.conn.executemany(
                "DELETE FROM pending_snapshots WHERE alert_id = ?", [[i] for i in found]
            )
        return found

    def known_ids(self, alert_ids: list[str]) -> dict[str, bool]:
        known: dict[str, bool] = {}
        with self.database.read() as db:
            for chunk in _chunks(alert_ids):
                rows = db.conn.execute(
                    "SELECT id, snapshot_path IS NOT NULL FROM alerts"
                    f" WHERE id IN ({marks(chunk)})",
                    chunk,
                )
                known.update((i, bool(ready)) for i, ready in rows)
        return known

    def get(self, alert_id: str) -> AlertRecord | None:
        row = self.database.one("SELECT * FROM alerts WHERE id = ?", [alert_id])
        return _record(row) if row else None

    def find(self, query: AlertQuery) -> AlertPage:
        where, args = [], []

        def add(clause: str, *values: object) -> None:
            where.append(clause)
            args.extend(values)

        if query.severity:
            add(f"severity IN ({marks(query.severity)})", *map(str, query.severity))
        for column in ("kind", "area", "node"):
            if getattr(query, column):
                add(f"{column} = ?", getattr(query, column))
        if query.hidden_kinds:
            add(f"kind NOT IN ({marks(query.hidden_kinds)})", *query.hidden_kinds)
        if query.status:
            # EXISTS, not IN (...): SQLite then walks alerts newest first and stops at the
            # page; IN gathered and sorted every matching alert (873 ms on 1M alerts).
            states = marks(query.status)
            add(
                "EXISTS (SELECT 1 FROM incidents WHERE incidents.id = alerts.incident_id"
                f" AND incidents.state IN ({states}))",
                *query.status,
            )
        if query.text:
            like = "%" + query.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            like += "%"
            add(
                "(message LIKE ? ESCAPE '\\' OR kind LIKE ? ESCAPE '\\' OR zone LIKE ? ESCAPE '\\'"
                " OR area LIKE ? ESCAPE '\\' OR node LIKE ? ESCAPE '\\')",
                *[like] * 5,
            )
        if query.since:
            add("received_at > ?", iso(query.since))
        if query.before:
            add("received_at < ?", iso(query.before))
        if query.cursor:
            received, rowid = _decode_cursor(query.cursor)
            add("(received_at < ? OR (received_at = ? AND rowid < ?))", received, received, rowid)
        sql = "SELECT rowid AS _rowid, * FROM alerts"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        sql += " ORDER BY received_at DESC, rowid DESC LIMIT ?"
        rows = self.database.all(sql, [*args, query.limit + 1])
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        cursor = encode_cursor(rows[-1]["received_at"], rows[-1]["_rowid"]) if more else None
        return AlertPage([_record(r) for r in rows], cursor)

    def ids(self) -> list[str]:
        with self.database.read() as db:
            return [r[0] for r in db.execute("SELECT id FROM alerts ORDER BY received_at, rowid")]

    def count(self) -> int:
        return int(self.database.scalar("SELECT COUNT(*) FROM alerts") or 0)

    def set_incident(self, alert_id: str, incident_id: str) -> None:
        with self.database.write() as db:
            db.execute("UPDATE alerts SET incident_id = ? WHERE id = ?", [incident_id, alert_id])
            db.execute(
                "INSERT OR IGNORE INTO incident_sources SELECT incident_id, node,"
                " COALESCE(camera, ''), COALESCE(zone, ''), kind FROM alerts WHERE id = ?",
                [alert_id],
            )

    def for_incident(self, incident_id: str) -> list[AlertRecord]:
        rows = self.database.all(
            "SELECT * FROM alerts WHERE incident_id = ? ORDER BY received_at, rowid", [incident_id]
        )
        return [_record(r) for r in rows]

    # --- snapshots ---------------------------------------------------------------------

    def save_snapshot(
        self, site: str, node: str, alert_id: str, jpeg: bytes, received_at: datetime
    ) -> str:
        db = self.database
        with db.write():
            alert = db.one(
                "SELECT site, node, ts, snapshot_path FROM alerts WHERE id = ?", [alert_id]
            )
            pending = None
            if alert is None:
                pending = db.one(
                    "SELECT site, node FROM pending_snapshots WHERE alert_id = ?", [alert_id]
                )
            owner = alert or pending
            if owner and (owner["site"], owner["node"]) != (site, node):
                where = f"{owner['site']}/{owner['node']}"
                raise ProtocolError("node_mismatch", f"alert {alert_id} belongs to {where}")
            if pending or (alert and alert["snapshot_path"]):
                self.counters.bump("snapshot_duplicates")
                return "duplicate"
            day = datetime.fromisoformat(alert["ts"]) if alert else received_at
            rel = Path(
                "snapshots", site, day.astimezone(UTC).strftime("%Y-%m-%d"), f"{alert_id}.jpg"
            )
            write_durably(self.data_dir / rel, jpeg)
            try:
                if alert:
                    db.db.execute(
                        "UPDATE alerts SET snapshot_path = ? WHERE id = ?", [str(rel), alert_id]
                    )
                else:
                    db.db.execute(
                        "INSERT INTO pending_snapshots VALUES (?, ?, ?, ?, ?)",
                        [alert_id, site, node, str(rel), iso(received_at)],
                    )
                self.counters.bump("snapshots")
            except Exception:
                (self.data_dir / rel).unlink(missing_ok=True)
                raise
        return "linked" if alert else "pending"

    def snapshot_file(self, alert_id: str) -> Path | None:
        row = self.database.one("SELECT snapshot_path FROM alerts WHERE id = ?", [alert_id])
        if not row or not row["snapshot_path"]:
            return None
        path = (self.data_dir / row["snapshot_path"]).resolve()
        # The path came from our own code, but never serve anything outside the snapshot root.
        if not path.is_relative_to(self.snapshot_root.resolve()) or not path.is_file():
            return None
        return path

    def pending_snapshot_ids(self) -> list[str]:
        return [r["alert_id"] for r in self.database.all("SELECT alert_id FROM pending_snapshots")]

    # --- retention ---------------------------------------------------------------------

    def purge(self, received_before: datetime, pending_before: datetime) -> dict[str, int]:
        cutoff, pending_cutoff = iso(received_before), iso(pending_before)
        with self.database.write() as db:
            files = [
                r[0]
                for r in db.execute(
                    "SELECT snapshot_path FROM alerts WHERE received_at < ?", [cutoff]
                )
                if r[0]
            ]
            files += [
                r[0]
                for r in db.execute(
                    "SELECT path FROM pending_snapshots WHERE received_at < ?", [pending_cutoff]
                )
            ]
            counts = {
                "alerts": db.execute("DELETE FROM alerts WHERE received_at < ?", [cutoff]).rowcount,
                "pending_snapshots": db.execute(
                    "DELETE FROM pending_snapshots WHERE received_at < ?", [pending_cutoff]
                ).rowcount,
            }
        for rel in files:
            path = self.data_dir / rel
            path.unlink(missing_ok=True)
            _remove_empty_dirs(path.parent, self.snapshot_root)
        counts["snapshot_files"] = len(files)
        return counts


_INSERT_SQL = (
    "INSERT INTO alerts (id, site, node, seq, ts, received_at, kind, severity, area,"
    " zone, camera, message, objects, frame_size, has_snapshot, snapshot_path, incident_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


_OBJECTS = TypeAdapter(list[DetectedObject])


_SOURCE_SQL = "INSERT OR IGNORE INTO incident_sources VALUES (?, ?, ?, ?, ?)"


def _source(record: AlertRecord) -> tuple[str, str, str, str, str]:
    """``record``'s row of ``incident_sources`` (see m002)."""
    return (record.incident_id, record.node, record.camera or "", record.zone or "", record.kind)


def _row(record: AlertRecord, snapshot_path: str | None, received: str) -> list:
    """The alerts row of ``record``; ``received`` is ``iso(record.received_at)``, which
    the caller formats once per batch."""
    objects = _OBJECTS.dump_json(record.objects).decode() if record.objects else "[]"
    frame = f"[{record.frame_size[0]}, {record.frame_size[1]}]" if record.frame_size else None
    return [record.id, record.site, record.node, record.seq, iso(record.ts), received,
            record.kind, str(record.severity), record.area, record.zone, record.camera,
            record.message, objects, frame, int(record.has_snapshot), snapshot_path,
            record.incident_id]  # fmt: skip


def _record(row: dict) -> AlertRecord:
    return AlertRecord(
        id=row["id"],
        site=row["site"],
        node=row["node"],
        seq=row["seq"],
        ts=datetime.fromisoformat(row["ts"]),
        kind=row["kind"],
        severity=row["severity"],
        area=row["area"],
        zone=row["zone"],
        camera=row["camera"],
        message=row["message"],
        objects=json.loads(row["objects"]),
        frame_size=json.loads(row["frame_size"]) if row["frame_size"] else None,
        has_snapshot=bool(row["has_snapshot"]),
        received_at=from_iso(row["received_at"]),
        snapshot_ready=bool(row["snapshot_path"]),
        incident_id=row["incident_id"],
    )


def _chunks(ids: list[str], size: int = 500) -> Iterator[list[str]]:
    """``ids`` in slices small enough for one ``IN (...)`` (SQLite's variable limit)."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _decode_cursor(cursor: str) -> tuple[str, int]:
    """The (received_at, rowid) a page ends with; ValueError for a cursor we did not make."""
    received, rowid = decode_cursor(cursor, 2)
    if not rowid.isdigit() or int(rowid) > SQLITE_INT_MAX:  # SQLite could not even compare it
        raise ValueError(BAD_CURSOR)
    return received, int(rowid)


def _remove_empty_dirs(folder: Path, stop: Path) -> None:
    """Remove ``folder`` and its parents while empty, never ``stop`` itself."""
    stop, folder = stop.resolve(), folder.resolve()
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
