"""The hub's HTTP API and officer page, as a FastAPI app.

Public: ``POST /api/login``, ``GET /api/health``, and the officer page shell (``GET /`` and
``/static/*``: HTML, CSS and JS with no data in them). Everything else needs a session
(cookie or bearer token) and a role: viewers read alerts, snapshots and nodes; officers will
act on incidents; admins also manage users and read quarantine and audit. Views of alerts,
snapshots, quarantine and audit are written to the audit table.

``GET /api/events`` is a Server-Sent Events stream: ``event: alert|node|snapshot`` with a
JSON ``data:`` line, and a ``: keepalive`` comment every ``heartbeat_s`` seconds, which
also re-checks that the session is still valid.
"""

# No "from __future__ import annotations" here: FastAPI must see the real Annotated
# dependency types, which are local to create_app.
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from contract.protocol import ID_PATTERN
from contract.siteconfig import SiteConfig
from hub.accounts import Role
from hub.api import schemas
from hub.api.auth import (
    COOKIE_NAME,
    Authenticator,
    LoginThrottle,
    Principal,
    client_address,
)
from hub.ingest import alert_summary
from hub.live import SHUTDOWN, LiveFeed
from hub.store import HubStore

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static"
AlertId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$", description="32 hex digits")]

#: Routes reachable without a session. tests/test_api_auth.py checks every other route.
PUBLIC_ROUTES = {("POST", "/api/login"), ("GET", "/api/health"), ("GET", "/")}
PUBLIC_MOUNTS = {"/static"}

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob:; script-src 'self'; style-src 'self'; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
]


