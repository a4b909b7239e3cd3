"""HTTP authentication for the hub API: session cookie or bearer token, roles, throttling.

A login yields one random token, sent back twice: as an HttpOnly, SameSite=Strict cookie
(the officer page uses it; page scripts cannot read it and other sites cannot make the
browser send it) and in the JSON body as a bearer token for scripts. Every protected route
declares the least role it needs with ``Depends(auth.require(Role.X))``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import HTTPException, Request, status

from hub.accounts import Accounts, Role, User

COOKIE_NAME = "vw_session"


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
        return value.strip()
    return request.cookies.get(COOKIE_NAME) or None


class Authenticator:
    """FastAPI dependencies that resolve the caller and check their role."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    def principal(self, request: Request) -> Principal:
        token = request_token(request)
        user = self.accounts.session_user(token) if token else None
        if user is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "log in first", headers={"WWW-Authenticate": "Bearer"}
            )
        return Principal(user, token or "")

    def require(self, role: Role):
        """A dependency admitting users whose role includes ``role`` (else 403)."""

        def dependency(request: Request) -> Principal:
            who = self.principal(request)
            if not who.user.role.includes(role):
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {role} role")
            return who

        dependency.__name__ = f"require_{role}"
        return dependency


class LoginThrottle:
    """In-memory exponential backoff on failed logins, per username and per client address.

    The first ``free`` failures of a key cost nothing; each further one doubles the wait
    (1 s, 2 s, 4 s ... up to ``max_delay_s``). Per-address keys get ``free * 3`` so one
    phone mistyping is fine but one address spraying many usernames is slowed. A success
    clears the username key. Memory is bounded by ``max_keys`` (oldest forgotten first).
    """

    def __init__(
        self,
        free: int = 3,
        base_delay_s: float = 1.0,
        max_delay_s: float = 300.0,
        max_keys: int = 10_000,
    ) -> None:
        self.free = free
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_keys = max_keys
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key -> (n, last)
        self._lock = threading.Lock()

    def _keys(self, username: str, address: str) -> list[tuple[str, int]]:
        return [(f"user:{username}", self.free), (f"addr:{address}", self.free * 3)]

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until another attempt is allowed (0 when allowed now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key, free in self._keys(username, address):
                count, last = self._failures.get(key, (0, 0.0))
                if count >= free:
                    delay = min(self.base_delay_s * 2 ** (count - free), self.max_delay_s)
                    wait = max(wait, last + delay - now)
        return max(wait, 0.0)

    def failure(self, username: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key, _ in self._keys(username, address):
                count, _last = self._failures.pop(key, (0, 0.0))
                self._failures[key] = (count + 1, now)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def success(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{username}", None)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


__all__ = [
    "COOKIE_NAME",
    "Authenticator",
    "LoginThrottle",
    "Principal",
    "Role",
    "client_address",
    "request_token",
]
