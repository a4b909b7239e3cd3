"""Users, login sessions and the audit trail in SQLite.

Only a hash of each session token is kept: a copied database file opens no sessions.
"""

from __future__ import annotations

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
        with self.database.write() as db:
            db.execute(
                "INSERT INTO audit (ts, username, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                [iso(at), username, action[:64], target and target[:200], detail and detail[:300]],
            )

    def entries(
        self, limit: int = 200, action: str | None = None, target: str | None = None
    ) -> list[AuditEntry]:
        where = [c for c, v in (("action = ?", action), ("target = ?", target)) if v is not None]
        args = [v for v in (action, target) if v is not None]
        sql = "SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self.database.all(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
        return [AuditEntry(**r) for r in rows]

    def purge(self, before: datetime) -> dict[str, int]:
        with self.database.write() as db:
            n = db.execute("DELETE FROM audit WHERE ts < ?", [iso(before)]).rowcount
        return {"audit": n}
