"""Alerts: the list (filters, cursor paging, newest received first), one alert, its snapshot."""

# No "from __future__ import annotations": FastAPI must see the real Annotated types of
# the dependencies, which are local to build().
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import FileResponse

from contract.protocol import ID_PATTERN, KIND_PATTERN, Severity
from contract.watchlist import FACE_KIND
from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.params import HexId, aware
from hub.api.views import AlertView, Page, alert_view
from hub.domain.alerts import AlertQuery, AlertRecord
from hub.domain.incidents import IncidentState
from hub.domain.users import Role

#: A face match is a candidate for two officers on the watchlist page (audited there), not an
#: alert for every viewer: its record, crop and even its existence stay off these lists.
HIDDEN_KINDS = (FACE_KIND,)


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["alerts"])
    viewer = Annotated[Principal, Depends(ctx.services["auth"].require(Role.VIEWER))]
    alerts = ctx.storage.alerts

    def visible(alert_id: str) -> AlertRecord:
        record = alerts.get(alert_id)
        if record is None or record.kind in HIDDEN_KINDS:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
        return record

    @router.get("/api/alerts", response_model=Page[AlertView])
    def list_alerts(
        who: viewer,
        severity: Annotated[list[Severity] | None, Query(max_length=5)] = None,
        kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
        area: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
        node: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
        status_: Annotated[
            list[IncidentState] | None,
            Query(alias="status", max_length=7, description="state of the alert's incident"),
        ] = None,
        q: Annotated[str | None, Query(max_length=100, description="text search")] = None,
        since: Annotated[datetime | None, Query(description="received after")] = None,
        before: Annotated[datetime | None, Query(description="received before")] = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Page[AlertView]:
        """Alerts, newest *received* first (a node's wrong clock cannot reorder them)."""
        query = AlertQuery(
            hidden_kinds=HIDDEN_KINDS,
            severity=tuple(severity) if severity else None,
            kind=kind,
            area=area,
            node=node,
            status=tuple(str(s) for s in status_) if status_ else None,
            text=q or None,
            since=aware(since),
            before=aware(before),
            cursor=cursor,
            limit=limit,
        )
        try:
            page = alerts.find(query)
        except ValueError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
        ctx.audit(who.username, "alerts.list", area, f"{len(page.items)} alerts")
        return Page(items=[alert_view(r) for r in page.items], next_cursor=page.next_cursor)

    @router.get("/api/alerts/{alert_id}", response_model=AlertView)
    def get_alert(who: viewer, alert_id: HexId) -> AlertView:
        record = visible(alert_id)
        ctx.audit(who.username, "alert.view", alert_id)
        return alert_view(record)

    @router.get(
        "/api/alerts/{alert_id}/snapshot",
        response_class=FileResponse,
        responses={200: {"content": {"image/jpeg": {}}}},
    )
    def snapshot(who: viewer, alert_id: HexId) -> FileResponse:
        """The alert's JPEG (404 until it has arrived). Every view is audited."""
        visible(alert_id)
        path = alerts.snapshot_file(alert_id)
        if path is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no snapshot for this alert")
        ctx.audit(who.username, "snapshot.view", alert_id)
        return FileResponse(
            path, media_type="image/jpeg", headers={"cache-control": "private, max-age=3600"}
        )

    return router
