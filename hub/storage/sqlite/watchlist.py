"""Watchlists in SQLite: authorisations, plate and face entries, face candidates and their
verdicts, and the plate log.

Entries and authorisations are kept whole as the wire model's JSON (``body``), with the
columns queries need beside it (expiry, plate key, authorisation): the model read back is
exactly what the gateways are sent. Files (encrypted enrolment photos and match crops) live
under ``<data_dir>/watchlist/`` and are named by the rows here; deleting a row deletes its
file (:mod:`hub.watchlist.vault`), so nothing outlives its entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils.migrations import Migrations

from contract.watchlist import Authorisation, FaceEntry, PlateEntry
from hub.storage.repositories import Storage
from hub.storage.sqlite.database import SqliteDatabase, from_iso, iso
from hub.storage.sqlite.watchlist_plates import PlateHitRow, PlateLogRow, PlateTables

migrations = Migrations("villagewatch-hub-watchlist")


@migrations()
def m001_watchlist(db) -> None:
    db.execute(
        """CREATE TABLE watchlist_authorisations (
            id TEXT PRIMARY KEY, body TEXT NOT NULL, created_by TEXT NOT NULL,
            created_at TEXT NOT NULL, ended_at TEXT, ended_why TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE watchlist_plates (
            id TEXT PRIMARY KEY, body TEXT NOT NULL, plate_key TEXT NOT NULL,
            created_by TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE watchlist_faces (
            id TEXT PRIMARY KEY, authorisation TEXT NOT NULL, body TEXT NOT NULL,
            enrolled_by TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,
            photo TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE watchlist_candidates (
            alert_id TEXT PRIMARY KEY, entry_id TEXT NOT NULL, authorisation TEXT,
            enrolled_by TEXT NOT NULL, score REAL NOT NULL, node TEXT NOT NULL,
            camera TEXT, area TEXT NOT NULL, received_at TEXT NOT NULL,
            keep_until TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
            crop TEXT, incident_id TEXT
        )"""
    )
    db.execute("CREATE INDEX watchlist_candidates_entry ON watchlist_candidates (entry_id)")
    db.execute(
        """CREATE TABLE watchlist_verdicts (
            alert_id TEXT NOT NULL, username TEXT NOT NULL, verdict TEXT NOT NULL,
            at TEXT NOT NULL, PRIMARY KEY (alert_id, username)
        )"""
    )
    db.execute(
        """CREATE TABLE plate_log (
            alert_id TEXT PRIMARY KEY, plate TEXT NOT NULL, plate_key TEXT NOT NULL,
            node TEXT NOT NULL, camera TEXT, area TEXT NOT NULL, at TEXT NOT NULL,
            keep_until TEXT NOT NULL
        )"""
    )


@migrations()
def m002_plate_hits(db) -> None:
    # The alerts table keeps an alert's columns, not its WatchlistHit: which entry a plate
    # alarm matched (and the text read) is kept here, as long as its alert is.
    db.execute(
        """CREATE TABLE watchlist_plate_hits (
            alert_id TEXT PRIMARY KEY, entry_id TEXT NOT NULL, plate TEXT,
            score REAL NOT NULL, at TEXT NOT NULL
        )"""
    )


@dataclass(frozen=True)
class AuthorisationRow:
    authorisation: Authorisation
    created_by: str
    created_at: datetime
    ended_at: datetime | None
    ended_why: str | None


@dataclass(frozen=True)
class PlateRow:
    entry: PlateEntry
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class FaceRow:
    entry: FaceEntry
    enrolled_by: str
    created_at: datetime
    photo: str  # file under the data folder (encrypted)


@dataclass(frozen=True)
class CandidateRow:
    alert_id: str
    entry_id: str
    authorisation: str | None
    enrolled_by: str
    score: float
    node: str
    camera: str | None
    area: str
    received_at: datetime
    keep_until: datetime
    state: str  # pending | verified | rejected
    crop: str | None
    incident_id: str | None


class SqliteWatchlistRepository(PlateTables):
    """Every watchlist table, on the hub's SQLite file and its writer lock (the plate
    hits and the plate log are :class:`~hub.storage.sqlite.watchlist_plates.PlateTables`)."""

    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        self.transaction = database.write
        database.migrate(migrations)

    # --- authorisations -------------------------------------------------------------------

    def add_authorisation(self, auth: Authorisation, by: str, at: datetime) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO watchlist_authorisations (id, body, created_by, created_at)"
                " VALUES (?, ?, ?, ?)",
                [auth.id, auth.model_dump_json(), by, iso(at)],
            )

    def end_authorisation(self, auth_id: str, at: datetime, why: str) -> bool:
        with self.database.write() as db:
            cur = db.execute(
                "UPDATE watchlist_authorisations SET ended_at = ?, ended_why = ?"
                " WHERE id = ? AND ended_at IS NULL",
                [iso(at), why, auth_id],
            )
            return cur.rowcount > 0

    def authorisations(self, live_only: bool = False) -> list[AuthorisationRow]:
        where = " WHERE ended_at IS NULL" if live_only else ""
        rows = self.database.all(
            f"SELECT * FROM watchlist_authorisations{where} ORDER BY created_at"
        )
        return [_auth_row(r) for r in rows]

    def authorisation(self, auth_id: str) -> AuthorisationRow | None:
        row = self.database.one("SELECT * FROM watchlist_authorisations WHERE id = ?", [auth_id])
        return _auth_row(row) if row else None

    # --- entries --------------------------------------------------------------------------

    def add_plate(self, entry: PlateEntry, key: str, by: str, at: datetime) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO watchlist_plates (id, body, plate_key, created_by, created_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                [entry.id, entry.model_dump_json(), key, by, iso(at), iso(entry.expires_at)],
            )

    def plates(self) -> list[PlateRow]:
        rows = self.database.all("SELECT * FROM watchlist_plates ORDER BY created_at")
        return [
            PlateRow(
                PlateEntry.model_validate_json(r["body"]),
                r["created_by"],
                from_iso(r["created_at"]),
            )
            for r in rows
        ]

    def add_face(self, entry: FaceEntry, by: str, at: datetime, photo: str) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO watchlist_faces (id, authorisation, body, enrolled_by, created_at,"
                " expires_at, photo) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    entry.id,
                    entry.authorisation,
                    entry.model_dump_json(),
                    by,
                    iso(at),
                    iso(entry.expires_at),
                    photo,
                ],
            )

    def faces(self, authorisation: str | None = None) -> list[FaceRow]:
        sql, args = "SELECT * FROM watchlist_faces", []
        if authorisation is not None:
            sql, args = sql + " WHERE authorisation = ?", [authorisation]
        return [_face_row(r) for r in self.database.all(sql + " ORDER BY created_at", args)]

    def face(self, entry_id: str) -> FaceRow | None:
        row = self.database.one("SELECT * FROM watchlist_faces WHERE id = ?", [entry_id])
        return _face_row(row) if row else None

    def delete_entry(self, entry_id: str) -> str | None:
        """Delete a plate or face entry; returns the face's photo file to delete, if any."""
        with self.database.write() as db:
            face = self.face(entry_id)
            db.execute("DELETE FROM watchlist_plates WHERE id = ?", [entry_id])
            db.execute("DELETE FROM watchlist_faces WHERE id = ?", [entry_id])
        return face.photo if face else None

    def entry_exists(self, entry_id: str) -> bool:
        return bool(
            self.database.scalar(
                "SELECT (SELECT count(*) FROM watchlist_plates WHERE id = ?)"
                " + (SELECT count(*) FROM watchlist_faces WHERE id = ?)",
                [entry_id, entry_id],
            )
        )

    def expired_entries(self, now: datetime) -> list[str]:
        rows = self.database.all(
            "SELECT id FROM watchlist_plates WHERE expires_at <= ?"
            " UNION ALL SELECT id FROM watchlist_faces WHERE expires_at <= ?",
            [iso(now), iso(now)],
        )
        return [r["id"] for r in rows]

    # --- candidates -----------------------------------------------------------------------

    def add_candidate(self, row: CandidateRow) -> bool:
        """A face match from a gateway; False if this alert is a candidate already."""
        with self.database.write() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO watchlist_candidates (alert_id, entry_id, authorisation,"
                " enrolled_by, score, node, camera, area, received_at, keep_until, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    row.alert_id, row.entry_id, row.authorisation, row.enrolled_by, row.score,
                    row.node, row.camera, row.area, iso(row.received_at), iso(row.keep_until),
                    row.state,
                ],
            )  # fmt: skip
            return cur.rowcount > 0

    def candidate(self, alert_id: str) -> CandidateRow | None:
        row = self.database.one("SELECT * FROM watchlist_candidates WHERE alert_id = ?", [alert_id])
        return _candidate_row(row) if row else None

    def candidates(self, limit: int = 200) -> list[CandidateRow]:
        rows = self.database.all(
            "SELECT * FROM watchlist_candidates ORDER BY received_at DESC LIMIT ?", [limit]
        )
        return [_candidate_row(r) for r in rows]

    def candidates_without_crop(self) -> list[str]:
        rows = self.database.all("SELECT alert_id FROM watchlist_candidates WHERE crop IS NULL")
        return [r["alert_id"] for r in rows]

    def set_candidate(self, alert_id: str, **fields: object) -> None:
        allowed = {"state", "crop", "incident_id"}
        assert set(fields) <= allowed, fields
        sets = ", ".join(f"{name} = ?" for name in fields)
        with self.database.write() as db:
            db.execute(
                f"UPDATE watchlist_candidates SET {sets} WHERE alert_id = ?",
                [*fields.values(), alert_id],
            )

    def unlink_alert_snapshot(self, alert_id: str) -> None:
        """Forget a face-match alert's plain JPEG in the alerts table, once its crop is sealed
        here: the crop is biometric data, kept encrypted under the authorisation's retention,
        and must not stay readable as an ordinary alert snapshot (the one write to another
        aggregate's table, on purpose)."""
        with self.database.write() as db:
            db.execute("UPDATE alerts SET snapshot_path = NULL WHERE id = ?", [alert_id])

    def named_files(self) -> set[str]:
        """Every sealed file a row names (the vault's orphan sweep keeps these)."""
        rows = self.database.all(
            "SELECT photo AS f FROM watchlist_faces"
            " UNION ALL SELECT crop AS f FROM watchlist_candidates WHERE crop IS NOT NULL"
        )
        return {r["f"] for r in rows}

    def add_verdict(self, alert_id: str, username: str, verdict: str, at: datetime) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO watchlist_verdicts (alert_id, username, verdict, at)"
                " VALUES (?, ?, ?, ?)",
                [alert_id, username, verdict, iso(at)],
            )

    def verdicts(self, alert_id: str) -> list[tuple[str, str, datetime]]:
        rows = self.database.all(
            "SELECT username, verdict, at FROM watchlist_verdicts WHERE alert_id = ?"
            " ORDER BY at, username",
            [alert_id],
        )
        return [(r["username"], r["verdict"], from_iso(r["at"])) for r in rows]

    def false_matches(self) -> dict[str, int]:
        """Rejected candidates per entry id."""
        rows = self.database.all(
            "SELECT entry_id, count(*) AS n FROM watchlist_candidates"
            " WHERE state = 'rejected' GROUP BY entry_id"
        )
        return {r["entry_id"]: r["n"] for r in rows}

    def delete_candidate(self, alert_id: str) -> str | None:
        """Delete a candidate and its verdicts; returns its crop file to delete."""
        with self.database.write() as db:
            found = self.candidate(alert_id)
            db.execute("DELETE FROM watchlist_verdicts WHERE alert_id = ?", [alert_id])
            db.execute("DELETE FROM watchlist_candidates WHERE alert_id = ?", [alert_id])
        return found.crop if found else None

    def expired_candidates(self, now: datetime) -> list[str]:
        rows = self.database.all(
            "SELECT alert_id FROM watchlist_candidates WHERE keep_until <= ?", [iso(now)]
        )
        return [r["alert_id"] for r in rows]


