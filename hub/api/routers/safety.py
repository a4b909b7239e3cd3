"""The safety index, patrol hot spots and the monthly reports (:mod:`hub.safety`).

Officers and up read the index and the hot spots (patrols are planned on them); supervisors
and up download the monthly reports. Every read is audited. Both answers carry the plain
statement that they describe the past and are not a prediction of crime by anyone.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated dependency
# types, which are local to build().
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi import Path as PathParam
from pydantic import BaseModel

from contract.safety_settings import ReportSchedule
from contract.siteconfig import SiteConfig
from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.params import aware
from hub.domain.users import Role
from hub.safety.hotspots import HotSpots, hotspots_report
from hub.safety.index import NOT_A_PREDICTION
from hub.safety.months import MONTH_PATTERN, Month
from hub.safety.schedule import ReportFile, ReportShelf
from hub.safety.service import SafetyIndexReport, index_report

#: Hot spots end no earlier or later than this (the index's months are checked by Month).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class ReportList(BaseModel):
    schedule: ReportSchedule
    timezone: str
    note: str = NOT_A_PREDICTION
    reports: list[ReportFile]


def site_of(ctx: ApiContext) -> SiteConfig:
    if ctx.config is None:
        raise HTTPException(404, "this hub has no site file: no areas to compute an index for")
    return ctx.config


def month_of(ctx: ApiContext, config: SiteConfig, month: str | None) -> Month:
    """The month asked for, or the current one in the site's time zone; 422 if not a month."""
    if month is None:
        return Month.containing(ctx.clock(), config.site.timezone)
    try:
        return Month.parse(month)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["safety"])
    auth = ctx.services["auth"]
    officer = Annotated[Principal, Depends(auth.require(Role.OFFICER))]
    supervisor = Annotated[Principal, Depends(auth.require(Role.SUPERVISOR))]
    month_query = Query(description="YYYY-MM in the site's time zone; default: this month")

    @router.get("/api/safety/index", response_model=SafetyIndexReport)
    def safety_index(
        who: officer, month: Annotated[str | None, month_query] = None
    ) -> SafetyIndexReport:
        """The safety index (0..100) of the site and each area for a month, with every
        component behind each value and how it moved since the month before
        (docs/safety-index.md)."""
        config = site_of(ctx)
        chosen = month_of(ctx, config, month)
        report = index_report(ctx.storage.incidents, config, chosen)
        ctx.audit(who.username, "safety.index", str(chosen), f"site={report.site.index}")
        return report

    @router.get("/api/safety/hotspots", response_model=HotSpots)
    def hot_spots(
        who: officer,
        end: Annotated[datetime | None, Query(description="exclusive; default: now")] = None,
    ) -> HotSpots:
        """Where and when patrols are most needed, judged from the counted incidents of the
        last ``safety.hotspot_weeks`` weeks before ``end``: by area and hour of the week.
        It describes the past; it is not a prediction of crime by any person."""
        config = site_of(ctx)
        end = aware(end) or ctx.clock()
        if not EARLIEST <= end < LATEST:
            raise HTTPException(422, f"end must be within {EARLIEST.year}..{LATEST.year - 1}")
        found = hotspots_report(ctx.storage.incidents, config, end)
        ctx.audit(who.username, "safety.hotspots", None, f"end={end.isoformat()}")
        return found

    @router.get("/api/safety/reports", response_model=ReportList)
    def reports(who: supervisor) -> ReportList:
        """The monthly reports the hub has written, newest first, and when it writes them."""
        config = site_of(ctx)
        shelf: ReportShelf | None = ctx.services.get("safety_reports")
        found = shelf.list() if shelf else []
        ctx.audit(who.username, "safety.reports", None, f"reports={len(found)}")
        return ReportList(
            schedule=config.safety.report, timezone=config.site.timezone, reports=found
        )

    @router.get(
        "/api/safety/reports/{month}",
        response_class=Response,
        responses={200: {"content": {"text/html": {}}, "description": "the report, to save"}},
    )
    def report_file(
        who: supervisor, month: Annotated[str, PathParam(pattern=MONTH_PATTERN.pattern)]
    ) -> Response:
        """One monthly report as a file to save and print (a download: its own style sheet
        is inside it, which the hub's pages do not allow)."""
        shelf: ReportShelf | None = ctx.services.get("safety_reports")
        path = shelf.path(month_of(ctx, site_of(ctx), month)) if shelf else None
        if path is None or not path.is_file():
            raise HTTPException(404, f"no report for {month} yet")
        ctx.audit(who.username, "safety.report_download", month, None)
        return Response(
            path.read_bytes(),
            media_type="text/html; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
        )

    return router
