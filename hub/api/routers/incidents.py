"""Incidents: the queue, the history, one incident with everything on it, and acting on it.

Roles: viewers read (list, queue, detail, photos); officers act (transitions), write notes,
attach photos and open incidents from calls; ``integration`` users (other systems) may only
open ``external`` incidents. Every action, and every look at an incident's history, is
written to the audit log. The service's errors become statuses here: unknown → 404,
impossible transition → 409, unacceptable input → 422, photo too large → 413, not a photo
→ 415.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated dependency
# types, which build() makes and hands to each group of routes.
import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from contract.protocol import ID_PATTERN, KIND_PATTERN, Severity
from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.params import HexId, aware
from hub.api.views import AlertView, Page, alert_view
from hub.domain.incidents import (
    Attachment,
    Category,
    Incident,
    IncidentState,
    Note,
    Source,
    Transition,
)
from hub.domain.users import Role
from hub.incidents import errors
from hub.incidents.requests import NewIncident, NoteRequest, TransitionRequest
from hub.incidents.service import IncidentService
from hub.storage.incidents import IncidentQuery

#: Printable ASCII without spaces, as clients generate them (UUIDs, ULIDs, hashes).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,128}$"
_STATUS = {
    errors.IncidentNotFound: status.HTTP_404_NOT_FOUND,
    errors.AttachmentNotFound: status.HTTP_404_NOT_FOUND,
    errors.IllegalTransition: status.HTTP_409_CONFLICT,
    errors.StaleIncident: status.HTTP_409_CONFLICT,
    errors.InvalidIncidentRequest: 422,
    errors.IdempotencyKeyReused: 422,
    errors.AttachmentTooLarge: 413,
    errors.UnsupportedAttachment: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
}


class IncidentDetail(BaseModel):
    """One incident with its alerts, transitions (who, when), notes and photos."""

    incident: Incident
    alerts: list[AlertView]
    transitions: list[Transition]
    notes: list[Note]
    attachments: list[Attachment]


@contextlib.contextmanager
def http_errors() -> Iterator[None]:
    """Turn the incident service's errors into HTTP answers with their message."""
    try:
        yield
    except tuple(_STATUS) as exc:
        code = next(c for kind, c in _STATUS.items() if isinstance(exc, kind))
        raise HTTPException(code, str(exc)) from None


def build(ctx: ApiContext) -> APIRouter:
    """The routes by concern: reading (viewers), working on an incident (officers), opening
    one (officers, and other systems through ``integration`` users)."""
    router = APIRouter(tags=["incidents"])
    auth = ctx.services["auth"]
    viewer = Annotated[Principal, Depends(auth.require(Role.VIEWER))]
    officer = Annotated[Principal, Depends(auth.require(Role.OFFICER))]
    opener = Annotated[Principal, Depends(auth.require_any(Role.OFFICER, Role.INTEGRATION))]
    _add_reading(router, ctx, viewer)
    _add_working(router, ctx, officer)
    _add_opening(router, ctx, opener)
    return router


def _service(ctx: ApiContext) -> IncidentService:
    return ctx.services["incidents"]


