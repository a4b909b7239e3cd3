"""Incident counts and response times for a period, beside the previous period and last year.

* :func:`incident_statistics` — incidents *opened* in the period by kind, by area, by local
  hour of day and day of week (and the 7 x 24 grid of both), each count of kind and area
  compared with the previous period and the same period last year (:mod:`.changes`).
* :func:`response_time_statistics` — the NFORS segments of :mod:`hub.incidents.timings`
  (its segments, percentiles, models and comparison; the durations computed on numbers in
  numpy rather than per incident in Python) for the same three periods; a segment with too
  few incidents behind it shows no change.

Periods are whole days of the site's calendar (:mod:`.periods`); the figures are for
incidents of one category, ``security`` by default (camera faults are not crime).
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

import numpy as np
from pydantic import BaseModel, Field

from hub.incidents.timings import (
    ARRIVAL,
    SEGMENTS,
    Change,
    Comparison,
    PeriodFigures,
    Segment,
    SegmentFigures,
    compare,
    percentiles,
)
from hub.statistics.changes import CountChange, count_change
from hub.statistics.periods import Period, Unit
from hub.statistics.queries import MILESTONE_COLUMNS, StatisticsStore

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class PeriodInfo(BaseModel):
    unit: Unit
    first: date = Field(description="first local day")
    last: date = Field(description="last local day (included)")
    start: datetime = Field(description="local midnight of the first day, UTC")
    end: datetime = Field(description="local midnight after the last day, UTC (excluded)")

    @classmethod
    def of(cls, period: Period, zone: tzinfo) -> PeriodInfo:
        start, end = period.instants(zone)
        return cls(unit=period.unit, first=period.first, last=period.last, start=start, end=end)


class Periods(BaseModel):
    timezone: str
    current: PeriodInfo
    previous_period: PeriodInfo
    last_year: PeriodInfo


class Counted(BaseModel):
    key: str = Field(description="a kind, an area id ((none): no area), or all")
    count: int
    previous_period: CountChange
    last_year: CountChange


class IncidentStatistics(BaseModel):
    periods: Periods
    category: str | None
    min_events_to_compare: int
    total: Counted
    by_kind: list[Counted] = Field(description="most incidents first")
    by_area: list[Counted] = Field(description="most incidents first")
    by_hour: list[int] = Field(description="24 counts, local hour 0..23")
    by_weekday: list[int] = Field(description="7 counts, Monday first")
    hour_of_week: list[list[int]] = Field(description="7 rows (Monday first) of 24 hours")


def three_periods(period: Period, zone: tzinfo, zone_name: str) -> Periods:
    return Periods(
        timezone=zone_name,
        current=PeriodInfo.of(period, zone),
        previous_period=PeriodInfo.of(period.previous(), zone),
        last_year=PeriodInfo.of(period.last_year(), zone),
    )


def _counted(
    key: str, now: dict[str, int], before: dict[str, int], year: dict[str, int], least: int
) -> Counted:
    current = now.get(key, 0)
    return Counted(
        key=key,
        count=current,
        previous_period=count_change(current, before.get(key, 0), least),
        last_year=count_change(current, year.get(key, 0), least),
    )


def _compared(
    store: StatisticsStore, periods: Periods, category: str | None, least: int
) -> tuple[list[Counted], list[Counted], Counted]:
    """By kind, by area and the total, each against both other periods."""
    found = [
        store.counts(p.start, p.end, category)
        for p in (periods.current, periods.previous_period, periods.last_year)
    ]

    def rows(side: int) -> list[Counted]:
        sums = []
        for counts in found:
            summed: dict[str, int] = {}
            for key, count in counts.items():
                summed[key[side]] = summed.get(key[side], 0) + count
            sums.append(summed)
        now = sums[0]
        keys = sorted(set().union(*sums), key=lambda k: (-now.get(k, 0), k))
        return [_counted(k, *sums, least) for k in keys]

    totals = [{"all": sum(counts.values())} for counts in found]
    return rows(0), rows(1), _counted("all", *totals, least)


def incident_statistics(
    store: StatisticsStore,
    period: Period,
    zone: tzinfo,
    zone_name: str,
    *,
    category: str | None = "security",
    min_events: int = 10,
) -> IncidentStatistics:
    """Counts of incidents opened in ``period`` (local days of ``zone``); see the module."""
    periods = three_periods(period, zone, zone_name)
    by_kind, by_area, total = _compared(store, periods, category, min_events)
    grid = store.hour_of_week(zone, periods.current.start, periods.current.end, category)
    return IncidentStatistics(
        periods=periods,
        category=category,
        min_events_to_compare=min_events,
        total=total,
        by_kind=by_kind,
        by_area=by_area,
        by_hour=[sum(day[h] for day in grid) for h in range(24)],
        by_weekday=[sum(day) for day in grid],
        hour_of_week=grid,
    )


class TimedComparison(BaseModel):
    figures: Comparison = Field(description="the other period's figures and the changes")
    incidents: CountChange
    too_few: list[str] = Field(
        description="segments with fewer timed incidents (both periods together) than"
        " min_events_to_compare: their changes are null"
    )


class ResponseTimeStatistics(BaseModel):
    periods: Periods
    category: str | None
    min_events_to_compare: int
    current: PeriodFigures
    previous_period: TimedComparison
    last_year: TimedComparison


def _timed(current: PeriodFigures, other: PeriodFigures, least: int) -> TimedComparison:
    figures = compare(current, other)
    counts = {s.segment: s.count for s in other.segments}
    too_few = []
    for mine, change in zip(current.segments, figures.segments, strict=True):
        if mine.count + counts[mine.segment] < least:
            too_few.append(mine.segment)
            change.p50 = change.p90 = Change(change_s=None, change_pct=None)
    if current.arrivals + other.arrivals < least:
        figures.mean_alert_to_arrival = Change(change_s=None, change_pct=None)
    return TimedComparison(
        figures=figures,
        incidents=count_change(current.incidents, other.incidents, least),
        too_few=too_few,
    )


def period_figures(days: np.ndarray, start: datetime, end: datetime) -> PeriodFigures:
    """:func:`hub.incidents.timings.period_figures` on :meth:`StatisticsStore.milestone_days`
    numbers: the same segments, the same rules (both ends reached, no negative spans, the
    on-scene → resolved segment of resolved incidents only) and the same percentiles."""
    column = {name: i + 1 for i, name in enumerate(MILESTONE_COLUMNS)}
    resolved = days[:, 0] == 1

    def seconds(segment: Segment) -> list[float]:
        spans = (days[:, column[segment.end]] - days[:, column[segment.start]]) * 86400
        keep = spans >= 0  # False for NaN: a milestone not reached
        if segment.end == "resolved_at":
            keep &= resolved  # resolved_at of a cancelled incident is when it was called off
        # Julian days are doubles (~40 µs apart in this century): back to the stored ms.
        return np.round(spans[keep], 3).tolist()

    segments = []
    for segment in SEGMENTS:
        values = seconds(segment)
        p50, p90 = percentiles(values)
        segments.append(
            SegmentFigures(
                segment=segment.name, label=segment.label, count=len(values), p50_s=p50, p90_s=p90
            )
        )
    arrivals = seconds(ARRIVAL)
    return PeriodFigures(
        start=start,
        end=end,
        incidents=len(days),
        segments=segments,
        arrivals=len(arrivals),
        mean_alert_to_arrival_s=round(float(np.mean(arrivals)), 3) if arrivals else None,
    )


def response_time_statistics(
    store: StatisticsStore,
    period: Period,
    zone: tzinfo,
    zone_name: str,
    *,
    category: str | None = "security",
    min_events: int = 10,
) -> ResponseTimeStatistics:
    """The NFORS segments (:mod:`hub.incidents.timings`) of ``period`` and its two others."""
    periods = three_periods(period, zone, zone_name)

    def figures(info: PeriodInfo) -> PeriodFigures:
        days = store.milestone_days(info.start, info.end, category)
        return period_figures(days, info.start, info.end)

    current = figures(periods.current)
    return ResponseTimeStatistics(
        periods=periods,
        category=category,
        min_events_to_compare=min_events,
        current=current,
        previous_period=_timed(current, figures(periods.previous_period), min_events),
        last_year=_timed(current, figures(periods.last_year), min_events),
    )
