"""Data sharing: the admin's register (department accounts, tokens, revoking) and the
department API that reads aggregate datasets with a scoped token (:mod:`hub.sharing`).

Departments call ``GET /api/share/v1/data?dataset=…&format=…`` with
``Authorization: Bearer vws_…``. An admin's own session may call it too, over every area,
to preview exactly what a department would receive. Every request, answered or refused,
leaves an audit row (``share.read`` or ``share.refused``, with the reason).
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated dependency
# types, which are local to build().
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from contract.protocol import ID_PATTERN
from contract.sharing_settings import SharingSettings
from hub.api.auth import Principal, request_token
from hub.api.context import ApiContext
from hub.api.params import aware
from hub.domain.users import Role
from hub.sharing.scope import COUNT_DATASETS, AccountRequest, Dataset, GrantRequest, Refused, check
from hub.sharing.service import TOKEN_PREFIX, SharingService
from hub.storage.sqlite.sharing import sharing_for

Format = Literal["json", "csv", "sensorthings", "geojson"]
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
        hub_settings = getattr(config, "hub", None)
        settings = getattr(hub_settings, "sharing", None) or SharingSettings()
        ctx.services["sharing"] = SharingService(
            sharing_for(ctx.storage),
            list(config.areas) if config else [],
            settings,
            ctx.clock,
            config.site.timezone if config else "UTC",
        )
    return ctx.services["sharing"]


def _refusal(exc: Refused) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
    return JSONResponse({"detail": exc.reason}, status_code=exc.status, headers=headers)


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["sharing"])
    service = sharing_service(ctx)
    auth = ctx.services["auth"]
    admin = Annotated[Principal, Depends(auth.require(Role.ADMIN))]

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
        request: Request,
        dataset: Dataset,
        format: Format = "json",
        area: Annotated[list[str] | None, Query(max_length=200)] = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Response:
        """One dataset for the token's scope (or, for an admin's session, every area):
        count cells as ``json``/``csv``/``sensorthings``; ``hot_spots`` as
        ``json``/``geojson``; ``areas`` as ``geojson``. Cells with fewer than k events are
        not listed. Periods are whole UTC hours, ``start`` inclusive, ``end`` exclusive."""
        return _read(ctx, service, request, dataset, format, area, aware(start), aware(end))

    @router.get("/api/share/v1/scope")
    def scope(request: Request) -> Response:
        """What this token may read (its grant, without the token)."""
        try:
            grant = service.authenticate(request_token(request))
            service.admit(grant)
        except Refused as exc:
            ctx.audit(None, "share.refused", None, f"{exc.status} {exc.reason}")
            return _refusal(exc)
        ctx.audit(f"share:{grant.account_id}", "share.scope", grant.id)
        body = grant.model_dump(mode="json", exclude={"created_by", "revoked_by", "uses"})
        return JSONResponse(body)

    return router


def _read(
    ctx: ApiContext,
    service: SharingService,
    request: Request,
    dataset: Dataset,
    fmt: str,
    areas: list[str] | None,
    start: datetime | None,
    end: datetime | None,
) -> Response:
    """Authenticate (a token, else an admin's session), check the scope, count the
    request, answer; audit whatever happened."""
    token = request_token(request) or ""
    grant, who = None, None
    if not token.startswith(TOKEN_PREFIX):
        try:  # no sharing token: an admin's session previews, anyone else is refused
            who = ctx.services["auth"].require(Role.ADMIN)(request)
        except HTTPException as exc:
            ctx.audit(None, "share.refused", None, f"{exc.status_code} {exc.detail} {dataset}")
            raise
    actor = who.username if who else None
    try:
        if who is None:
            grant = service.authenticate(token)
            actor = f"share:{grant.account_id}"
        areas = areas or list(grant.areas if grant else service.areas)
        try:
            period = service.period(grant, start, end)
        except ValueError as exc:
            raise Refused(422, str(exc)) from None
        if grant is not None:
            has_period = dataset in (*COUNT_DATASETS, Dataset.HOT_SPOTS)
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
        ctx.audit(actor, "share.refused", target, f"{exc.status} {exc.reason} {dataset}")
        return _refusal(exc)
    served = service.served(period)
    detail = (
        f"{dataset.value}.{fmt} areas={','.join(areas)}"
        f" {served.start.isoformat()}..{served.end.isoformat()}"
    )
    ctx.audit(actor, "share.read", grant.id if grant else "admin-preview", detail)
    if fmt == "csv":
        return Response(body, media_type=MEDIA[fmt])
    return JSONResponse(body, media_type=MEDIA[fmt])
