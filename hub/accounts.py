"""Hub user accounts and login sessions.

Passwords are generated (never chosen, never defaulted), shown once, and kept only as hashes
(:mod:`contract.passwords`). Session tokens are random; storage keeps only their SHA-256. A
session lasts ``idle`` without activity and slides forward while it is used, so an officer
is not signed out mid-shift, and a forgotten phone is signed out by itself. Disabling a
user or resetting their password ends their sessions at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from contract.passwords import hash_password, verify_password
from hub.clock import Clock, system_clock
from hub.domain.users import USERNAME_PATTERN, Role, User
from hub.storage.repositories import Storage

#: A session's expiry is written forward at most this often (not on every request).
SLIDE_STEP = timedelta(minutes=1)

#: Checked when the username is unknown, so a miss costs as long as a wrong password and
#: response time does not reveal which usernames exist.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


class AccountService:
    def __init__(
        self, storage: Storage, clock: Clock = system_clock, idle: timedelta = timedelta(hours=12)
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.idle = idle

    # --- users --------------------------------------------------------------------------

    def create_user(self, username: str, role: Role | str) -> str:
        """Create a user with a generated password and return it (shown once, never stored).

        Raises ValueError for a malformed name or unknown role, KeyError if it exists.
        """
        if not re.match(USERNAME_PATTERN, username):
            raise ValueError(f"username {username!r} must match {USERNAME_PATTERN}")
        password = generate_password()
        self.storage.users.create(username, Role(role), hash_password(password), self.clock())
        return password

    def reset_password(self, username: str) -> str:
        """A new generated password (shown once); the user's sessions end."""
        password = generate_password()
        with self.storage.transaction():
            self.storage.users.set_password_hash(username, hash_password(password))
            self.storage.sessions.close_all(username)
        return password

    def set_disabled(self, username: str, disabled: bool) -> None:
        """A disabled user cannot sign in, and their open sessions end."""
        with self.storage.transaction():
            self.storage.users.set_disabled(username, disabled)
            if disabled:
                self.storage.sessions.close_all(username)

    def revoke_sessions(self, username: str) -> int:
        if self.storage.users.get(username) is None:
            raise KeyError(f"no user {username!r}")
        return self.storage.sessions.close_all(username)

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right and the account enabled; as slow for unknown
        users as for known ones."""
        user = self.storage.users.get(username)
        encoded = self.storage.users.password_hash(username) if user else None
        ok = verify_password(password, encoded or _DUMMY_HASH)
        return user if user and ok and not user.disabled else None

    # --- sessions -----------------------------------------------------------------------

    def open_session(self, username: str) -> tuple[str, datetime]:
        """A new session token for ``username`` and when it expires if left idle."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + self.idle
        self.storage.sessions.open(token_hash(token), username, now, expires)
        return token, expires

    def session_user(self, token: str, touch: bool = True) -> User | None:
        """The user of a live session, or None (unknown, expired, revoked or disabled).
        With ``touch`` the session's idle expiry slides forward."""
        digest, now = token_hash(token), self.clock()
        user = self.storage.sessions.user(digest, now)
        if user and touch:
            expires = self.storage.sessions.expiry(digest)
            if expires is not None and now + self.idle - expires >= SLIDE_STEP:
                self.storage.sessions.touch(digest, now + self.idle)
        return user

    def close_session(self, token: str) -> None:
        self.storage.sessions.close(token_hash(token))
