"""Which available unit gets there first: an *estimate*, not a route.

A village has no routing engine, so travel time is straight-line (great-circle) distance
times a detour factor (roads are not straight: 1.4 by default) divided by the unit kind's
average speed, all from the site file's ``hub.dispatch``. Units whose newest position is
older than ``position_fresh_s`` are listed after every fresh one (their ETA may be far off),
and units with no position at all come last; both are marked. Only ``available`` units are
ranked. :func:`rank` is pure: the service hands it units, a target and the time.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from datetime import datetime

from pydantic import BaseModel, Field

from contract.place_settings import DispatchSettings, LatLon
from hub.domain.units import Availability, Unit

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


class Suggestion(BaseModel):
    unit: Unit
    distance_m: float | None = Field(description="straight line; null without a position")
    eta_s: float | None = Field(description="estimated travel time; null without a position")
    position_age_s: float | None = Field(description="age of the unit's newest position")
    stale: bool = Field(description="no position, or one older than position_fresh_s")


def haversine_m(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Great-circle distance in metres (a sphere is plenty for a village)."""
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def suggestion(
    unit: Unit, target: LatLon | None, settings: DispatchSettings, now: datetime
) -> Suggestion:
    """One unit's distance, ETA and position age for ``target``."""
    position = unit.position
    if position is None:
        return Suggestion(unit=unit, distance_m=None, eta_s=None, position_age_s=None, stale=True)
    age = max(0.0, (now - position.at).total_seconds())
    distance = eta = None
    if target is not None:
        distance = haversine_m(position.lat, position.lon, target.lat, target.lon)
        speed_ms = settings.speeds_kmh[unit.kind.value] / 3.6
        eta = distance * settings.detour_factor / speed_ms
    return Suggestion(
        unit=unit,
        distance_m=None if distance is None else round(distance, 1),
        eta_s=None if eta is None else round(eta, 1),
        position_age_s=round(age, 1),
        stale=age > settings.position_fresh_s,
    )


def rank(
    units: Iterable[Unit],
    target: LatLon | None,
    settings: DispatchSettings,
    now: datetime,
    exclude: Collection[str] = (),
) -> list[Suggestion]:
    """Available units not in ``exclude``, quickest first: fresh positions by ETA, then
    stale ones by ETA, then those with no position (each group ties broken by callsign)."""
    found = [
        suggestion(u, target, settings, now)
        for u in units
        if u.availability is Availability.AVAILABLE and u.id not in exclude
    ]

    def key(s: Suggestion) -> tuple:
        group = 2 if s.unit.position is None else int(s.stale)
        return (group, math.inf if s.eta_s is None else s.eta_s, s.unit.callsign)

    return sorted(found, key=key)
