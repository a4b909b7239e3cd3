"""Reports for supervisors: response times per NFORS segment and each unit's travel
(:mod:`hub.incidents.timings`), the incident export as CSV (:mod:`hub.incidents.export`) and
the heat map of where incidents happened (:mod:`hub.incidents.heatmap`). Every report is for a
bounded period, audited, and supervisor+."""

# No "from __future__ import annotations": FastAPI must see the real Annotated dependency
# types, which are local to build().
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from contract.protocol import ID_PATTERN, KIND_PATTERN
from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.params import aware
from hub.domain.incidents import Category, Incident
from hub.domain.users import Role
from hub.incidents.export import export_rows, to_csv
from hub.incidents.heatmap import Heatmap, heatmap
from hub.incidents.timings import ResponseTimeReport, response_time_report
from hub.storage.incidents import IncidentQuery

DEFAULT_PERIOD = timedelta(days=30)
#: Longer periods would read every incident of years at once; a year is what people compare.
MAX_PERIOD = timedelta(days=400)
#: The report also reads the period before and the year before: dates near the calendar's
#: ends would overflow (a 500 found by the fuzzer). The hub holds nothing outside these.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
#: The export and the heat map read whole incidents: past this many in the period, the
#: caller is asked for a shorter one (a 422) rather than the hub building a huge answer.
MAX_INCIDENTS = 20_000

Start = Annotated[datetime | None, Query(description="default: 30 days before end")]
End = Annotated[datetime | None, Query(description="exclusive; default: now")]


def period(
    ctx: ApiContext, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    """[start, end) in UTC, defaulting to the last 30 days; a 422 outside the bounds."""
    end = aware(end) or ctx.clock()
    start = aware(start) or max(end, EARLIEST + DEFAULT_PERIOD) - DEFAULT_PERIOD
    in_calendar = EARLIEST <= start < LATEST and EARLIEST < end <= LATEST
    if not in_calendar or not start < end <= start + MAX_PERIOD:
        raise HTTPException(
            422,
            f"start must be before end, at most {MAX_PERIOD.days} days apart, "
            f"within {EARLIEST.year}..{LATEST.year - 1}",
        )
    return start, end


def incidents_in(ctx: ApiContext, start: datetime, end: datetime, **filters) -> list[Incident]:
    """The incidents opened in [start, end), oldest first; a 422 past MAX_INCIDENTS."""
    query = IncidentQuery(opened_since=start, opened_before=end, limit=MAX_INCIDENTS + 1, **filters)
    found, _ = ctx.storage.incidents.find(query)
    if len(found) > MAX_INCIDENTS:
        raise HTTPException(
            422, f"more than {MAX_INCIDENTS} incidents in this period: choose a shorter one"
        )
    return found[::-1]


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["reports"])
    supervisor = Annotated[Principal, Depends(ctx.services["auth"].require(Role.SUPERVISOR))]

    @router.get("/api/reports/response-times", response_model=ResponseTimeReport)
    def response_times(
        who: supervisor,
        area: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
        kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
        category: Category | None = None,
        start: Start = None,
        end: End = None,
    ) -> ResponseTimeReport:
        """p50 and p90 seconds of each response segment for incidents opened in
        [start, end), with the mean time from alert to arrival, each compared with the
        period just before and the same period last year; and each unit's travel
        (dispatched → on scene) by unit kind and by area, for this period."""
        start, end = period(ctx, start, end)
        report = response_time_report(
            ctx.storage.incidents,
            start,
            end,
            area=area,
            kind=kind,
            category=category,
            assignments=ctx.storage.assignments,
        )
        detail = f"{start.isoformat()}..{end.isoformat()} area={area} kind={kind}"
        ctx.audit(who.username, "report.response_times", category, detail)
        return report

    @router.get(
        "/api/reports/incidents.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}, "description": "the CSV file"}},
    )
    def incidents_csv(who: supervisor, start: Start = None, end: End = None) -> Response:
        """Incidents opened in [start, end) with all their timings, each followed by the
        units sent to it (column ``record``: incident or assignment); see
        hub.incidents.export."""
        start, end = period(ctx, start, end)
        incidents = incidents_in(ctx, start, end)
        units = ctx.storage.assignments.timings_between(start, end)
        text = to_csv(export_rows(incidents, units))
        detail = f"{start.isoformat()}..{end.isoformat()} incidents={len(incidents)}"
        ctx.audit(who.username, "report.export_csv", None, detail)
        name = f"incidents-{start:%Y%m%d}-{end:%Y%m%d}.csv"
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get("/api/reports/heatmap", response_model=Heatmap)
    def heat(
        who: supervisor,
        start: Start = None,
        end: End = None,
        category: Category | None = None,
        kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
    ) -> Heatmap:
        """Incidents opened in [start, end) counted per point (their own, else their
        area's middle), and how many could not be placed."""
        start, end = period(ctx, start, end)
        incidents = incidents_in(ctx, start, end, category=category, kind=kind)
        areas = {a.id: a.position for a in ctx.config.areas} if ctx.config else {}
        report = heatmap(incidents, areas, start, end)
        detail = f"{start.isoformat()}..{end.isoformat()} kind={kind}"
        ctx.audit(who.username, "report.heatmap", category, detail)
        return report

    return router
