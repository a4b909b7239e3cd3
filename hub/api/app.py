"""The hub's HTTP API and officer app, as a FastAPI app built from one router per resource.

Public: ``POST /api/login``, ``GET /api/health``, and the officer app's shell (``/``,
``/static/*``, ``/sw.js``, ``/manifest.webmanifest``: HTML, CSS and JS with no data in them).
Everything else needs a session (cookie or bearer token) and a role.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated type of the
# openapi route's dependency, which is local to create_app().
import logging
import sqlite3
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse

from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.limits import BodyLimit, SessionGate
from hub.api.routers import (
    admin,
    alerts,
    dispatch,
    events,
    incidents,
    live,
    map,
    nodes,
    notifications,
    positions,
    privacy,
    push,
    reports,
    safety,
    sensors,
    session,
    sharing,
    site_events,
    statistics,
    units,
    watchlist,
)
from hub.api.vendor import StaticWithVendor
from hub.domain.users import Role
from hub.storage.failures import is_storage_failure

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static"

#: Adding a resource: a module in hub/api/routers with build(ctx), and one entry here.
ROUTERS = [
    session,
    alerts,
    incidents,
    reports,
    statistics,
    nodes,
    events,
    push,
    notifications,
    admin,
    map,
    live,
    units,
    positions,
    dispatch,
    sensors,
    watchlist,
    privacy,
    safety,
    site_events,
    sharing,
]

#: Routes reachable without a session. tests/test_api_auth.py checks every other route.
PUBLIC_ROUTES = {
    ("POST", "/api/login"),
    ("GET", "/api/health"),
    ("GET", "/"),
    ("GET", "/sw.js"),
    ("GET", "/manifest.webmanifest"),
    # OsmAnd trackers: the token in the path is the device's credential (hub.dispatch).
    ("GET", "/osmand/{token}"),
    ("POST", "/osmand/{token}"),
}
PUBLIC_MOUNTS = {"/static"}

_CSP = (
    "default-src 'self'; img-src 'self' blob: data:{tiles}; script-src 'self'; "
    "style-src 'self'; connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def tile_origin(tile_url: str | None) -> str | None:
    """The origin a street-map tile URL loads from, as a CSP source, or None (no tiles, or
    not http(s)). A ``{s}`` subdomain placeholder becomes CSP's ``*.`` wildcard, the only
    place CSP allows one: ``https://{s}.tile.example/{z}/{x}/{y}.png`` → ``https://*.tile.example``."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    host = parts.netloc.rpartition("@")[2]  # never user:password@ in a header
    if parts.scheme not in ("http", "https") or not host:
        return None
    first, _, rest = host.partition(".")
    if "{" in first and rest:
        host = f"*.{rest}"
    if "{" in host or "}" in host or any(c in host for c in " ;,'\""):
        return None  # a placeholder CSP cannot express: no tiles rather than a broken header
    return f"{parts.scheme}://{host}"


def security_headers(tile_url: str | None = None) -> list[tuple[bytes, bytes]]:
    """The headers on every response. Images come only from the hub itself, plus the street
    map's origin when the site file names one (``map.tile_url``: tiles from the internet)."""
    origin = tile_origin(tile_url)
    csp = _CSP.format(tiles=f" {origin}" if origin else "")
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", csp.encode()),
    ]


_HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """Pure ASGI middleware (streams stay streams): security headers on every response, and
    ``Cache-Control: no-store`` on API data unless the route chose its own."""

    def __init__(self, app, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.app = app
        self.headers = headers if headers is not None else security_headers()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        is_api = scope["path"].startswith("/api/")
        # Over HTTPS, browsers must never fall back to plain HTTP for this hub again.
        extra = [_HSTS] if scope.get("scheme") == "https" else []

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [h for h in self.headers + extra if h[0] not in names]
                if is_api and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="VillageWatch hub API", version="2", openapi_url=None, docs_url=None, redoc_url=None
    )
    # The last added runs first: security headers wrap everything, including the 413s of
    # the body limit, which refuses oversized bodies before routing, parsing or auth; then
    # a body for a protected route needs a session before FastAPI decodes it.
    accounts = ctx.services["accounts"]
    app.add_middleware(
        SessionGate, session_user=lambda t: accounts.session_user(t, False), public=PUBLIC_ROUTES
    )
    app.add_middleware(BodyLimit)
    site_map = getattr(ctx.config, "map", None)
    app.add_middleware(SecurityHeaders, headers=security_headers(site_map and site_map.tile_url))
    app.state.ctx = ctx
    viewer = Annotated[Principal, Depends(ctx.services["auth"].require(Role.VIEWER))]

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """A 422 that says which field is wrong, without echoing the (maybe huge) input."""
        problems = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()[:10]
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(sqlite3.Error)
    @app.exception_handler(OSError)
    async def storage_refused(request: Request, exc: Exception) -> JSONResponse:
        """A store that cannot write (full disk, read-only, I/O error) is the hub's state,
        not a bug: 503 with Retry-After, so a client knows to try again. Anything else
        from the database stays a 500, logged."""
        if is_storage_failure(exc):
            log.warning("%s %s: storage refused (%s)", request.method, request.url.path, exc)
            return JSONResponse(
                {"detail": "the hub cannot store this right now (storage full?); try again"},
                status_code=503,
                headers={"Retry-After": "30"},
            )
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    def shell_file(name: str, media_type: str | None = None) -> FileResponse:
        return FileResponse(
            STATIC_DIR / name, media_type=media_type, headers={"cache-control": "no-cache"}
        )

    @app.get("/", include_in_schema=False)
    def officer_page() -> FileResponse:
        return shell_file("index.html")

    @app.get("/sw.js", include_in_schema=False)
    def service_worker() -> FileResponse:
        """At the root so the worker's scope is the whole app."""
        return shell_file("sw.js", "text/javascript")

    @app.get("/manifest.webmanifest", include_in_schema=False)
    def manifest() -> FileResponse:
        return shell_file("manifest.webmanifest", "application/manifest+json")

    app.mount("/static", StaticWithVendor(STATIC_DIR), name="static")

    @app.get("/api/health", tags=["public"])
    def health() -> dict:
        """``ok``, or ``degraded`` while storage refuses writes (ingest holds its acks and
        retries by itself). Says nothing about the site, its nodes or its data."""
        status = ctx.services.get("health")  # HubService.ingest_health
        return {"status": status() if status else "ok"}

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(who: viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    for module in ROUTERS:
        app.include_router(module.build(ctx))
    return app
