"""Requests refused before the app reads them: body size limits, and bodies without a session.

FastAPI parses a route's body *before* its dependencies run, so without a limit in front of
it an anonymous 100 MB POST to an admin route is read into memory and parsed before the
401. :class:`BodyLimit` is a pure ASGI middleware in front of every route:

* a declared ``Content-Length`` above the route's limit is refused with 413 at once, before
  a byte of the body is read;
* a chunked body (no length) is counted as it arrives and refused with 413 the moment it
  passes the limit;
* a body within the limit is read whole here and handed to the app as one message, so the
  app never sees a partial body of a refused request.

Each 413 says ``Connection: close``: the server stops reading the rest (uvicorn would
otherwise read and discard it, as long as the sender cares to send). Limits are per route:
small by default, larger only where a route needs it (photos).

:class:`SessionGate` then refuses a body sent to a protected route without a live session
(401) before FastAPI decodes it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from hub.api.auth import request_token
from hub.incidents.attachments import MAX_ATTACHMENT_BYTES

KIB = 1024

#: Every JSON body the API takes (users, incidents, notes, push subscriptions) fits in this.
DEFAULT_LIMIT = 64 * KIB
#: A username and password, as JSON or a form.
LOGIN_LIMIT = 4 * KIB
#: A photo of at most 5 MiB; the margin lets the incidents service refuse one just over that
#: with its own message ("photos are at most 5 MiB").
ATTACHMENT_LIMIT = MAX_ATTACHMENT_BYTES + 64 * KIB
#: One position, from the officer app (JSON) or an OsmAnd device (form).
POSITION_LIMIT = 4 * KIB


@dataclass(frozen=True)
class RouteLimit:
    method: str
    path: re.Pattern[str]
    max_bytes: int


ROUTE_LIMITS = (
    RouteLimit("POST", re.compile(r"^/api/login$"), LOGIN_LIMIT),
    RouteLimit("POST", re.compile(r"^/api/incidents/[^/]+/attachments$"), ATTACHMENT_LIMIT),
    # A watchlist enrolment photo: a photo like an attachment.
    RouteLimit("POST", re.compile(r"^/api/watchlist/faces$"), ATTACHMENT_LIMIT),
    # A subject request's face photo (hub.api.routers.privacy): the same.
    RouteLimit("POST", re.compile(r"^/api/privacy/subjects/face/[a-z]+$"), ATTACHMENT_LIMIT),
    # One position: a handful of numbers, many a second from every unit.
    RouteLimit("POST", re.compile(r"^/osmand/[^/]+$"), POSITION_LIMIT),
    RouteLimit("POST", re.compile(r"^/api/positions$"), POSITION_LIMIT),
)


class BodyTooLarge(Exception):
    pass


def limit_for(method: str, path: str) -> int:
    """The first of :data:`ROUTE_LIMITS` that matches, else :data:`DEFAULT_LIMIT`."""
    for route in ROUTE_LIMITS:
        if route.method == method and route.path.match(path):
            return route.max_bytes
    return DEFAULT_LIMIT


class BodyLimit:
    """Pure ASGI middleware: the body of every HTTP request is capped per route (see the
    module docstring and :func:`limit_for`)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = limit_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared == -1:
            return await _refuse(send, 400, "Content-Length is not a number")
        if declared is not None and declared > limit:
            return await _refuse(send, 413, f"request body too large: at most {limit} bytes")
        try:
            first = await _read_body(receive, limit)
        except BodyTooLarge:
            return await _refuse(send, 413, f"request body too large: at most {limit} bytes")
        if first["type"] == "http.disconnect":
            return None  # the client left before its body arrived: nobody to answer

        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return first
            return await receive()  # later: http.disconnect, for streaming responses

        await self.app(scope, replay, send)


def _content_length(scope) -> int | None:
    """The declared length; None when absent, -1 when unreadable."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) <= 19 else -1
    return None


async def _read_body(receive, limit: int) -> dict:
    """The whole body as one ``http.request`` message (or the ``http.disconnect`` that came
    instead); raises :class:`BodyTooLarge` as soon as more than ``limit`` bytes arrived."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return message
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}


async def _refuse(send, status: int, detail: str, www_authenticate: bool = False) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # Stop reading: the rest of the body is not wanted.
        (b"connection", b"close"),
    ]
    if www_authenticate:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SessionGate:
    """Pure ASGI middleware: a request that carries a body to a protected API route needs a
    live session *before* FastAPI decodes that body.

    FastAPI decodes a JSON body before it resolves a route's dependencies, so without this an
    anonymous caller's body would be parsed (and its mistakes answered with a 422) before the
    route's auth said 401. Routes without a body (GET) validate their query after auth
    anyway. The route's own dependency still checks the role; this only checks that a
    session exists, off the event loop (it reads the database).
    """

    BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app, session_user, public: set[tuple[str, str]]) -> None:
        self.app = app
        self.session_user = session_user  # token -> user or None, without touching it
        self.public = public

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in self.BODY_METHODS
            and scope["path"].startswith("/api/")
            and (scope["method"], scope["path"]) not in self.public
            and not await self._signed_in(scope)
        ):
            return await _refuse(send, 401, "log in first", www_authenticate=True)
        return await self.app(scope, receive, send)

    async def _signed_in(self, scope) -> bool:
        token = request_token(Request(scope))
        return bool(token) and await run_in_threadpool(self.session_user, token) is not None