def _add_reading(router: APIRouter, ctx: ApiContext, viewer) -> None:
    """The history, the queue, one incident and its photos; every look is audited."""

    @router.get("/api/incidents", response_model=Page[Incident])
    def list_incidents(
        who: viewer,
        state: Annotated[list[IncidentState] | None, Query(max_length=7)] = None,
        category: Category | None = None,
        severity: Annotated[list[Severity] | None, Query(max_length=5)] = None,
        area: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
        kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
        since: Annotated[datetime | None, Query(description="opened at or after")] = None,
        before: Annotated[datetime | None, Query(description="opened before")] = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Page[Incident]:
        """Incidents, newest opened first, one page at a time."""
        query = IncidentQuery(
            state=tuple(state) if state else None,
            category=category,
            severity=tuple(severity) if severity else None,
            area=area,
            kind=kind,
            opened_since=aware(since),
            opened_before=aware(before),
            cursor=cursor,
            limit=limit,
        )
        try:
            items, next_cursor = ctx.storage.incidents.find(query)
        except ValueError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
        ctx.audit(who.username, "incidents.list", area, f"{len(items)} incidents")
        return Page(items=items, next_cursor=next_cursor)

    @router.get("/api/incidents/queue", response_model=list[Incident])
    def queue(
        who: viewer,
        category: Category | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 200,
    ) -> list[Incident]:
        """Open incidents: most severe first, then the longest waiting."""
        items = ctx.storage.incidents.queue(limit, category)
        target = str(category) if category else None
        ctx.audit(who.username, "incidents.queue", target, f"{len(items)} incidents")
        return items

    @router.get("/api/incidents/{incident_id}", response_model=IncidentDetail)
    def get_incident(who: viewer, incident_id: HexId) -> IncidentDetail:
        """The incident, its alerts (with snapshot links) and its whole history."""
        with http_errors():
            found = _service(ctx).detail(incident_id)
        ctx.audit(who.username, "incident.view", incident_id, found.incident.ref)
        return IncidentDetail(
            incident=found.incident,
            alerts=[alert_view(a) for a in found.alerts],
            transitions=found.transitions,
            notes=found.notes,
            attachments=found.attachments,
        )

    @router.get(
        "/api/incidents/{incident_id}/attachments/{attachment_id}",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
    )
    def get_attachment(
        who: viewer,
        incident_id: HexId,
        attachment_id: Annotated[int, PathParam(ge=1, le=2**62)],
    ) -> Response:
        with http_errors():
            attachment, data = _service(ctx).attachment(incident_id, attachment_id)
        ctx.audit(who.username, "attachment.view", incident_id, f"attachment {attachment_id}")
        return Response(
            data,
            media_type=attachment.content_type,
            headers={
                "cache-control": "private, max-age=3600",
                "content-disposition": f'inline; filename="{attachment.filename}"',
            },
        )


def _add_working(router: APIRouter, ctx: ApiContext, officer) -> None:
    """Moving an incident through its lifecycle, notes and photos."""

    @router.post("/api/incidents/{incident_id}/transitions", response_model=Incident)
    def transition(who: officer, incident_id: HexId, body: TransitionRequest) -> Incident:
        """Acknowledge, dispatch, en route, arrive, release, resolve (with an outcome),
        cancel or reopen; 409 with the reason when the incident's state does not allow it."""
        with http_errors():
            incident = _service(ctx).act(
                incident_id, body.action, who.username, body.note, body.outcome
            )
        detail = f"{incident.ref} → {incident.state.value}"
        if incident.outcome and body.outcome:
            detail += f" ({incident.outcome.value})"
        ctx.audit(who.username, f"incident.{body.action.value}", incident_id, detail)
        return incident

    @router.post("/api/incidents/{incident_id}/notes", response_model=Note, status_code=201)
    def add_note(who: officer, incident_id: HexId, body: NoteRequest) -> Note:
        with http_errors():
            note = _service(ctx).add_note(incident_id, who.username, body.text)
        ctx.audit(who.username, "incident.note", incident_id, f"note {note.id}")
        return note

    @router.post(
        "/api/incidents/{incident_id}/attachments",
        response_model=Attachment,
        status_code=201,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"image/jpeg": {}, "image/png": {}},
            }
        },
    )
    async def add_attachment(
        request: Request,
        who: officer,
        incident_id: HexId,
        filename: Annotated[str | None, Query(max_length=255)] = None,
    ) -> Attachment:
        """A photo as the raw body (``Content-Type: image/jpeg`` or ``image/png``, at most
        5 MiB); its bytes must be what the type says."""
        declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if declared not in ("image/jpeg", "image/png"):
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send image/jpeg or png")
        # BodyLimit (hub.api.limits) has already refused a body past the photo limit before
        # it was read; the service answers 413 for one over 5 MiB.
        data = await request.body()
        with http_errors():
            attachment = await run_in_threadpool(
                _service(ctx).add_attachment, incident_id, who.username, filename, data, declared
            )
        detail = f"{attachment.filename} ({attachment.size} bytes)"
        await ctx.audit_async(who.username, "incident.attachment", incident_id, detail)
        return attachment


def _add_opening(router: APIRouter, ctx: ApiContext, opener) -> None:
    """Phone calls (officers) and reports from other systems, with idempotency keys."""

    @router.post("/api/incidents", response_model=Incident, status_code=201)
    def open_incident(
        who: opener,
        body: NewIncident,
        response: Response,
        idempotency_key: Annotated[
            str | None,
            Header(
                pattern=IDEMPOTENCY_KEY_PATTERN,
                description="the same key again returns the incident made the first time",
            ),
        ] = None,
    ) -> Incident:
        """Open an incident from a phone call (officers) or another system (officers and
        integration users, ``source: external``)."""
        if who.user.role is Role.INTEGRATION and body.source is not Source.EXTERNAL:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "other systems open external ones")
        opening = (
            _service(ctx).open_call if body.source is Source.CALL else _service(ctx).open_external
        )
        with http_errors():
            incident, created = opening(body, who.username, idempotency_key)
        if created:
            detail = f"{incident.ref} {body.source.value} {body.kind} {body.severity.value}"
            ctx.audit(who.username, "incident.open", incident.id, detail)
        else:
            response.headers["idempotent-replayed"] = "true"
        return incident
