"""Patrol planning: where and when incidents happened, by area and hour of the week.

The last ``safety.hotspot_weeks`` weeks of *counted* incidents (the index's own rule and
weights, :mod:`hub.safety.facts`: false alarms and duplicates do not draw patrols) are put in
cells of (area, weekday, hour) in the site's time zone, each weighing its kind's weight. The
heaviest cells are the hot spots: "where and when patrols are most needed" — judged only
from what was reported in the past. It is not a prediction of crime, and is about places and
hours, never about people.

Why the hour of the *week*: Friday 22:00 at the plaza and Tuesday 10:00 there are different
patrol questions; a 7 x 24 grid per area keeps them apart and is small enough to read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from contract.place_settings import LatLon
from contract.siteconfig import SiteConfig
from hub.safety.facts import Fact, exclusion, read_facts
from hub.safety.index import NOT_A_PREDICTION
from hub.storage.incidents import IncidentRepository

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class HotSpot(BaseModel):
    area: str
    name: str
    weekday: int = Field(description="0 = Monday … 6 = Sunday (site time)")
    day: str
    hour: int = Field(description="0..23: the hour starting then (site time)")
    weighted: float = Field(description="the sum of the weights of its incidents")
    incidents: int
    position: LatLon | None = Field(description="the area's middle, for the map")


class AreaHeat(BaseModel):
    area: str
    name: str
    position: LatLon | None
    outline: list[LatLon]
    weighted: float
    incidents: int
    grid: list[list[float]] = Field(description="weighted, [weekday][hour]")


class HotSpots(BaseModel):
    start: datetime
    end: datetime
    weeks: int
    timezone: str
    note: str = NOT_A_PREDICTION
    counted: int = Field(description="counted incidents in the period")
    unplaced: int = Field(description="counted incidents with no area (not on the layer)")
    hotspots: list[HotSpot] = Field(description="heaviest first")
    areas: list[AreaHeat] = Field(description="every area of the site, in site-file order")


def hotspots(facts: Sequence[Fact], config: SiteConfig, end: datetime) -> HotSpots:
    """The hot spots of the counted ``facts`` opened in the weeks before ``end``."""
    settings, zone = config.safety, config.site.timezone
    start = end - timedelta(weeks=settings.hotspot_weeks)
    tz = ZoneInfo(zone)
    grids: dict[str, list[list[float]]] = {a.id: [[0.0] * 24 for _ in DAYS] for a in config.areas}
    counts: dict[tuple[str, int, int], int] = defaultdict(int)
    counted = unplaced = 0
    for fact in facts:
        if not start <= fact.opened_at < end or exclusion(fact, settings) is not None:
            continue
        counted += 1
        if fact.area not in grids:
            unplaced += 1
            continue
        local = fact.opened_at.astimezone(tz)
        grids[fact.area][local.weekday()][local.hour] += settings.weight(fact.kind)
        counts[(fact.area, local.weekday(), local.hour)] += 1
    areas = {a.id: a for a in config.areas}
    cells = sorted(counts, key=lambda c: (-grids[c[0]][c[1]][c[2]], -counts[c], c))
    spots = [
        HotSpot(
            area=a,
            name=areas[a].name,
            weekday=d,
            day=DAYS[d],
            hour=h,
            weighted=grids[a][d][h],
            incidents=counts[(a, d, h)],
            position=areas[a].position,
        )
        for a, d, h in cells[: settings.hotspot_top]
    ]
    heat = [
        AreaHeat(
            area=a.id,
            name=a.name,
            position=a.position,
            outline=a.outline,
            weighted=sum(map(sum, grids[a.id])),
            incidents=sum(n for (area, _, _), n in counts.items() if area == a.id),
            grid=grids[a.id],
        )
        for a in config.areas
    ]
    return HotSpots(
        start=start, end=end, weeks=settings.hotspot_weeks, timezone=zone, counted=counted,
        unplaced=unplaced, hotspots=spots, areas=heat,
    )  # fmt: skip


def hotspots_report(repo: IncidentRepository, config: SiteConfig, end: datetime) -> HotSpots:
    """:func:`hotspots` over the incidents in storage."""
    start = end - timedelta(weeks=config.safety.hotspot_weeks)
    return hotspots(read_facts(repo, start, end), config, end)
