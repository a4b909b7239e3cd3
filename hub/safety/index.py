"""The safety index: 0 (worst) to 100 (best) per area and for the site, per calendar month.

The formula is published in docs/safety-index.md; this module is that page in code, and the
two must say the same thing. For one place (an area, or the whole site) and month:

1. **Counted incidents** are those :func:`hub.safety.facts.exclusion` lets through (security,
   not cancelled, not a false alarm, not a duplicate, weight above 0). ``W`` is the sum of
   their weights (``safety.weights``).
2. **Exposure**: ``H`` households (``safety.households``, else ``default_households``; the site
   adds up all its areas). The rate is ``r = 1000 · W / H`` per 1,000 households.
3. **Incident component** ``I = 100 / (1 + r / R)`` with ``R = safety.rate_reference``: 100
   without incidents, 50 at the reference rate, towards 0 as the rate grows, never below 0.
4. **Response component** ``P``: the mean, over counted incidents a unit was dispatched to, of
   100 if alert→arrival ≤ target, 0 if ≥ limit (or never arrived), linear in between. Without
   any dispatched incident the month gives no evidence and ``P`` keeps its smoothed value.
5. **Smoothing**, exponential per month (a: ``safety.smoothing``) from the start month:
   ``S_t = a · x_t + (1 - a) · S_{t-1}``, ``S_first = x_first``; ``S_P`` is 100 until the
   first month with a dispatched incident, whose ``P`` it then takes.
6. **Index** ``= (1 - w) · S_I + w · S_P`` with ``w = safety.response_weight``, rounded to 0.1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from contract.safety_settings import SafetySettings
from hub.safety.facts import EXCLUSIONS, Fact, exclusion
from hub.safety.months import Month, month_range

NOT_A_PREDICTION = (
    "The safety index and the hot spots describe incidents that were reported in the past. "
    "They are not a prediction of crime, and say nothing about any person."
)


class Components(BaseModel):
    """Everything behind one month's value, so a reader can recompute it by hand."""

    counted: int = Field(description="incidents that count")
    weighted: float = Field(description="W: the sum of their weights")
    excluded: dict[str, int] = Field(description="incidents that do not count, by reason")
    households: int = Field(description="H: the exposure")
    households_assumed: int = Field(description="areas whose households are the default")
    rate_per_1000: float = Field(description="r = 1000 W / H")
    incident_score: float = Field(description="I this month alone")
    dispatched: int = Field(description="counted incidents a unit was sent to")
    arrived: int
    response_score: float | None = Field(description="P this month alone; null: no dispatch")
    incident_smoothed: float = Field(description="S_I")
    response_smoothed: float = Field(description="S_P")
    index: float


class MonthIndex(BaseModel):
    month: str
    start: datetime
    end: datetime
    components: Components


class Movement(BaseModel):
    """How one component moved since the month before."""

    component: str
    previous: float | None
    current: float | None
    change: float | None


class PlaceIndex(BaseModel):
    area: str | None = Field(description="an area id; null for the whole site")
    name: str
    index: float
    previous_index: float | None = Field(description="last month's index, if it had one")
    change: float | None
    current: MonthIndex
    moves: list[Movement] = Field(description="each component against last month")
    series: list[tuple[str, float]] = Field(description="(month, index), oldest first")


def response_points(fact: Fact, settings: SafetySettings) -> float | None:
    """One counted incident's response score 0..100, or None when no unit was dispatched."""
    if fact.dispatched_at is None:
        return None
    if fact.on_scene_at is None:
        return 0.0
    seconds = (fact.on_scene_at - fact.opened_at).total_seconds()
    target, limit = settings.response_target_s, settings.response_limit_s
    if seconds <= target:
        return 100.0
    if seconds >= limit:
        return 0.0
    return 100.0 * (limit - seconds) / (limit - target)


