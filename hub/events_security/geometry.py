"""Areas of map polygons in square metres, and their middles.

An event's rings are a few hundred metres across, so an equirectangular projection about
the polygon's own middle (x = R·Δlon·cos φ₀, y = R·Δlat) is exact to well under 1 % (the
error grows with the square of the extent over the earth's radius): no projection library
is needed for this, and the shoelace formula gives the area.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from contract.place_settings import LatLon

#: WGS84 mean radius (m): what equal-area work at village scale uses.
EARTH_RADIUS_M = 6_371_008.8


def centroid(polygon: Sequence[LatLon]) -> LatLon:
    """The mean of the vertices: good enough to place a marker or file an incident."""
    lat = sum(p.lat for p in polygon) / len(polygon)
    lon = sum(p.lon for p in polygon) / len(polygon)
    return LatLon(lat=lat, lon=lon)


def area_m2(polygon: Sequence[LatLon]) -> float:
    """The polygon's ground area in m² (shoelace on a local equirectangular projection)."""
    if len(polygon) < 3:
        return 0.0
    middle = centroid(polygon)
    k = math.cos(math.radians(middle.lat))
    xy = [
        (
            math.radians(p.lon - middle.lon) * EARTH_RADIUS_M * k,
            math.radians(p.lat - middle.lat) * EARTH_RADIUS_M,
        )
        for p in polygon
    ]
    twice = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(xy, xy[1:] + xy[:1], strict=True))
    return abs(twice) / 2
