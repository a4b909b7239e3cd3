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

Alerts are purged after ``hub.retention`` days while incidents stay: for a period older than
the oldest alert kept, the incidents are there but not which source raised them. The answer
says since when alerts are kept (``alerts_kept_since``) and the page warns.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from hub.statistics.queries import StatisticsStore
from hub.statistics.report import Periods

#: Each list holds at most this many sources, the worst: a maintainer tunes from the top,
#: and a site with thousands of rules should not send them all to a phone.
LIMIT = 200


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
    alerts_kept_since: datetime | None = Field(
        description="the oldest alert still kept (hub.retention purges older ones): incidents"
        " opened before it have lost their sources and are missing from these rates"
    )
    counted: dict[str, int] = Field(
        description="cameras, rules and sensors with incidents; each list has the worst"
        f" {LIMIT} at most"
    )
    by_camera: list[SourceRate] = Field(description="worst rate first")
    by_rule: list[SourceRate] = Field(description="camera rules (zone, kind), worst first")
    by_sensor: list[SourceRate] = Field(description="sensor nodes, worst first")


Tally = dict[tuple, dict[str, int]]


def tally_sources(rows: list[tuple]) -> tuple[Tally, Tally]:
    """Rows of :meth:`StatisticsStore.incident_sources` counted per rule ``(node, camera,
    zone, kind)`` and per node ``(node, camera)``: incidents per class, each incident once
    per source however many of its rules raised it."""
    rules: Tally = defaultdict(lambda: defaultdict(int))
    nodes: Tally = defaultdict(lambda: defaultdict(int))
    seen: set[tuple] = set()
    for incident_id, classed, node, camera, zone, kind in rows:
        rules[node, camera, zone, kind][classed] += 1  # rows are distinct per rule
        if (incident_id, node, camera) not in seen:
            seen.add((incident_id, node, camera))
            nodes[node, camera][classed] += 1
    return rules, nodes


def rates(
    tallies: Tally, columns: tuple[str, ...], min_events: int, limit: int
) -> list[SourceRate]:
    """The ``limit`` worst sources of ``tallies`` (keys named by ``columns``), worst first:
    rated ones by rate, then those with too few decided incidents; more incidents first."""
    ranked = []
    for key, tally in tallies.items():
        false = tally["false_alarm"] + tally["cancelled"]
        decided = false + tally["real"]
        rate = round(false / decided * 100, 1) if decided >= min_events and decided else None
        ranked.append((-1.0 if rate is None else -rate, -sum(tally.values()), key, rate, tally))
    ranked.sort(key=lambda r: r[:2])
    return [
        SourceRate(
            **dict(zip(columns, key, strict=True)),
            incidents=sum(tally.values()),
            false_alarm=tally["false_alarm"],
            cancelled=tally["cancelled"],
            real=tally["real"],
            duplicate=tally["duplicate"],
            open=tally["open"],
            rate_pct=rate,
            status="too_few" if rate is None else "rated",
        )
        for *_, key, rate, tally in ranked[:limit]
    ]


def false_alarm_statistics(
    store: StatisticsStore, periods: Periods, *, min_events: int = 10, limit: int = LIMIT
) -> FalseAlarmStatistics:
    """False-alarm rates of incidents opened in ``periods.current``: the ``limit`` worst
    sources of each kind."""
    rows = store.incident_sources(periods.current.start, periods.current.end)
    rules, nodes = tally_sources(rows)
    cameras = {key: tally for key, tally in nodes.items() if key[1] is not None}
    sensors = {key: tally for key, tally in nodes.items() if key[1] is None}
    camera_rules = {key: tally for key, tally in rules.items() if key[1] is not None}
    node = ("node", "camera")
    return FalseAlarmStatistics(
        periods=periods,
        min_events_to_compare=min_events,
        alerts_kept_since=store.oldest_alert(),
        counted={"cameras": len(cameras), "rules": len(camera_rules), "sensors": len(sensors)},
        by_camera=rates(cameras, node, min_events, limit),
        by_rule=rates(camera_rules, ("node", "camera", "zone", "kind"), min_events, limit),
        by_sensor=rates(sensors, node, min_events, limit),
    )
