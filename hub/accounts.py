"""Hub user accounts and login sessions.

Passwords are generated (never chosen, never defaulted), shown once, and kept only as hashes
(:mod:`contract.passwords`). Session tokens are random; storage keeps only their SHA-256. A
session lasts ``idle`` without activity and slides forward while it is used, so an officer
is not signed out mid-shift, and a forgotten phone is signed out by itself. Disabling a
user or resetting their password ends their sessions at once.

On a full disk (or any store that refuses writes) signing in still works: the new session
is kept in memory and saved as soon as the store takes writes again (each use retries), and
sliding an expiry forward is skipped rather than failing the request. Such a session is lost
only if the hub restarts before the disk has room (its holder signs in again).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from contract.passwords import hash_password, verify_password
from hub.clock import Clock, system_clock
from hub.domain.users import USERNAME_PATTERN, Role, User
from hub.storage.failures import is_storage_failure
from hub.storage.repositories import Storage

log = logging.getLogger(__name__)

#: A session's expiry is written forward at most this often (not on every request).
SLIDE_STEP = timedelta(minutes=1)

#: Checked when the username is unknown, so a miss costs as long as a wrong password and
#: response time does not reveal which usernames exist.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))

#: Sessions held in memory while the store refuses writes, at most (oldest dropped first).
MAX_UNSAVED_SESSIONS = 1000


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
        # token hash -> (username, opened, expires): sessions the store could not take yet.
        self._unsaved: OrderedDict[str, tuple[str, datetime, datetime]] = OrderedDict()
        self._unsaved_lock = threading.Lock()

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
        self._forget_unsaved(username)
        return password

    def set_disabled(self, username: str, disabled: bool) -> None:
        """A disabled user cannot sign in, and their open sessions end."""
        with self.storage.transaction():
            self.storage.users.set_disabled(username, disabled)
            if disabled:
                self.storage.sessions.close_all(username)
        if disabled:
            self._forget_unsaved(username)

    def revoke_sessions(self, username: str) -> int:
        if self.storage.users.get(username) is None:
            raise KeyError(f"no user {username!r}")
        return self.storage.sessions.close_all(username) + self._forget_unsaved(username)

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
        digest = token_hash(token)
        try:
            self.storage.sessions.open(digest, username, now, expires)
        except Exception as exc:
            if not is_storage_failure(exc):
                raise
            log.warning("store refuses writes (%s): %s's new session kept in memory", exc, username)
            with self._unsaved_lock:
                self._unsaved[digest] = (username, now, expires)
                while len(self._unsaved) > MAX_UNSAVED_SESSIONS:
                    self._unsaved.popitem(last=False)
        return token, expires

    def session_user(self, token: str, touch: bool = True) -> User | None:
        """The user of a live session, or None (unknown, expired, revoked or disabled).
        With ``touch`` the session's idle expiry slides forward (skipped while the store
        refuses writes: a read must not fail for it)."""
        digest, now = token_hash(token), self.clock()
        user = self.storage.sessions.user(digest, now)
        if user is None:
            return self._unsaved_user(digest, now) if self._unsaved else None
        if touch:
            expires = self.storage.sessions.expiry(digest)
            if expires is not None and now + self.idle - expires >= SLIDE_STEP:
                try:
                    self.storage.sessions.touch(digest, now + self.idle)
                except Exception as exc:
                    if not is_storage_failure(exc):
                        raise
        return user

    def close_session(self, token: str) -> None:
        digest = token_hash(token)
        with self._unsaved_lock:
            if self._unsaved.pop(digest, None) is not None:
                return  # only ever in memory: that was all of it
        self.storage.sessions.close(digest)

    def _unsaved_user(self, digest: str, now: datetime) -> User | None:
        """The user of a session kept in memory, saving it if the store now takes it."""
        with self._unsaved_lock:
            entry = self._unsaved.get(digest)
        if entry is None:
            return None
        username, opened, expires = entry
        user = self.storage.users.get(username)
        if expires <= now or user is None or user.disabled:
            with self._unsaved_lock:
                self._unsaved.pop(digest, None)
            return None
        with self._unsaved_lock:  # one thread saves it, once
            if digest not in self._unsaved:
                return user  # saved meanwhile
            try:
                self.storage.sessions.open(digest, username, opened, expires)
            except Exception as exc:
                if not is_storage_failure(exc):
                    raise
                return user  # still in memory; the next use tries again
            del self._unsaved[digest]
        return user

    def _forget_unsaved(self, username: str) -> int:
        with self._unsaved_lock:
            gone = [d for d, entry in self._unsaved.items() if entry[0] == username]
            for digest in gone:
                del self._unsaved[digest]
        return len(gone)