class SecurityHeaders:
    """Pure ASGI middleware (streams stay streams): security headers on every response, and
    ``Cache-Control: no-store`` on API data unless the route chose its own."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        is_api = scope["path"].startswith("/api/")

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [h for h in _SECURITY_HEADERS if h[0] not in names]
                if is_api and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    store: HubStore,
    live: LiveFeed,
    config: SiteConfig | None = None,
    heartbeat_s: float = 15.0,
    secure_cookies: bool = False,
    throttle: LoginThrottle | None = None,
) -> FastAPI:
    """Build the app. ``secure_cookies=True`` when served over HTTPS (a reverse proxy)."""
    app = FastAPI(
        title="VillageWatch hub API", version="1", openapi_url=None, docs_url=None, redoc_url=None
    )
    app.add_middleware(SecurityHeaders)
    accounts = store.accounts
    auth = Authenticator(accounts)
    throttle = throttle or LoginThrottle()
    viewer = Annotated[Principal, Depends(auth.require(Role.VIEWER))]
    admin = Annotated[Principal, Depends(auth.require(Role.ADMIN))]
    app.state.store, app.state.live, app.state.throttle = store, live, throttle

    # --- public ---------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def officer_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/api/health", tags=["public"])
    def health() -> dict:
        """Liveness only: says nothing about the site, its nodes or its data."""
        return {"status": "ok"}

    @app.post(
        "/api/login",
        tags=["public"],
        response_model=schemas.LoginResponse,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": schemas.LoginRequest.model_json_schema()},
                    "application/x-www-form-urlencoded": {
                        "schema": schemas.LoginRequest.model_json_schema()
                    },
                },
            }
        },
    )
    async def login(request: Request, response: Response) -> schemas.LoginResponse:
        """Username and password as JSON or a form. Sets the session cookie and returns the
        same session as a bearer token. Repeated failures are slowed down (429)."""
        creds = await _read_login(request)
        address = client_address(request)
        wait = throttle.retry_after(creds.username, address)
        if wait > 0:
            await run_in_threadpool(
                accounts.audit, creds.username, "login.throttled", None, address
            )
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "too many failed logins",
                headers={"Retry-After": str(int(wait) + 1)},
            )
        user = await run_in_threadpool(accounts.authenticate, creds.username, creds.password)
        if user is None:
            throttle.failure(creds.username, address)
            await run_in_threadpool(
                accounts.audit, creds.username[:64], "login.failed", None, address
            )
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
        throttle.success(creds.username)
        token, expires = await run_in_threadpool(accounts.open_session, user.username)
        await run_in_threadpool(accounts.audit, user.username, "login", None, address)
        response.set_cookie(
            COOKIE_NAME,
            token,
            max_age=int((expires - datetime.now(UTC)).total_seconds()),
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure_cookies,
        )
        return schemas.LoginResponse(
            token=token, username=user.username, role=user.role, expires_at=expires.isoformat()
        )

    # --- any signed-in user ---------------------------------------------------------------

    @app.post("/api/logout", status_code=204, tags=["session"])
    def logout(who: viewer) -> Response:
        accounts.close_session(who.token)
        accounts.audit(who.username, "logout")
        response = Response(status_code=204)
        response.delete_cookie(
            COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=secure_cookies
        )
        return response

    @app.get("/api/me", response_model=schemas.Me, tags=["session"])
    def me(who: viewer) -> schemas.Me:
        return schemas.Me(username=who.username, role=who.user.role)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(who: viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/api/site", response_model=schemas.SiteOut, tags=["site"])
    def site(who: viewer) -> schemas.SiteOut:
        """The site's name, time zone and areas, for labels on the officer page."""
        if config is None:
            return schemas.SiteOut(id="", name="VillageWatch", timezone="UTC", areas=[])
        return schemas.SiteOut(
            id=config.site.id,
            name=config.site.name,
            timezone=config.site.timezone,
            areas=[schemas.AreaOut(id=a.id, name=a.name) for a in config.areas],
        )

    @app.get("/api/alerts", response_model=list[schemas.AlertOut], tags=["alerts"])
    def alerts(
        who: viewer,
        since: Annotated[datetime | None, Query(description="only alerts after this time")] = None,
        before: Annotated[
            datetime | None, Query(description="only alerts before this time")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        area: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    ) -> list[dict]:
        """Alerts, newest event first."""
        rows = store.alerts(since=_aware(since), before=_aware(before), limit=limit, area=area)
        accounts.audit(who.username, "alerts.list", area, f"{len(rows)} alerts")
        return [alert_summary(r) for r in rows]

    @app.get("/api/alerts/{alert_id}", response_model=schemas.AlertOut, tags=["alerts"])
    def alert(who: viewer, alert_id: AlertId) -> dict:
        row = store.get_alert(alert_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
        accounts.audit(who.username, "alert.view", alert_id)
        return alert_summary(row)

    @app.get(
        "/api/alerts/{alert_id}/snapshot",
        tags=["alerts"],
        response_class=FileResponse,
        responses={200: {"content": {"image/jpeg": {}}}},
    )
    def snapshot(who: viewer, alert_id: AlertId) -> FileResponse:
        """The alert's JPEG (404 until it has arrived). Every view is audited."""
        path = store.snapshot_file(alert_id)
        if path is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no snapshot for this alert")
        accounts.audit(who.username, "snapshot.view", alert_id)
        return FileResponse(
            path, media_type="image/jpeg", headers={"cache-control": "private, max-age=3600"}
        )

    @app.get("/api/nodes", response_model=list[schemas.NodeOut], tags=["nodes"])
    def nodes(who: viewer) -> list[dict]:
        """Every node: online/offline, last status time, sequence gaps and latest stats."""
        return store.nodes.current()

    @app.get("/api/stats", response_model=schemas.StatsOut, tags=["nodes"])
    def stats(who: viewer) -> dict:
        return store.stats() | {"live_subscribers": live.subscriber_count}

    @app.get(
        "/api/events",
        tags=["alerts"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def events(request: Request, who: viewer) -> StreamingResponse:
        """Live events as Server-Sent Events: ``alert``, ``snapshot`` and ``node``."""
        await run_in_threadpool(accounts.audit, who.username, "events.subscribe")
        return StreamingResponse(
            _event_stream(request, who),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},
        )

    async def _event_stream(request: Request, who: Principal):
        with live.subscribe() as sub:
            yield "retry: 3000\n: connected\n\n"
            while not await request.is_disconnected():
                event = await sub.get(timeout=heartbeat_s)
                if event is None:
                    if await run_in_threadpool(accounts.session_user, who.token) is None:
                        yield "event: logout\ndata: {}\n\n"  # session ended: stop streaming
                        return
                    yield ": keepalive\n\n"
                    continue
                yield f"event: {event['type']}\ndata: {json.dumps(event, default=str)}\n\n"
                if event["type"] == SHUTDOWN["type"]:
                    return

    # --- admin ----------------------------------------------------------------------------

    @app.get("/api/quarantine", response_model=list[schemas.QuarantineOut], tags=["admin"])
    def quarantine(who: admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
        """Refused messages, newest first, with the first KiB of each payload."""
        accounts.audit(who.username, "quarantine.view")
        return store.quarantine_rows(limit)

    @app.get("/api/users", response_model=list[schemas.UserOut], tags=["admin"])
    def users(who: admin) -> list[dict]:
        return accounts.users()

    @app.post("/api/users", response_model=schemas.CreatedUser, status_code=201, tags=["admin"])
    def create_user(who: admin, body: schemas.NewUser) -> schemas.CreatedUser:
        """Create a user with a generated password, returned only in this response."""
        try:
            password = accounts.create_user(body.username, body.role)
        except KeyError:
            raise HTTPException(status.HTTP_409_CONFLICT, "user already exists") from None
        accounts.audit(who.username, "user.create", body.username, str(body.role))
        return schemas.CreatedUser(username=body.username, role=body.role, password=password)

    @app.get("/api/audit", response_model=list[schemas.AuditOut], tags=["admin"])
    def audit(
        who: admin,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        action: Annotated[str | None, Query(max_length=64)] = None,
    ) -> list[dict]:
        accounts.audit(who.username, "audit.view")
        return accounts.audit_rows(limit, action)

    return app


def _aware(moment: datetime | None) -> datetime | None:
    """Query times without a zone are taken as UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


async def _read_login(request: Request) -> schemas.LoginRequest:
    """Parse a JSON or urlencoded login body (no python-multipart needed)."""
    body = await request.body()
    if len(body) > 4096:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "login body too large")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/x-www-form-urlencoded":
            form = parse_qs(body.decode("utf-8"), max_num_fields=10)
            data = {k: v[0] for k, v in form.items()}
        else:
            data = json.loads(body or b"null")
        return schemas.LoginRequest.model_validate(data)
    except (ValueError, UnicodeDecodeError, ValidationError):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY, "send username and password as JSON or a form"
        ) from None