def raw_components(
    facts: Iterable[Fact], households: int, assumed: int, settings: SafetySettings
) -> dict:
    """One month's unsmoothed figures for one place (the facts already filtered to it)."""
    excluded: Counter[str] = Counter({reason: 0 for reason in EXCLUSIONS})
    weighted, counted, points = 0.0, 0, []
    for fact in facts:
        reason = exclusion(fact, settings)
        if reason is not None:
            excluded[reason] += 1
            continue
        counted += 1
        weighted += settings.weight(fact.kind)
        if (p := response_points(fact, settings)) is not None:
            points.append((p, fact.on_scene_at is not None))
    rate = 1000.0 * weighted / households
    return {
        "counted": counted,
        "weighted": weighted,
        "excluded": dict(excluded),
        "households": households,
        "households_assumed": assumed,
        "rate_per_1000": rate,
        "incident_score": 100.0 / (1.0 + rate / settings.rate_reference),
        "dispatched": len(points),
        "arrived": sum(1 for _, arrived in points if arrived),
        "response_score": sum(p for p, _ in points) / len(points) if points else None,
    }


def smooth_series(
    raw: Sequence[tuple[Month, dict]], settings: SafetySettings, zone: str
) -> list[MonthIndex]:
    """Apply the smoothing (step 5) and the weighting (step 6) month by month."""
    alpha, w = settings.smoothing, settings.response_weight
    s_inc: float | None = None
    s_resp: float | None = None  # 100 until the first month with a dispatch
    out = []
    for month, fig in raw:
        x_inc, x_resp = fig["incident_score"], fig["response_score"]
        s_inc = x_inc if s_inc is None else alpha * x_inc + (1 - alpha) * s_inc
        if x_resp is not None:
            s_resp = x_resp if s_resp is None else alpha * x_resp + (1 - alpha) * s_resp
        s_p = 100.0 if s_resp is None else s_resp
        index = round((1 - w) * s_inc + w * s_p, 1)
        start, end = month.bounds(zone)
        parts = Components(
            **_rounded(fig), incident_smoothed=round(s_inc, 3),
            response_smoothed=round(s_p, 3), index=index,
        )  # fmt: skip
        out.append(MonthIndex(month=str(month), start=start, end=end, components=parts))
    return out


def _rounded(fig: dict) -> dict:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in fig.items()}


def start_month(facts: Iterable[Fact], settings: SafetySettings, zone: str, last: Month) -> Month:
    """Where the smoothing starts: ``safety.start_month``, else the month of the first counted
    incident; never more than ``history_months`` before ``last``. Only counted incidents move
    it, so a false alarm in an early month cannot stretch the history."""
    earliest = last.shift(1 - settings.history_months)
    if settings.start_month:
        chosen = Month.parse(settings.start_month)
    else:
        counted = [f.opened_at for f in facts if exclusion(f, settings) is None]
        chosen = Month.containing(min(counted), zone) if counted else last
    return min(max(chosen, earliest), last)


def place_index(
    facts: Sequence[tuple[Month, Fact]],
    months: Sequence[Month],
    place: tuple[str | None, str],
    exposure: tuple[int, int],
    settings: SafetySettings,
    zone: str,
) -> PlaceIndex:
    """The index of one place over ``months`` (oldest first; the last is the one reported).
    ``facts`` are the place's own, each with its month (site time; worked out once by the
    caller for every place); ``exposure`` is (households, areas assumed)."""
    by_month: dict[Month, list[Fact]] = {m: [] for m in months}
    for month, fact in facts:
        if month in by_month:
            by_month[month].append(fact)
    raw = [(m, raw_components(by_month[m], *exposure, settings)) for m in months]
    series = smooth_series(raw, settings, zone)
    current = series[-1]
    previous = series[-2] if len(series) > 1 else None
    change = round(current.components.index - previous.components.index, 1) if previous else None
    return PlaceIndex(
        area=place[0],
        name=place[1],
        index=current.components.index,
        previous_index=previous.components.index if previous else None,
        change=change,
        current=current,
        moves=movements(current, previous),
        series=[(m.month, m.components.index) for m in series],
    )


MOVING = ("rate_per_1000", "incident_score", "response_score", "incident_smoothed",
          "response_smoothed", "index")  # fmt: skip


def movements(current: MonthIndex, previous: MonthIndex | None) -> list[Movement]:
    out = []
    for name in MOVING:
        now = getattr(current.components, name)
        before = getattr(previous.components, name) if previous else None
        delta = round(now - before, 3) if now is not None and before is not None else None
        out.append(Movement(component=name, previous=before, current=now, change=delta))
    return out


def window(facts: Sequence[Fact], settings: SafetySettings, zone: str, last: Month) -> list[Month]:
    """The months the smoothing runs over, oldest first, ending with ``last``."""
    return month_range(start_month(facts, settings, zone, last), last)
