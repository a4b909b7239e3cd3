"""Users, login sessions and the audit trail in SQLite.

Only a hash of each session token is kept: a copied database file opens no sessions.

The audit trail is a hash chain: each row stores the hash of the row before it
(``prev_hash``) and its own ``hash = sha256(prev_hash || canonical row)``. Changing any
column of any row, deleting a row in the middle or swapping two rows breaks the chain, which
:mod:`hub.privacy.audit_chain` (``villagewatch audit verify``) walks. Retention deletes only
a *prefix* of the chain and writes the hash the first kept row chains from into
``audit_anchor`` in the same transaction, so what remains still verifies.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlite_utils.migrations import Migrations

from hub.domain.users import AuditEntry, Role, User
from hub.storage.sqlite.database import SqliteDatabase, iso

migrations = Migrations("villagewatch-hub-users")


@migrations()
def m001_users(db) -> None:
    roles = ", ".join(f"'{r.value}'" for r in Role)
    db.execute(
        f"""CREATE TABLE users (
            username TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ({roles})),
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX sessions_user ON sessions (username)")
    db.execute(
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            username TEXT,
            action TEXT NOT NULL,
            target TEXT,
            detail TEXT
        )"""
    )
    db.execute("CREATE INDEX audit_ts ON audit (ts)")
    db.execute("CREATE INDEX audit_action ON audit (action, id)")


#: What the first row of a chain chains from.
GENESIS_HASH = "0" * 64


@migrations()
def m002_audit_chain(db) -> None:
    """Chain the audit rows: two columns, the anchor table, and every existing row chained
    in id order (a database from before the chain is trusted as it stands on upgrade)."""
    db.execute("ALTER TABLE audit ADD COLUMN prev_hash TEXT")
    db.execute("ALTER TABLE audit ADD COLUMN hash TEXT")
    db.execute(
        """CREATE TABLE audit_anchor (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            prev_hash TEXT NOT NULL,
            purged_through INTEGER NOT NULL,
            purged_rows INTEGER NOT NULL,
            cutoff TEXT NOT NULL
        )"""
    )
    prev = GENESIS_HASH
    rows = db.execute("SELECT id, ts, username, action, target, detail FROM audit ORDER BY id")
    for row in rows.fetchall():
        digest = audit_row_hash(prev, *row[1:])
        db.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", [prev, digest, row[0]])
        prev = digest


def audit_row_hash(
    prev_hash: str,
    ts: str,
    username: str | None,
    action: str,
    target: str | None,
    detail: str | None,
) -> str:
    """``sha256(prev_hash || canonical row)``, hex. The row is canonical JSON (a list, so a
    column's value can never be shifted into its neighbour by an embedded separator). The id
    is left out on purpose: order is what ``prev_hash`` proves, so two rows swapped show as
    *reordered*, not merely modified."""
    canonical = json.dumps(
        [ts, username, action, target, detail], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


_USER_COLUMNS = "username, role, disabled, created_at"


def _user(row: dict) -> User:
    return User(
        username=row["username"],
        role=Role(row["role"]),
        disabled=bool(row["disabled"]),
        created_at=row["created_at"],
    )


class SqliteUserRepository:
    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        database.migrate(migrations)

    def create(self, username: str, role: Role, password_hash: str, at: datetime) -> User:
        with self.database.write() as db:
            if self.database.one("SELECT 1 FROM users WHERE username = ?", [username]):
                raise KeyError(f"user {username!r} already exists")
            db.execute(
                "INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                [username, str(role), password_hash, iso(at)],
            )
        return User(username=username, role=role, created_at=at)

    def get(self, username: str) -> User | None:
        row = self.database.one(f"SELECT {_USER_COLUMNS} FROM users WHERE username = ?", [username])
        return _user(row) if row else None

    def all(self) -> list[User]:
        return [
            _user(r) for r in self.database.all(f"SELECT {_USER_COLUMNS} FROM users ORDER BY 1")
        ]

    def with_role(self, roles: tuple[Role, ...]) -> list[User]:
        marks = ", ".join("?" * len(roles))
        rows = self.database.all(
            f"SELECT {_USER_COLUMNS} FROM users WHERE role IN ({marks}) AND NOT disabled",
            [str(r) for r in roles],
        )
        return [_user(r) for r in rows]

    def password_hash(self, username: str) -> str | None:
        row = self.database.one("SELECT password_hash FROM users WHERE username = ?", [username])
        return row["password_hash"] if row else None

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self._update(username, "password_hash", password_hash)

    def set_disabled(self, username: str, disabled: bool) -> None:
        self._update(username, "disabled", int(disabled))

    def _update(self, username: str, column: str, value: object) -> None:
        with self.database.write() as db:
            n = db.execute(
                f"UPDATE users SET {column} = ? WHERE username = ?", [value, username]
            ).rowcount
        if not n:
            raise KeyError(f"no user {username!r}")


class SqliteSessionRepository:
    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        database.migrate(migrations)

    def open(self, token_hash: str, username: str, at: datetime, expires: datetime) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO sessions (token_hash, username, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                [token_hash, username, iso(at), iso(expires)],
            )

    def user(self, token_hash: str, now: datetime) -> User | None:
        row = self.database.one(
            f"SELECT {', '.join('u.' + c for c in _USER_COLUMNS.split(', '))}"
            " FROM sessions s JOIN users u USING (username)"
            " WHERE s.token_hash = ? AND s.expires_at > ? AND NOT u.disabled",
            [token_hash, iso(now)],
        )
        return _user(row) if row else None

    def expiry(self, token_hash: str) -> datetime | None:
        row = self.database.one(
            "SELECT expires_at FROM sessions WHERE token_hash = ?", [token_hash]
        )
        return datetime.fromisoformat(row["expires_at"]) if row else None

    def touch(self, token_hash: str, expires: datetime) -> None:
        with self.database.write() as db:
            db.execute(
                "UPDATE sessions SET expires_at = ? WHERE token_hash = ?",
                [iso(expires), token_hash],
            )

    def close(self, token_hash: str) -> None:
        with self.database.write() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", [token_hash])

    def close_all(self, username: str) -> int:
        with self.database.write() as db:
            return db.execute("DELETE FROM sessions WHERE username = ?", [username]).rowcount

    def purge(self, now: datetime) -> dict[str, int]:
        with self.database.write() as db:
            n = db.execute("DELETE FROM sessions WHERE expires_at < ?", [iso(now)]).rowcount
        return {"sessions": n}


#: Ids only grow, even after a purge emptied the table: a purged row's id is never reused.
_APPEND_SQL = """INSERT INTO audit (id, ts, username, action, target, detail) VALUES (
    1 + max(coalesce((SELECT max(id) FROM audit), 0),
            coalesce((SELECT purged_through FROM audit_anchor WHERE id = 1), 0)),
    ?, ?, ?, ?, ?)"""


class SqliteAuditLog:
    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        database.migrate(migrations)

    def record(
        self,
        at: datetime,
        username: str | None,
        action: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one row to the chain. The INSERT comes first: it takes SQLite's write lock
        (other processes too, such as ``villagewatch backup``), so the predecessor read next
        cannot change before the commit and two writers never chain to the same row."""
        row = [iso(at), username, action[:64], target and target[:200], detail and detail[:300]]
        with self.database.write() as db:
            conn = db.conn
            new_id = conn.execute(_APPEND_SQL, row).lastrowid
            prev = conn.execute(
                "SELECT hash FROM audit WHERE id < ? ORDER BY id DESC LIMIT 1", [new_id]
            ).fetchone()
            prev_hash = prev[0] if prev else self._anchor(conn)
            digest = audit_row_hash(prev_hash, *row)
            conn.execute(
                "UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", [prev_hash, digest, new_id]
            )

    @staticmethod
    def _anchor(conn) -> str:
        row = conn.execute("SELECT prev_hash FROM audit_anchor WHERE id = 1").fetchone()
        return row[0] if row else GENESIS_HASH

    def anchor(self) -> dict | None:
        """Where the kept chain starts after purges (``prev_hash``, ``purged_through`` id,
        ``purged_rows`` in all, the last ``cutoff``), or None if nothing was ever purged."""
        return self.database.one("SELECT * FROM audit_anchor WHERE id = 1")

    def entries(
        self, limit: int = 200, action: str | None = None, target: str | None = None
    ) -> list[AuditEntry]:
        where = [c for c, v in (("action = ?", action), ("target = ?", target)) if v is not None]
        args = [v for v in (action, target) if v is not None]
        sql = "SELECT id, ts, username, action, target, detail FROM audit"
        sql += " WHERE " + " AND ".join(where) if where else ""
        rows = self.database.all(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
        return [AuditEntry(**r) for r in rows]

    def purge(self, before: datetime) -> dict[str, int]:
        """Delete the rows older than ``before`` — the oldest *prefix* only: a row stays while
        an older-looking one comes after it (a clock set back), so the chain is never holed —
        and record the anchor the first kept row chains from, in the same transaction."""
        with self.database.write() as db:
            conn = db.conn
            first_kept = conn.execute(
                "SELECT MIN(id) FROM audit WHERE ts >= ?", [iso(before)]
            ).fetchone()[0]
            last = conn.execute(
                "SELECT id, hash FROM audit WHERE id < coalesce(?, 9223372036854775807)"
                " ORDER BY id DESC LIMIT 1",
                [first_kept],
            ).fetchone()
            if last is None:
                return {"audit": 0}
            n = conn.execute("DELETE FROM audit WHERE id <= ?", [last[0]]).rowcount
            previous = conn.execute("SELECT purged_rows FROM audit_anchor WHERE id = 1").fetchone()
            conn.execute(
                "INSERT OR REPLACE INTO audit_anchor VALUES (1, ?, ?, ?, ?)",
                [last[1], last[0], n + (previous[0] if previous else 0), iso(before)],
            )
        return {"audit": n}
