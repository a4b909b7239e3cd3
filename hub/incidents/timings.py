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

**Travel per unit** (:func:`travel_figures`) is measured on assignments, not incidents: each
unit sent counts once, from its own dispatch to its own arrival (``dispatched_at →
on_scene_at``), grouped by the unit's kind (foot, bicycle, car) and by the incident's area.
A unit that never arrived (released, timed out) has no travel time. The incident-level
``travel`` segment above (en route → on scene of the *first* unit) answers "how long did
the scene wait"; this one answers "how fast are our cars compared with our bicycles".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from hub.domain.incidents import Category, IncidentState
from hub.storage.incidents import IncidentRepository, Milestones
from hub.storage.units import AssignmentRepository, AssignmentTiming

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
#: One unit's segments, on its assignment (the CSV export's assignment rows).
UNIT_SEGMENTS = (
    Segment("dispatch_to_accept", "dispatched → accepted", "dispatched_at", "accepted_at"),
    Segment("dispatch_to_en_route", "dispatched → en route", "dispatched_at", "en_route_at"),
    Segment("en_route_to_on_scene", "en route → on scene", "en_route_at", "on_scene_at"),
    Segment("unit_travel", "dispatched → on scene", "dispatched_at", "on_scene_at"),
)
UNIT_TRAVEL = UNIT_SEGMENTS[-1]
#: The group of assignments whose incident has no area.
NO_AREA = "(none)"


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


class GroupFigures(BaseModel):
    group: str = Field(description="a unit kind, or an area id ((none): no area)")
    count: int = Field(description="units that arrived")
    p50_s: float | None
    p90_s: float | None


class TravelFigures(BaseModel):
    """Each unit's own dispatched → on scene, for the period's incidents."""

    label: str = UNIT_TRAVEL.label
    assignments: int = Field(description="units sent")
    arrived: int = Field(description="units that reached the scene")
    p50_s: float | None
    p90_s: float | None
    by_unit_kind: list[GroupFigures] = Field(description="by the unit's kind, by name")
    by_area: list[GroupFigures] = Field(description="by the incident's area, by name")


class ResponseTimeReport(BaseModel):
    area: str | None
    kind: str | None
    category: Category | None
    percentile_method: str = PERCENTILE_METHOD
    current: PeriodFigures
    travel: TravelFigures = Field(description="per unit, this period only")
    previous_period: Comparison
    last_year: Comparison


def durations(incidents: Iterable[Any], segment: Segment) -> list[float]:
    """Seconds from the segment's start to its end, for records that reached both (incident
    :class:`Milestones`, or :class:`~hub.domain.units.Assignment` for the unit segments)."""
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


def seconds(record: object, segment: Segment) -> float | None:
    """One record's (incident's or assignment's) seconds in ``segment``, or None."""
    found = durations([record], segment)
    return found[0] if found else None


def percentiles(values: list[float]) -> tuple[float | None, float | None]:
    """The median and p90 of ``values`` (rounded to ms), or (None, None) without any."""
    if not values:
        return None, None
    p50, p90 = np.percentile(values, [50, 90], method="linear")
    return round(float(p50), 3), round(float(p90), 3)


def segment_figures(incidents: list[Milestones], segment: Segment) -> SegmentFigures:
    values = durations(incidents, segment)
    p50, p90 = percentiles(values)
    return SegmentFigures(
        segment=segment.name, label=segment.label, count=len(values), p50_s=p50, p90_s=p90
    )


def _groups(travel: list[tuple[str, float]]) -> list[GroupFigures]:
    by: dict[str, list[float]] = {}
    for group, value in travel:
        by.setdefault(group, []).append(value)
    return [
        GroupFigures(group=name, count=len(values), p50_s=p50, p90_s=p90)
        for name, values in sorted(by.items())
        for p50, p90 in [percentiles(values)]
    ]


def travel_figures(rows: list[AssignmentTiming]) -> TravelFigures:
    """Each unit's dispatched → on scene, overall, by unit kind and by area."""
    arrived = [
        (row, value) for row in rows if (value := seconds(row.assignment, UNIT_TRAVEL)) is not None
    ]
    p50, p90 = percentiles([value for _, value in arrived])
    return TravelFigures(
        assignments=len(rows),
        arrived=len(arrived),
        p50_s=p50,
        p90_s=p90,
        by_unit_kind=_groups([(row.unit_kind, value) for row, value in arrived]),
        by_area=_groups([(row.area or NO_AREA, value) for row, value in arrived]),
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
    assignments: AssignmentRepository | None = None,
) -> ResponseTimeReport:
    """Figures for incidents opened in [start, end) matching the filters, beside the period
    just before and the same period last year; with ``assignments``, each unit's travel."""
    if end <= start:
        raise ValueError("the period must end after it starts")

    def figures(a: datetime, b: datetime) -> PeriodFigures:
        incidents = repo.milestones_between(a, b, area=area, kind=kind, category=category)
        return period_figures(incidents, a, b)

    current = figures(start, end)
    previous = figures(start - (end - start), start)
    last_year = figures(year_earlier(start), year_earlier(end))
    units = []
    if assignments is not None:
        units = assignments.timings_between(start, end, area=area, kind=kind, category=category)
    return ResponseTimeReport(
        area=area,
        kind=kind,
        category=category,
        current=current,
        travel=travel_figures(units),
        previous_period=compare(current, previous),
        last_year=compare(current, last_year),
    )
