"""Response times: how long each step from alert to resolution took, and whether it improves.

The steps follow the NFORS (National Fire Operations Reporting System) segments, measured on
the first time an incident reached each state (:data:`hub.domain.incidents.MILESTONES`):

====================  =========================  =====================================
segment               from → to                  what it says
====================  =========================  =====================================
alert_to_ack          opened_at → acknowledged    how fast the duty desk reacted
ack_to_dispatch       acknowledged → dispatched   deciding and finding a unit
dispatch_to_en_route  dispatched → en route       the unit getting moving
travel                en route → on scene         driving there
on_scene_to_resolved  on scene → resolved         the work on scene (resolved only)
====================  =========================  =====================================

plus the mean time from alert to arrival (opened_at → on_scene_at), the figure people ask
for ("average arrival 5 min 43 s, 32% faster than last year").

An incident counts in a segment only if it reached both ends (one dispatched straight to the
scene has no travel time; a cancelled one no on-scene time). Percentiles are numpy's default,
``method="linear"``: Hyndman & Fan type 7, the spreadsheet PERCENTILE.INC — with sorted values
x[0] … x[n-1], the p-th percentile lies at rank p/100·(n-1), interpolated between neighbours.
A report covers incidents *opened* in [start, end), compared with the period of the same
length just before and with the same dates a year earlier.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pydantic import BaseModel, Field

from hub.domain.incidents import Category, IncidentState
from hub.storage.incidents import IncidentRepository, Milestones

PERCENTILE_METHOD = "linear (numpy default; Hyndman & Fan type 7)"


@dataclass(frozen=True)
class Segment:
    name: str
    label: str
    start: str  # a Milestones field
    end: str


SEGMENTS = (
    Segment("alert_to_ack", "alert → acknowledged", "opened_at", "acknowledged_at"),
    Segment("ack_to_dispatch", "acknowledged → dispatched", "acknowledged_at", "dispatched_at"),
    Segment("dispatch_to_en_route", "dispatched → en route", "dispatched_at", "en_route_at"),
    Segment("travel", "en route → on scene", "en_route_at", "on_scene_at"),
    Segment("on_scene_to_resolved", "on scene → resolved", "on_scene_at", "resolved_at"),
)
ARRIVAL = Segment("alert_to_arrival", "alert → on scene", "opened_at", "on_scene_at")


class SegmentFigures(BaseModel):
    segment: str
    label: str
    count: int = Field(description="incidents that reached both ends")
    p50_s: float | None = Field(description="median seconds; null without incidents")
    p90_s: float | None


class PeriodFigures(BaseModel):
    start: datetime
    end: datetime
    incidents: int
    segments: list[SegmentFigures]
    arrivals: int = Field(description="incidents with a unit on scene")
    mean_alert_to_arrival_s: float | None


class Change(BaseModel):
    """This period minus the other: negative seconds and percent are faster."""

    change_s: float | None
    change_pct: float | None = Field(description="relative to the other period's value")


class SegmentChange(BaseModel):
    segment: str
    p50: Change
    p90: Change


class Comparison(BaseModel):
    period: PeriodFigures
    mean_alert_to_arrival: Change
    segments: list[SegmentChange]


class ResponseTimeReport(BaseModel):
    area: str | None
    kind: str | None
    category: Category | None
    percentile_method: str = PERCENTILE_METHOD
    current: PeriodFigures
    previous_period: Comparison
    last_year: Comparison


def durations(incidents: Iterable[Milestones], segment: Segment) -> list[float]:
    """Seconds from the segment's start to its end, for incidents that reached both."""
    values = []
    for incident in incidents:
        start, end = getattr(incident, segment.start), getattr(incident, segment.end)
        if start is None or end is None:
            continue
        if segment.end == "resolved_at" and incident.state is not IncidentState.RESOLVED:
            continue  # resolved_at of a cancelled incident is when it was called off
        seconds = (end - start).total_seconds()
        if seconds >= 0:  # milestones are set once; a negative one is a bad record, skip it
            values.append(seconds)
    return values


def segment_figures(incidents: list[Milestones], segment: Segment) -> SegmentFigures:
    values = durations(incidents, segment)
    p50 = p90 = None
    if values:
        p50, p90 = (round(float(v), 3) for v in np.percentile(values, [50, 90], method="linear"))
    return SegmentFigures(
        segment=segment.name, label=segment.label, count=len(values), p50_s=p50, p90_s=p90
    )


def period_figures(incidents: list[Milestones], start: datetime, end: datetime) -> PeriodFigures:
    arrivals = durations(incidents, ARRIVAL)
    return PeriodFigures(
        start=start,
        end=end,
        incidents=len(incidents),
        segments=[segment_figures(incidents, s) for s in SEGMENTS],
        arrivals=len(arrivals),
        mean_alert_to_arrival_s=round(float(np.mean(arrivals)), 3) if arrivals else None,
    )


def change(current: float | None, other: float | None) -> Change:
    if current is None or other is None:
        return Change(change_s=None, change_pct=None)
    pct = round((current - other) / other * 100, 1) if other else None
    return Change(change_s=round(current - other, 3), change_pct=pct)


def compare(current: PeriodFigures, other: PeriodFigures) -> Comparison:
    return Comparison(
        period=other,
        mean_alert_to_arrival=change(
            current.mean_alert_to_arrival_s, other.mean_alert_to_arrival_s
        ),
        segments=[
            SegmentChange(
                segment=c.segment, p50=change(c.p50_s, o.p50_s), p90=change(c.p90_s, o.p90_s)
            )
            for c, o in zip(current.segments, other.segments, strict=True)
        ],
    )


def year_earlier(moment: datetime) -> datetime:
    """The same date and time a year before (29 February becomes the 28th)."""
    try:
        return moment.replace(year=moment.year - 1)
    except ValueError:
        return moment.replace(year=moment.year - 1, day=28)


def response_time_report(
    repo: IncidentRepository,
    start: datetime,
    end: datetime,
    *,
    area: str | None = None,
    kind: str | None = None,
    category: Category | None = None,
) -> ResponseTimeReport:
    """Figures for incidents opened in [start, end) matching the filters, beside the period
    just before and the same period last year."""
    if end <= start:
        raise ValueError("the period must end after it starts")

    def figures(a: datetime, b: datetime) -> PeriodFigures:
        incidents = repo.milestones_between(a, b, area=area, kind=kind, category=category)
        return period_figures(incidents, a, b)

    current = figures(start, end)
    previous = figures(start - (end - start), start)
    last_year = figures(year_earlier(start), year_earlier(end))
    return ResponseTimeReport(
        area=area,
        kind=kind,
        category=category,
        current=current,
        previous_period=compare(current, previous),
        last_year=compare(current, last_year),
    )
