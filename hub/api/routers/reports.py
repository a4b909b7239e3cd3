"""Reports for supervisors: response times per NFORS segment (see hub.incidents.timings)."""

# No "from __future__ import annotations": FastAPI must see the real Annotated dependency
# types, which are local to build().
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from contract.protocol import ID_PATTERN, KIND_PATTERN
from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.params import aware
from hub.domain.incidents import Category
from hub.domain.users import Role
from hub.incidents.timings import ResponseTimeReport, response_time_report

DEFAULT_PERIOD = timedelta(days=30)
#: Longer periods would read every incident of years at once; a year is what people compare.
MAX_PERIOD = timedelta(days=400)
#: The report also reads the period before and the year before: dates near the calendar's
#: ends would overflow (a 500 found by the fuzzer). The hub holds nothing outside these.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["reports"])
    supervisor = Annotated[Principal, Depends(ctx.services["auth"].require(Role.SUPERVISOR))]

    @router.get("/api/reports/response-times", response_model=ResponseTimeReport)
    def response_times(
        who: supervisor,
        area: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
        kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
        category: Category | None = None,
        start: Annotated[datetime | None, Query(description="default: 30 days before end")] = None,
        end: Annotated[datetime | None, Query(description="exclusive; default: now")] = None,
    ) -> ResponseTimeReport:
        """p50 and p90 seconds of each response segment for incidents opened in
        [start, end), with the mean time from alert to arrival, each compared with the
        period just before and the same period last year."""
        end = aware(end) or ctx.clock()
        start = aware(start) or max(end, EARLIEST + DEFAULT_PERIOD) - DEFAULT_PERIOD
        in_calendar = EARLIEST <= start < LATEST and EARLIEST < end <= LATEST
        if not in_calendar or not start < end <= start + MAX_PERIOD:
            raise HTTPException(
                422,
                f"start must be before end, at most {MAX_PERIOD.days} days apart, "
                f"within {EARLIEST.year}..{LATEST.year - 1}",
            )
        report = response_time_report(
            ctx.storage.incidents, start, end, area=area, kind=kind, category=category
        )
        detail = f"{start.isoformat()}..{end.isoformat()} area={area} kind={kind}"
        ctx.audit(who.username, "report.response_times", category, detail)
        return report

    return router
