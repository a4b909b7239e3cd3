"""Where incidents happen: a period's incidents counted per point, for a heat map on the plan.

An incident is placed at its own point (a call with coordinates, a sensor's position) when
it has one, else at its area's configured middle (``areas[].position`` in the site file),
as dispatch does. An incident's own point is rounded to :data:`DECIMALS` decimal places of
a degree (about a metre) before it is counted, so the same doorway reported by two phones
counts as one spot; that is finer than any site plan shows. An area's incidents count at its
middle as configured. An incident with neither (no area, or
an area without a position) is counted in ``unplaced``, so the map never silently drops it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from contract.place_settings import LatLon
from hub.domain.incidents import Incident

#: 5 decimals of a degree: 1.1 m of latitude, at most 1.1 m of longitude.
DECIMALS = 5


class HeatPoint(BaseModel):
    lat: float
    lon: float
    count: int = Field(description="incidents at this point")
    placed_by: Literal["incident", "area"] = Field(
        description="the incidents' own point, or their area's middle"
    )
    area: str | None = Field(description="the area (for placed_by=area; else the first seen)")


class Heatmap(BaseModel):
    start: datetime
    end: datetime
    incidents: int = Field(description="incidents opened in the period")
    placed: int = Field(description="incidents on the map")
    unplaced: int = Field(description="incidents with no point and no placed area")
    points: list[HeatPoint] = Field(description="most incidents first")


def place(incident: Incident, areas: Mapping[str, LatLon | None]) -> tuple[str, float, float]:
    """``(placed_by, lat, lon)`` of the incident, or raises LookupError when it has none."""
    where = incident.location
    if where.lat is not None and where.lon is not None:
        return "incident", where.lat, where.lon
    middle = areas.get(where.area) if where.area else None
    if middle is None:
        raise LookupError(incident.id)
    return "area", middle.lat, middle.lon


def heatmap(
    incidents: Iterable[Incident],
    areas: Mapping[str, LatLon | None],
    start: datetime,
    end: datetime,
) -> Heatmap:
    """Count ``incidents`` per (rounded) point; ``areas`` maps area ids to their middles."""
    counts: Counter[tuple[str, float, float]] = Counter()
    first_area: dict[tuple[str, float, float], str | None] = {}
    total = unplaced = 0
    for incident in incidents:
        total += 1
        try:
            how, lat, lon = place(incident, areas)
        except LookupError:
            unplaced += 1
            continue
        if how == "incident":
            lat, lon = round(lat, DECIMALS), round(lon, DECIMALS)
        key = (how, lat, lon)
        counts[key] += 1
        first_area.setdefault(key, incident.location.area)
    points = [
        HeatPoint(lat=lat, lon=lon, count=n, placed_by=how, area=first_area[(how, lat, lon)])  # type: ignore[arg-type]
        for (how, lat, lon), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return Heatmap(
        start=start, end=end, incidents=total, placed=total - unplaced, unplaced=unplaced,
        points=points,
    )  # fmt: skip
