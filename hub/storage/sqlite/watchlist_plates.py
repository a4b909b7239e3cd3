"""The plate side of the watchlist tables: which entry a plate alarm matched, and the plate
log (every read, kept only when the site logs plates, for its retention).

A mixin of :class:`hub.storage.sqlite.watchlist.SqliteWatchlistRepository` (its tables are
created by that module's migrations), kept apart so each file stays one subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.storage.sqlite.database import SqliteDatabase, from_iso, iso


@dataclass(frozen=True)
class PlateHitRow:
    alert_id: str
    entry_id: str
    plate: str | None
    score: float
    at: datetime


@dataclass(frozen=True)
class PlateLogRow:
    alert_id: str
    plate: str
    node: str
    camera: str | None
    area: str
    at: datetime
    keep_until: datetime


class PlateTables:
    database: SqliteDatabase

    # --- plate hits -----------------------------------------------------------------------

    def add_plate_hit(self, row: PlateHitRow) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT OR IGNORE INTO watchlist_plate_hits (alert_id, entry_id, plate, score, at)"
                " VALUES (?, ?, ?, ?, ?)",
                [row.alert_id, row.entry_id, row.plate, row.score, iso(row.at)],
            )

    def plate_hits(self, limit: int = 50) -> list[PlateHitRow]:
        rows = self.database.all(
            "SELECT * FROM watchlist_plate_hits ORDER BY at DESC LIMIT ?", [limit]
        )
        return [
            PlateHitRow(r["alert_id"], r["entry_id"], r["plate"], r["score"], from_iso(r["at"]))
            for r in rows
        ]

    def delete_plate_hits(self, alert_ids: list[str]) -> None:
        with self.database.write() as db:
            for alert_id in alert_ids:
                db.execute("DELETE FROM watchlist_plate_hits WHERE alert_id = ?", [alert_id])

    def purge_plate_hits(self) -> int:
        """Hits whose alert is gone (past the alerts' retention, or erased)."""
        with self.database.write() as db:
            return db.execute(
                "DELETE FROM watchlist_plate_hits WHERE alert_id NOT IN (SELECT id FROM alerts)"
            ).rowcount

    # --- plate log ------------------------------------------------------------------------

    def log_plate(self, row: PlateLogRow, key: str) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT OR IGNORE INTO plate_log (alert_id, plate, plate_key, node, camera, area,"
                " at, keep_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    row.alert_id, row.plate, key, row.node, row.camera, row.area,
                    iso(row.at), iso(row.keep_until),
                ],
            )  # fmt: skip

    def plate_log(self, limit: int = 500) -> list[PlateLogRow]:
        rows = self.database.all("SELECT * FROM plate_log ORDER BY at DESC LIMIT ?", [limit])
        return [_log_row(r) for r in rows]

    def delete_plate_log(self, alert_ids: list[str]) -> None:
        with self.database.write() as db:
            for alert_id in alert_ids:
                db.execute("DELETE FROM plate_log WHERE alert_id = ?", [alert_id])

    def purge_plate_log(self, now: datetime) -> int:
        with self.database.write() as db:
            return db.execute("DELETE FROM plate_log WHERE keep_until <= ?", [iso(now)]).rowcount


def _log_row(r: dict) -> PlateLogRow:
    return PlateLogRow(
        r["alert_id"], r["plate"], r["node"], r["camera"], r["area"],
        from_iso(r["at"]), from_iso(r["keep_until"]),
    )  # fmt: skip
