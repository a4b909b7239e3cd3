"""Hub user accounts, login sessions and the audit trail.

Passwords are generated (never chosen, never defaulted), shown once, and kept only as
scrypt hashes. Session tokens are random; the database keeps only their SHA-256, so a
copied database file opens no sessions. The audit table answers "who saw or did what":
logins (good and bad), logouts, and every view of alerts, snapshots, quarantine and audit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlite_utils import Database

from hub.db import iso

#: scrypt cost: 16 MiB of memory and ~50 ms per check on a small board; slows guessing.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SESSION_LIFETIME = timedelta(hours=12)  # one officer shift
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,31}$"


class Role(StrEnum):
    """What a hub user may do; each role includes everything of the ones before it."""

    VIEWER = "viewer"  # read alerts, snapshots and node status
    OFFICER = "officer"  # + act on alerts (acknowledge, assign, resolve: incidents, later)
    ADMIN = "admin"  # + users, quarantine, audit

    def includes(self, other: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(other)


@dataclass(frozen=True)
class User:
    username: str
    role: Role


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    salt_b64, digest_b64 = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt_b64}${digest_b64}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = encoded.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


#: Checked when the username is unknown, so a miss costs as long as a wrong password and
#: response time does not reveal which usernames exist.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Users, sessions and audit rows in the hub database (shares the store's lock)."""

    def __init__(self, db: Database, lock: threading.RLock) -> None:
        self.db = db
        self.lock = lock

    # --- users --------------------------------------------------------------------------

    def create_user(self, username: str, role: Role | str) -> str:
        """Create a user with a generated password and return it (shown once, never stored).

        Raises ValueError for a malformed name or unknown role, KeyError if it exists.
        """
        if not re.match(USERNAME_PATTERN, username):
            raise ValueError(f"username {username!r} must match {USERNAME_PATTERN}")
        role = Role(role)
        password = secrets.token_urlsafe(15)  # 20 characters, 120 bits
        with self.lock:
            if self.get_user(username):
                raise KeyError(f"user {username!r} already exists")
            self.db.execute(
                "INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                [username, str(role), hash_password(password), iso(datetime.now(UTC))],
            )
        return password

    def get_user(self, username: str) -> User | None:
        with self.lock:
            row = self.db.execute(
                "SELECT username, role FROM users WHERE username = ?", [username]
            ).fetchone()
        return User(row[0], Role(row[1])) if row else None

    def users(self) -> list[dict]:
        with self.lock:
            return list(
                self.db.query("SELECT username, role, created_at FROM users ORDER BY username")
            )

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right; as slow for unknown users as for known ones."""
        with self.lock:
            row = self.db.execute(
                "SELECT role, password_hash FROM users WHERE username = ?", [username]
            ).fetchone()
        ok = verify_password(password, row[1] if row else _DUMMY_HASH)
        return User(username, Role(row[0])) if row and ok else None

    # --- sessions -----------------------------------------------------------------------

    def open_session(
        self, username: str, lifetime: timedelta = SESSION_LIFETIME
    ) -> tuple[str, datetime]:
        """A new session token for ``username`` and when it expires."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires = now + lifetime
        with self.lock:
            self.db.execute(
                "INSERT INTO sessions (token_hash, username, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                [_token_hash(token), username, iso(now), iso(expires)],
            )
        return token, expires

    def session_user(self, token: str) -> User | None:
        """The user a live session token belongs to, or None (unknown or expired)."""
        with self.lock:
            row = self.db.execute(
                """SELECT u.username, u.role FROM sessions s JOIN users u USING (username)
                   WHERE s.token_hash = ? AND s.expires_at > ?""",
                [_token_hash(token), iso(datetime.now(UTC))],
            ).fetchone()
        return User(row[0], Role(row[1])) if row else None

    def close_session(self, token: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM sessions WHERE token_hash = ?", [_token_hash(token)])

    # --- audit --------------------------------------------------------------------------

    def audit(
        self,
        username: str | None,
        action: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> None:
        with self.lock:
            self.db.execute(
                "INSERT INTO audit (ts, username, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                [
                    iso(datetime.now(UTC)),
                    username,
                    action,
                    target,
                    detail[:300] if detail else None,
                ],
            )

    def audit_rows(self, limit: int = 200, action: str | None = None) -> list[dict]:
        """Newest first, optionally only one ``action``."""
        sql = "SELECT * FROM audit" + (" WHERE action = ?" if action else "")
        args = [action] if action else []
        with self.lock:
            return list(self.db.query(sql + " ORDER BY id DESC LIMIT ?", [*args, limit]))
