"""HTTP authentication for the hub API: session cookie or bearer token, roles, throttling.

A login yields one random token, sent back twice: as an HttpOnly, SameSite=Strict cookie
(the officer page uses it; page scripts cannot read it and other sites cannot make the
browser send it) and in the JSON body as a bearer token for scripts. Every protected route
declares the least role it needs with ``Depends(auth.require(Role.X))``.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import HTTPException, Request, status

from hub.accounts import AccountService
from hub.clock import Clock, system_clock
from hub.domain.users import Role, User

COOKIE_NAME = "vw_session"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    user: User
    token: str

    @property
    def username(self) -> str:
        return self.user.username


def request_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()[:128]
    return (request.cookies.get(COOKIE_NAME) or "")[:128] or None


class Authenticator:
    """FastAPI dependencies that resolve the caller and check their role."""

    def __init__(self, accounts: AccountService) -> None:
        self.accounts = accounts

    def principal(self, request: Request) -> Principal:
        token = request_token(request)
        user = self.accounts.session_user(token) if token else None
        if user is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "log in first", headers={"WWW-Authenticate": "Bearer"}
            )
        return Principal(user, token or "")

    def require(self, role: Role) -> Callable[[Request], Principal]:
        """A dependency admitting users whose role includes ``role`` (else 403)."""
        return self.require_any(role)

    def require_any(self, *roles: Role) -> Callable[[Request], Principal]:
        """A dependency admitting a user whose role includes any of ``roles`` (else 403)."""

        def dependency(request: Request) -> Principal:
            who = self.principal(request)
            if not any(who.user.role.includes(r) for r in roles):
                names = " or ".join(str(r) for r in roles)
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {names} role")
            return who

        dependency.__name__ = "require_" + "_or_".join(str(r) for r in roles)
        return dependency


class LoginFailureStore(Protocol):
    """Where the throttle keeps its counters across restarts (see
    :mod:`hub.storage.sqlite.throttle`)."""

    def load(self, limit: int) -> list[tuple[str, int, float]]: ...

    def save(self, key: str, count: int, last: float) -> None: ...

    def delete(self, key: str) -> None: ...


class LoginThrottle:
    """Exponential backoff on failed logins, per (username, address) and per address.

    Keyed by the *pair*, a stranger guessing Ana's password from one address slows only
    that address, never Ana on her own phone. The address key (``free * 3``) slows one
    address spraying many usernames. The first ``free`` failures of a key cost nothing; each
    further one doubles the wait (1 s, 2 s, 4 s ... up to ``max_delay_s``).

    :meth:`begin` counts an attempt as failed *before* the password is checked and
    :meth:`success` takes it back, so fifty attempts sent at once cannot all slip through
    before the first failure is recorded: the check and the count happen under one lock.
    Memory is bounded by ``max_keys``. With a ``store`` every change is also written
    through to it, and a new throttle starts from what it holds, so restarting the hub gives
    no one fresh guesses; it keeps times as epoch seconds (of the hub's ``clock``) for that
    reason.
    """

    def __init__(
        self,
        free: int = 3,
        base_delay_s: float = 1.0,
        max_delay_s: float = 300.0,
        max_keys: int = 10_000,
        clock: Clock = system_clock,
        store: LoginFailureStore | None = None,
    ) -> None:
        self.free = free
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_keys = max_keys
        self.clock = clock
        self.store = store
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key -> (n, last)
        self._lock = threading.Lock()
        if store is not None:
            for key, count, last in store.load(max_keys):
                self._failures[key] = (count, last)

    def _keys(self, username: str, address: str) -> list[tuple[str, int]]:
        return [(f"pair:{username}\0{address}", self.free), (f"addr:{address}", self.free * 3)]

    def _wait(self, username: str, address: str, now: float) -> float:
        wait = 0.0
        for key, free in self._keys(username, address):
            count, last = self._failures.get(key, (0, 0.0))
            if count >= free:
                delay = min(self.base_delay_s * 2 ** min(count - free, 30), self.max_delay_s)
                wait = max(wait, last + delay - now)
        # Wall-clock time can step back (NTP); a wait never exceeds the longest delay.
        return min(max(wait, 0.0), self.max_delay_s)

    def _persist(self, key: str) -> None:
        """Write one key through to the store (called under the lock). A store that fails
        (a full disk) must not stop logins: memory still throttles until a restart."""
        if self.store is None:
            return
        try:
            if key in self._failures:
                self.store.save(key, *self._failures[key])
            else:
                self.store.delete(key)
        except Exception:
            log.exception("could not persist the login throttle's counter %s", key)

    def begin(self, username: str, address: str) -> float:
        """Seconds to wait before trying (0: go ahead, the attempt is now counted).
        May write to the store: call it off the event loop."""
        now = self.clock().timestamp()
        with self._lock:
            wait = self._wait(username, address, now)
            if wait > 0:
                return wait
            for key, _ in self._keys(username, address):
                count, _last = self._failures.pop(key, (0, 0.0))
                self._failures[key] = (count + 1, now)
                self._persist(key)
            while len(self._failures) > self.max_keys:
                evicted, _ = self._failures.popitem(last=False)
                self._persist(evicted)
        return 0.0

    def success(self, username: str, address: str) -> None:
        """The password was right: forget this pair's failures, give back the address's."""
        with self._lock:
            pair, addr = (k for k, _ in self._keys(username, address))
            if self._failures.pop(pair, None) is not None:
                self._persist(pair)
            count, last = self._failures.get(addr, (0, 0.0))
            if count > 1:
                self._failures[addr] = (count - 1, last)
            else:
                self._failures.pop(addr, None)
            if count:
                self._persist(addr)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
