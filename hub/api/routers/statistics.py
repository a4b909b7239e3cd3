"""Statistics for officers (officer+, every read audited): incidents by kind, area, hour and
weekday; response-time segments; false-alarm rates per camera, rule and sensor. Each for a
period of the site's calendar (``unit`` = day, week, month, quarter, year containing ``date``,
or ``custom`` from ``date`` to ``last``) beside the period before and the same period last
year. See :mod:`hub.statistics`."""

# No "from __future__ import annotations": FastAPI must see the real Annotated dependency
# types, which are local to build().
from datetime import date, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query

from contract.statistics_settings import StatisticsSettings
from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.domain.incidents import Category
from hub.domain.users import Role
from hub.statistics.false_alarms import FalseAlarmStatistics, false_alarm_statistics
from hub.statistics.periods import Period, Unit, custom, period_of, today
from hub.statistics.queries import StatisticsStore
from hub.statistics.report import (
    IncidentStatistics,
    ResponseTimeStatistics,
    incident_statistics,
    response_time_statistics,
    three_periods,
)

#: The hub holds nothing outside these years; the period a year back must exist too.
FIRST_YEAR, LAST_YEAR = 2001, 2199

UnitParam = Annotated[Unit, Query(description="day, week, month, quarter, year or custom")]
DateParam = Annotated[
    date | None, Query(description="a day in the period (custom: its first); default today")
]
LastParam = Annotated[date | None, Query(description="custom only: the last day, included")]


def settings(ctx: ApiContext) -> StatisticsSettings:
    """``hub.statistics`` of the site file, or the defaults (a hub without a site file)."""
    return ctx.config.hub.statistics if ctx.config else StatisticsSettings()


def site_zone(ctx: ApiContext) -> tuple[tzinfo, str]:
    name = ctx.config.site.timezone if ctx.config else "UTC"
    return ZoneInfo(name), name


def chosen_period(ctx: ApiContext, unit: Unit, day: date | None, last: date | None) -> Period:
    """The period asked for, in the site's calendar; a 422 explains what is wrong."""
    zone, _ = site_zone(ctx)
    day = day or today(ctx.clock(), zone)
    try:
        if (unit is Unit.CUSTOM) != (last is not None):
            raise ValueError("last is given with unit=custom, and only then")
        period = custom(day, last) if unit is Unit.CUSTOM else period_of(unit, day)
        if period.first.year < FIRST_YEAR or period.end.year > LAST_YEAR:
            raise ValueError(f"periods lie within {FIRST_YEAR}..{LAST_YEAR}")
    except (ValueError, OverflowError) as exc:  # OverflowError: past the year 9999
        raise HTTPException(422, str(exc)) from None
    return period


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["statistics"])
    officer = Annotated[Principal, Depends(ctx.services["auth"].require(Role.OFFICER))]
    store = StatisticsStore(ctx.storage.incidents.database)

    def audit(who: Principal, action: str, period: Period, extra: str = "") -> None:
        detail = f"{period.unit} {period.first}..{period.last}{extra}"
        ctx.audit(who.username, f"statistics.{action}", None, detail)

    @router.get("/api/statistics/incidents", response_model=IncidentStatistics)
    def incidents(
        who: officer,
        unit: UnitParam = Unit.MONTH,
        date: DateParam = None,
        last: LastParam = None,
        category: Category = Category.SECURITY,
    ) -> IncidentStatistics:
        """Incidents opened in the period by kind, area, local hour and weekday; kinds,
        areas and the total against the previous period and the same period last year."""
        period = chosen_period(ctx, unit, date, last)
        zone, name = site_zone(ctx)
        least = settings(ctx).min_events_to_compare
        report = incident_statistics(
            store, period, zone, name, category=category.value, min_events=least
        )
        audit(who, "incidents", period, f" category={category}")
        return report

    @router.get("/api/statistics/response-times", response_model=ResponseTimeStatistics)
    def response_times(
        who: officer, unit: UnitParam = Unit.MONTH, date: DateParam = None, last: LastParam = None
    ) -> ResponseTimeStatistics:
        """p50/p90 of each response segment (as /api/reports/response-times) for security
        incidents opened in the period, against the previous period and last year."""
        period = chosen_period(ctx, unit, date, last)
        zone, name = site_zone(ctx)
        least = settings(ctx).min_events_to_compare
        report = response_time_statistics(store, period, zone, name, min_events=least)
        audit(who, "response_times", period)
        return report

    @router.get("/api/statistics/false-alarms", response_model=FalseAlarmStatistics)
    def false_alarms(
        who: officer, unit: UnitParam = Unit.MONTH, date: DateParam = None, last: LastParam = None
    ) -> FalseAlarmStatistics:
        """False-alarm rate per camera, per rule (camera, zone, kind) and per sensor, over
        the security incidents opened in the period; worst first."""
        period = chosen_period(ctx, unit, date, last)
        zone, name = site_zone(ctx)
        least = settings(ctx).min_events_to_compare
        report = false_alarm_statistics(store, three_periods(period, zone, name), min_events=least)
        audit(who, "false_alarms", period)
        return report

    return router
