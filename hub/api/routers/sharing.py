"""Data sharing: the admin's register (department accounts, tokens, revoking) and the
department API that reads aggregate datasets with a scoped token (:mod:`hub.sharing`).

Departments call ``GET /api/share/v1/data?dataset=…&format=…`` with
``Authorization: Bearer vws_…``. An admin's own session may call it too, over every area,
to preview exactly what a department would receive. Every request, answered or refused,
leaves an audit row (``share.read`` or ``share.refused``, with the reason).
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated dependency
# types, which are local to build().
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from contract.protocol import ID_PATTERN
from contract.sharing_settings import SharingSettings
from hub.api.auth import Principal, request_token
from hub.api.context import ApiContext
from hub.api.params import aware
from hub.domain.users import Role
from hub.safety.service import index_report
from hub.sharing.scope import (
    AccountRequest,
    Dataset,
    Grant,
    GrantRequest,
    Refused,
    check,
)
from hub.sharing.service import TOKEN_PREFIX, SharingService
from hub.storage.sqlite.sharing import sharing_for

MEDIA = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "sensorthings": "application/json",
    "geojson": "application/geo+json",
}


def sharing_service(ctx: ApiContext) -> SharingService:
    """The one :class:`SharingService` of this hub, made on first use (it needs only
    storage, the site file and the clock, so the hub's composition does not change)."""
    if "sharing" not in ctx.services:
        config = ctx.config
        settings = config.sharing if config else SharingSettings()
        ctx.services["sharing"] = SharingService(
            sharing_for(ctx.storage),
            list(config.areas) if config else [],
            settings,
            ctx.clock,
            config.site.timezone if config else "UTC",
            (lambda month: index_report(ctx.storage.incidents, config, month)) if config else None,
            lambda: event_series(ctx),
        )
    return ctx.services["sharing"]


def event_series(ctx: ApiContext):
    """The site's events and their stored series (None: this hub runs no event security)."""
    security = ctx.services.get("event_security")
    if security is None:
        return None
    store = security.store
    return [info.event for info in security.events()], (
        lambda event_id, start, end: store.series(event_id, start, end, feeds=False)
    )


def _refusal(exc: Refused) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
    return JSONResponse({"detail": exc.reason}, status_code=exc.status, headers=headers)


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["sharing"])
    service = sharing_service(ctx)
    auth = ctx.services["auth"]
    admin = Annotated[Principal, Depends(auth.require(Role.ADMIN))]
    caller = caller_dependency(ctx, service)

    @router.get("/api/sharing/register")
    def register(who: admin) -> dict:
        """Who receives what, under which agreement, until when; each token's last use."""
        ctx.audit(who.username, "sharing.register")
        return service.register()

    @router.post("/api/sharing/accounts", status_code=201)
    def add_account(body: AccountRequest, who: admin) -> dict:
        """A department account; tokens are issued to it next."""
        row = service.add_account(body.name, body.department, body.contact, who.username)
        ctx.audit(who.username, "sharing.account_added", row["id"], body.name)
        return row

    @router.post("/api/sharing/tokens", status_code=201)
    def issue(body: GrantRequest, who: admin) -> dict:
        """A scoped token, shown in this answer only (the hub keeps its hash)."""
        try:
            token, grant = service.issue(body, who.username)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        detail = f"account={grant.account_id} datasets={','.join(grant.datasets)}"
        ctx.audit(who.username, "sharing.token_issued", grant.id, detail)
        return {"token": token, "grant": grant.model_dump(mode="json")}

    @router.post("/api/sharing/tokens/{grant_id}/revoke")
    def revoke(grant_id: Annotated[str, PathParam(pattern=ID_PATTERN)], who: admin) -> dict:
        """Revoke a token at once: its next request is a 403."""
        done = service.revoke(grant_id, who.username)
        if not done and grant_id not in {g.id for g in service.repo.grants()}:
            raise HTTPException(404, "no such token")
        ctx.audit(who.username, "sharing.token_revoked", grant_id)
        return {"revoked": grant_id, "changed": done}

    @router.get("/api/share/v1/data", response_class=Response)
    def data(
        who: Annotated[Caller, Depends(caller)],
        dataset: str = "",
        format: str = "json",
        area: Annotated[list[str] | None, Query(max_length=200)] = None,
        start: str | None = None,
        end: str | None = None,
    ) -> Response:
        """One dataset (``incident_counts``, ``alert_counts``, ``hot_spots``, ``areas``,
        ``safety_index``, ``occupancy``)
        for the token's scope, or for an admin's session every area: count cells as
        ``json``/``csv``/``sensorthings``; hot spots as ``json``/``geojson``; areas as
        ``geojson``. Cells with fewer than k events are not listed. Periods are whole UTC
        hours, ``start`` inclusive, ``end`` exclusive (ISO 8601). The parameters are checked
        here, not by FastAPI, so a malformed request is audited like any other."""
        return _read(ctx, service, who, Ask(dataset, format, area, start, end))

    @router.get("/api/share/v1/scope")
    def scope(who: Annotated[Caller, Depends(caller)]) -> dict:
        """What this token may read (its grant, without the token); for an admin's
        session, everything."""
        if who.grant is None:
            ctx.audit(who.actor, "share.scope", "admin-preview")
            return {"datasets": list(Dataset), "areas": list(service.areas), "admin": True}
        try:
            service.admit(who.grant)
        except Refused as exc:
            ctx.audit(who.actor, "share.refused", who.grant.id, f"{exc.status} {exc.reason}")
            return _refusal(exc)
        ctx.audit(who.actor, "share.scope", who.grant.id)
        return who.grant.model_dump(mode="json", exclude={"created_by", "revoked_by", "uses"})

    return router