def watchlist_for(storage: Storage) -> SqliteWatchlistRepository:
    """The watchlist tables in the same SQLite file as ``storage``, like
    :func:`hub.storage.sqlite.sensors.sensors_for`."""
    return SqliteWatchlistRepository(storage.alerts.database)  # type: ignore[attr-defined]


def _auth_row(r: dict) -> AuthorisationRow:
    return AuthorisationRow(
        Authorisation.model_validate_json(r["body"]),
        r["created_by"],
        from_iso(r["created_at"]),
        from_iso(r["ended_at"]),
        r["ended_why"],
    )


def _face_row(r: dict) -> FaceRow:
    entry = FaceEntry.model_validate_json(r["body"])
    return FaceRow(entry, r["enrolled_by"], from_iso(r["created_at"]), r["photo"])


def _candidate_row(r: dict) -> CandidateRow:
    return CandidateRow(
        alert_id=r["alert_id"],
        entry_id=r["entry_id"],
        authorisation=r["authorisation"],
        enrolled_by=r["enrolled_by"],
        score=r["score"],
        node=r["node"],
        camera=r["camera"],
        area=r["area"],
        received_at=from_iso(r["received_at"]),
        keep_until=from_iso(r["keep_until"]),
        state=r["state"],
        crop=r["crop"],
        incident_id=r["incident_id"],
    )


__all__ = ["PlateHitRow", "PlateLogRow", "SqliteWatchlistRepository", "watchlist_for"]
