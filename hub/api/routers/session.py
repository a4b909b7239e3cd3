"""Signing in and out, who am I, and the site's labels."""

# No "from __future__ import annotations": FastAPI must see the real Annotated types of
# the dependencies, which are local to build().
import json
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError

from hub.api.auth import COOKIE_NAME, LoginThrottle, Principal, client_address
from hub.api.context import ApiContext
from hub.domain.users import Role
from hub.storage.failures import is_storage_failure


class LoginRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class LoginResponse(BaseModel):
    token: str = Field(description="bearer token; the same session is also set as a cookie")
    username: str
    role: Role
    expires_at: str = Field(description="when the session ends if left idle")


class Me(BaseModel):
    username: str
    role: Role


class AreaOut(BaseModel):
    id: str
    name: str


class SiteOut(BaseModel):
    id: str
    name: str
    timezone: str
    areas: list[AreaOut]
    heartbeat_s: float = Field(description="the live feed sends a ping this often")


_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginRequest.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": LoginRequest.model_json_schema()},
        },
    }
}


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["session"])
    accounts = ctx.services["accounts"]
    throttle: LoginThrottle = ctx.services["throttle"]
    viewer = Annotated[Principal, Depends(ctx.services["auth"].require(Role.VIEWER))]
    anyone = Annotated[Principal, Depends(ctx.services["auth"].principal)]

    def secure_cookies(request: Request) -> bool:
        """``Secure`` (sent over HTTPS only) whenever the hub serves HTTPS."""
        return ctx.secure_cookies or request.url.scheme == "https"

    @router.post("/api/login", response_model=LoginResponse, openapi_extra=_LOGIN_BODY)
    async def login(request: Request, response: Response) -> LoginResponse:
        """Username and password as JSON or a form. Sets the session cookie and returns the
        same session as a bearer token. Repeated failures are slowed down (429)."""
        address = client_address(request)
        if not same_origin(request):
            # Login CSRF: another site's page posting its own credentials to sign this
            # browser in as the attacker. Scripts send neither header and are let through.
            await ctx.audit_async(None, "login.cross_origin", None, address)
            raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-origin login refused")
        creds = await _read_login(request)
        wait = await run_in_threadpool(throttle.begin, creds.username, address)
        if wait > 0:
            await ctx.audit_async(creds.username[:64], "login.throttled", None, address)
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "too many failed logins; wait and try again",
                headers={"Retry-After": str(int(wait) + 1)},
            )
        user = await run_in_threadpool(accounts.authenticate, creds.username, creds.password)
        if user is None:
            await ctx.audit_async(creds.username[:64], "login.failed", None, address)
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
        await run_in_threadpool(throttle.success, creds.username, address)
        token, expires = await run_in_threadpool(accounts.open_session, user.username)
        await ctx.audit_async(user.username, "login", None, address)
        response.set_cookie(
            COOKIE_NAME,
            token,
            # The server ends an idle session; the cookie itself may outlive a browser
            # restart so a phone stays signed in across a shift.
            max_age=30 * 86400,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure_cookies(request),
        )
        return LoginResponse(
            token=token, username=user.username, role=user.role, expires_at=expires.isoformat()
        )

    @router.post("/api/logout", status_code=204)
    def logout(request: Request, who: anyone) -> Response:
        try:
            accounts.close_session(who.token)
        except Exception as exc:
            if not is_storage_failure(exc):
                raise
            # The session stays valid: saying "signed out" would be a lie.
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "the hub cannot write right now (storage full?); try again shortly",
                headers={"Retry-After": "30"},
            ) from None
        ctx.audit(who.username, "logout")
        response = Response(status_code=204)
        response.delete_cookie(
            COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=secure_cookies(request)
        )
        return response

    @router.get("/api/me", response_model=Me)
    def me(who: anyone) -> Me:
        return Me(username=who.username, role=who.user.role)

    @router.get("/api/site", response_model=SiteOut, tags=["site"])
    def site(who: viewer) -> SiteOut:
        """The site's name, time zone and areas, for labels on the officer page."""
        config = ctx.config
        if config is None:
            return SiteOut(
                id="", name="VillageWatch", timezone="UTC", areas=[], heartbeat_s=ctx.heartbeat_s
            )
        return SiteOut(
            id=config.site.id,
            name=config.site.name,
            timezone=config.site.timezone,
            areas=[AreaOut(id=a.id, name=a.name) for a in config.areas],
            heartbeat_s=ctx.heartbeat_s,
        )

    return router


def same_origin(request: Request) -> bool:
    """Whether a request comes from the hub's own pages: its ``Origin`` (or, without one,
    its ``Referer``) names this hub's scheme, host and port. A request with neither (curl,
    scripts) is allowed: a browser always sends ``Origin`` on a cross-site POST."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        return True
    parts = urlsplit(claimed.strip())
    own_host = request.headers.get("host", "").lower()
    return parts.scheme == request.url.scheme and parts.netloc.lower() == own_host != ""


async def _read_login(request: Request) -> LoginRequest:
    """Parse a JSON or urlencoded login body (no python-multipart needed). Its size was
    capped before it was read (:data:`hub.api.limits.LOGIN_LIMIT`)."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/x-www-form-urlencoded":
            form = parse_qs(body.decode("utf-8"), max_num_fields=10)
            data = {k: v[0] for k, v in form.items()}
        else:
            data = json.loads(body or b"null")
        return LoginRequest.model_validate(data)
    except (ValueError, UnicodeDecodeError, ValidationError, RecursionError):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "send username and password as JSON or a form"
        ) from None
