"""False-alarm rates per camera, per rule and per sensor: which one needs tuning.

An alert source (a camera, one rule on it — a zone and an alert kind — or a sensor node) is
judged by the *incidents* its alerts opened or joined, counted once each however many alerts
it sent. Each incident ends in one of (``CLASS_SQL`` in :mod:`.queries`, done in SQL so a
year's rows are grouped before they reach Python):

==============  ======================================  =======================
class           the incident                            in the rate
==============  ======================================  =======================
false_alarm     resolved with outcome ``false_alarm``   false
cancelled       cancelled (called off before the end)   false
real            resolved: arrest, handled, no_trace     real
duplicate       resolved with outcome ``duplicate``     left out: another incident
                                                        counted the event
open            still open                              left out: not decided yet
==============  ======================================  =======================

``rate_pct = (false_alarm + cancelled) / (false_alarm + cancelled + real) * 100``. A source
with fewer decided incidents than ``min_events_to_compare`` gets no rate (``too_few``): two
false alarms out of two says little about a rule. Only security incidents count (a camera's
own faults open maintenance incidents, which are not alarms about the scene). Sources are
listed worst first, so the rule to tune is at the top.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, Field

from hub.statistics.queries import StatisticsStore
from hub.statistics.report import Periods


class SourceRate(BaseModel):
    node: str
    camera: str | None = Field(description="null for a sensor node")
    zone: str | None = Field(None, description="by_rule only")
    kind: str | None = Field(None, description="by_rule only: the alert kind")
    incidents: int = Field(description="distinct incidents its alerts opened or joined")
    false_alarm: int
    cancelled: int
    real: int
    duplicate: int
    open: int
    rate_pct: float | None = Field(description="false share of decided incidents, or null")
    status: Literal["rated", "too_few"]


class FalseAlarmStatistics(BaseModel):
    periods: Periods
    min_events_to_compare: int
    by_camera: list[SourceRate] = Field(description="worst rate first")
    by_rule: list[SourceRate] = Field(description="camera rules (zone, kind), worst first")
    by_sensor: list[SourceRate] = Field(description="sensor nodes, worst first")


def rates(rows: list[tuple], columns: tuple[str, ...], min_events: int) -> list[SourceRate]:
    """Rows of ``(*columns, class, incidents)`` as one rate per source."""
    tallies: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for *key, classed, count in rows:
        tallies[tuple(key)][classed] += count
    found = []
    for key, tally in tallies.items():
        false = tally["false_alarm"] + tally["cancelled"]
        decided = false + tally["real"]
        rated = decided >= min_events and decided > 0
        found.append(
            SourceRate(
                **dict(zip(columns, key, strict=True)),
                incidents=sum(tally.values()),
                false_alarm=tally["false_alarm"],
                cancelled=tally["cancelled"],
                real=tally["real"],
                duplicate=tally["duplicate"],
                open=tally["open"],
                rate_pct=round(false / decided * 100, 1) if rated else None,
                status="rated" if rated else "too_few",
            )
        )
    worst = -1.0  # unrated after every rated one
    found.sort(key=lambda r: (-(r.rate_pct if r.rate_pct is not None else worst), -r.incidents))
    return found


def false_alarm_statistics(
    store: StatisticsStore, periods: Periods, *, min_events: int = 10
) -> FalseAlarmStatistics:
    """False-alarm rates of incidents opened in ``periods.current``."""
    start, end = periods.current.start, periods.current.end
    camera = ("node", "camera")
    sources = store.outcomes_by(camera, start, end)
    rule = ("node", "camera", "zone", "kind")
    rules = [r for r in store.outcomes_by(rule, start, end) if r[1] is not None]
    return FalseAlarmStatistics(
        periods=periods,
        min_events_to_compare=min_events,
        by_camera=rates([r for r in sources if r[1] is not None], camera, min_events),
        by_rule=rates(rules, rule, min_events),
        by_sensor=rates([r for r in sources if r[1] is None], camera, min_events),
    )
