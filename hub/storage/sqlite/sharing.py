"""Data sharing in SQLite: department accounts, their scoped tokens, and the hourly counts
the shared datasets are built from (migration set ``villagewatch-hub-sharing``).

* ``sharing_accounts`` — a department that receives data (name, department, contact).
* ``sharing_tokens`` — one grant each: the agreement it is given under, its scope (datasets,
  areas, period of data), expiry, rate limit, who issued and who revoked it, and its last
  use. Only the SHA-256 of the token is stored, as for login sessions: a copied database
  file reads nothing.

:meth:`SqliteSharingRepository.hourly_counts` reads the incident and alert tables (owned by
their repositories) *read-only*, with one GROUP BY over the indexes they already have on
``opened_at`` and ``(area, received_at)``: the counts are computed in SQLite, so no row
with a position, a plate or a snapshot path is ever loaded into the sharing code, and
cells below k are dropped there too (``HAVING``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlite_utils.migrations import Migrations

from hub.domain.incidents import Category, Outcome
from hub.sharing.kanon import Cell
from hub.sharing.scope import Dataset, Grant
from hub.storage.repositories import Storage
from hub.storage.sqlite.database import SqliteDatabase, from_iso, iso, marks

migrations = Migrations("villagewatch-hub-sharing")


@migrations()
def m001_sharing(db) -> None:
    db.execute(
        """CREATE TABLE sharing_accounts (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            department TEXT NOT NULL,
            contact TEXT,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE sharing_tokens (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES sharing_accounts (id),
            token_hash TEXT NOT NULL UNIQUE,
            agreement TEXT NOT NULL,
            datasets TEXT NOT NULL,
            areas TEXT NOT NULL,
            data_from TEXT NOT NULL,
            data_until TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            rate_per_min INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            revoked_by TEXT,
            last_used_at TEXT,
            uses INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute("CREATE INDEX sharing_tokens_account ON sharing_tokens (account_id)")


#: The hour an ISO time text falls in, as ISO text: '2026-12-02T21:03:04.123+00:00' →
#: '2026-12-02T21:00:00.000+00:00' (times are stored in UTC, see database.iso).
_HOUR = "substr({col}, 1, 13) || ':00:00.000+00:00'"

_COUNT_SQL = {
    # Security incidents; a duplicate is the same event opened twice, so it is not counted.
    Dataset.INCIDENT_COUNTS: (
        "SELECT {hour} AS hour, area, kind, count(*) AS n FROM incidents"
        " WHERE opened_at >= ? AND opened_at < ? AND category = '{security}'"
        " AND coalesce(outcome, '') != '{duplicate}' AND area IN ({areas})"
        " GROUP BY 1, 2, 3 HAVING count(*) >= ?"
    ),
    Dataset.ALERT_COUNTS: (
        "SELECT {hour} AS hour, area, kind, count(*) AS n FROM alerts"
        " WHERE received_at >= ? AND received_at < ? AND ts >= ? AND ts < ?"
        " AND area IN ({areas}) GROUP BY 1, 2, 3 HAVING count(*) >= ?"
    ),
}
_TIME_COLUMN = {Dataset.INCIDENT_COUNTS: "opened_at", Dataset.ALERT_COUNTS: "ts"}
#: Alerts are counted in the hour they *happened* (``ts``), but found through the index on
#: (area, received_at): only alerts received from an hour before the period (gateway clocks
#: ahead) to a week after it (alerts a gateway buffered while offline) are looked at. An
#: alert delivered more than a week late is not counted; the scan stays the period's rows,
#: not the whole table (bench/sharing_export.py).
ALERT_EARLY = timedelta(hours=1)
ALERT_LATE = timedelta(days=7)


class SqliteSharingRepository:
    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        database.migrate(migrations)

    # -- accounts ----------------------------------------------------------------------

    def add_account(self, row: dict) -> None:
        with self.database.write() as db:
            db["sharing_accounts"].insert(row)

    def accounts(self) -> list[dict]:
        return self.database.all("SELECT * FROM sharing_accounts ORDER BY name, id")

    def account(self, account_id: str) -> dict | None:
        return self.database.one("SELECT * FROM sharing_accounts WHERE id = ?", [account_id])

    # -- tokens ------------------------------------------------------------------------

    def add_grant(self, grant: Grant, token_hash: str) -> None:
        row = {
            "id": grant.id,
            "account_id": grant.account_id,
            "token_hash": token_hash,
            "agreement": grant.agreement,
            "datasets": json.dumps([d.value for d in grant.datasets]),
            "areas": json.dumps(list(grant.areas)),
            "data_from": iso(grant.data_from),
            "data_until": iso(grant.data_until),
            "expires_at": iso(grant.expires_at),
            "rate_per_min": grant.rate_per_min,
            "created_by": grant.created_by,
            "created_at": iso(grant.created_at),
        }
        with self.database.write() as db:
            db["sharing_tokens"].insert(row)

    def grant_by_hash(self, token_hash: str) -> Grant | None:
        row = self.database.one("SELECT * FROM sharing_tokens WHERE token_hash = ?", [token_hash])
        return _grant(row) if row else None

    def grants(self) -> list[Grant]:
        rows = self.database.all("SELECT * FROM sharing_tokens ORDER BY created_at, id")
        return [_grant(r) for r in rows]

    def revoke(self, grant_id: str, by: str, at: datetime) -> bool:
        """True if the token was live and is now revoked."""
        with self.database.write() as db:
            n = db.execute(
                "UPDATE sharing_tokens SET revoked_at = ?, revoked_by = ?"
                " WHERE id = ? AND revoked_at IS NULL",
                [iso(at), by, grant_id],
            ).rowcount
        return bool(n)

    def used(self, grant_id: str, at: datetime) -> None:
        with self.database.write() as db:
            db.execute(
                "UPDATE sharing_tokens SET last_used_at = ?, uses = uses + 1 WHERE id = ?",
                [iso(at), grant_id],
            )

    # -- counts ------------------------------------------------------------------------

    def hourly_counts(
        self, dataset: Dataset, start: datetime, end: datetime, areas: list[str], at_least: int
    ) -> list[Cell]:
        """Counts per (hour, area, kind) in [start, end) for ``areas``, only those of at
        least ``at_least`` (k): small cells are dropped inside SQLite (``HAVING``), so they
        never reach Python, and there are far fewer rows to build. The caller still runs
        :func:`hub.sharing.kanon.suppress` over them: the rule lives there."""
        if not areas:
            return []
        sql = _COUNT_SQL[dataset].format(
            hour=_HOUR.format(col=_TIME_COLUMN[dataset]),
            security=Category.SECURITY.value,
            duplicate=Outcome.DUPLICATE.value,
            areas=marks(areas),
        )
        window = [iso(start), iso(end)]
        if dataset == Dataset.ALERT_COUNTS:
            window = [iso(start - ALERT_EARLY), iso(end + ALERT_LATE), *window]
        rows = self.database.all(sql, [*window, *areas, at_least])
        return [Cell(datetime.fromisoformat(r["hour"]), r["area"], r["kind"], r["n"]) for r in rows]


def _grant(row: dict) -> Grant:
    return Grant(
        id=row["id"],
        account_id=row["account_id"],
        agreement=row["agreement"],
        datasets=tuple(Dataset(d) for d in json.loads(row["datasets"])),
        areas=tuple(json.loads(row["areas"])),
        data_from=from_iso(row["data_from"]),
        data_until=from_iso(row["data_until"]),
        expires_at=from_iso(row["expires_at"]),
        rate_per_min=row["rate_per_min"],
        created_by=row["created_by"],
        created_at=from_iso(row["created_at"]),
        revoked_at=from_iso(row["revoked_at"]),
        revoked_by=row["revoked_by"],
        last_used_at=from_iso(row["last_used_at"]),
        uses=row["uses"],
    )


def sharing_for(storage: Storage) -> SqliteSharingRepository:
    """The sharing tables in the same SQLite file as ``storage``, on its connection and
    writer lock (like :func:`hub.storage.sqlite.sensors.sensors_for`)."""
    return SqliteSharingRepository(storage.alerts.database)  # type: ignore[attr-defined]