@dataclass(frozen=True)
class Caller:
    """A department (its grant) or an admin previewing (no grant); ``actor`` for the audit."""

    grant: Grant | None
    actor: str


def caller_dependency(ctx: ApiContext, service: SharingService):
    """The dependency that says who calls a department route: a sharing token's grant, or
    an admin's session; anyone else is refused (401/403), and the refusal audited, before
    any parameter is looked at."""
    require_admin = ctx.services["auth"].require(Role.ADMIN)

    def caller(request: Request) -> Caller:
        token = request_token(request) or ""
        try:
            if token.startswith(TOKEN_PREFIX):
                grant = service.authenticate(token)
                return Caller(grant, f"share:{grant.account_id}")
            return Caller(None, require_admin(request).username)
        except (Refused, HTTPException) as exc:
            status = exc.status if isinstance(exc, Refused) else exc.status_code
            reason = exc.reason if isinstance(exc, Refused) else exc.detail
            ctx.audit(None, "share.refused", None, f"{status} {reason} {request.url.path}")
            raise HTTPException(status, reason) from None

    return caller


@dataclass(frozen=True)
class Ask:
    """A department's request as sent (strings), parsed in :func:`_parse`."""

    dataset: str
    fmt: str
    areas: list[str] | None
    start: str | None
    end: str | None


def _time(text: str | None) -> datetime | None:
    try:
        return aware(datetime.fromisoformat(text)) if text else None
    except (ValueError, HTTPException):
        raise Refused(422, f"not an ISO 8601 time: {text[:40]!r}") from None


def _parse(ask: Ask) -> tuple[Dataset, str]:
    try:
        dataset = Dataset(ask.dataset)
    except ValueError:
        raise Refused(422, f"dataset is one of {', '.join(Dataset)}") from None
    if ask.fmt not in MEDIA:
        raise Refused(422, f"format is one of {', '.join(MEDIA)}")
    return dataset, ask.fmt


def _read(ctx: ApiContext, service: SharingService, who: Caller, ask: Ask) -> Response:
    """Parse, check the scope, count the request, answer; audit whatever happened."""
    grant = who.grant
    try:
        dataset, fmt = _parse(ask)
        areas = ask.areas or list(grant.areas if grant else service.areas)
        try:
            period = service.period(grant, _time(ask.start), _time(ask.end))
        except ValueError as exc:
            raise Refused(422, str(exc)) from None
        if grant is not None:
            has_period = dataset != Dataset.AREAS
            p_start, p_end = (period.start, period.end) if has_period else (None, None)
            check(grant, service.clock(), dataset, areas, p_start, p_end)
            service.admit(grant)
        elif unknown := sorted(set(areas) - set(service.areas)):
            raise Refused(422, f"unknown area(s): {', '.join(unknown)}")
        try:
            body = service.read(dataset, period, areas, fmt)
        except ValueError as exc:
            raise Refused(422, str(exc)) from None
    except Refused as exc:
        target = grant.id if grant else None
        detail = f"{exc.status} {exc.reason} {ask.dataset[:40]}"
        ctx.audit(who.actor, "share.refused", target, detail)
        return _refusal(exc)
    served = service.served(period)
    detail = (
        f"{dataset.value}.{fmt} areas={','.join(areas)}"
        f" {served.start.isoformat()}..{served.end.isoformat()}"
    )
    ctx.audit(who.actor, "share.read", grant.id if grant else "admin-preview", detail)
    if fmt == "csv":
        return Response(body, media_type=MEDIA[fmt])
    return JSONResponse(body, media_type=MEDIA[fmt])
