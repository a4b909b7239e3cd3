"""One moment's figures per event ring, from each camera's crowd counts.

**Overlap.** A gateway sends how many people each of its crowd rule's *image* rings holds;
it does not say where on the map each person stands, so the hub cannot tell two cameras'
views of the same person apart. The site file therefore says which camera rings see the same
ground: feeds of one event ring that share an ``overlap`` group are combined by their
**largest** count (the best view of that ground), and the groups (an ungrouped feed is a group
of its own) are **added**. So:

- cameras whose image rings were drawn to cover *disjoint* ground (each part of the ring owned
  by one camera: the recommended set-up) add up exactly;
- cameras on the *same* ground give the better of their counts, never the sum;
- cameras that overlap only *partly* cannot be exact with counts alone: grouped, they give a
  lower bound (the max misses what only the weaker camera sees); ungrouped, an upper bound.
  Every figure carries ``upper`` (the plain sum of the counts) beside ``occupancy`` so a
  supervisor sees the spread. ``docs/events.md`` has the worked example.

**Health.** A count older than the event's ``stale_after_s`` (by its measurement time), from
a disconnected camera or an offline gateway, is left out and the feed shown unhealthy; the
ring's ``complete`` is False while any feed is out.

**Density.** People per m² is the ring's occupancy over its band's area on the map (the
ring's polygon minus the next inner ring's), given only when every camera counting in it is
ground-calibrated (its image rings were drawn on measured ground, so they match the map's).
It is the band's average: a camera's own crowd rule reports the local density it sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from contract.event_settings import SiteEvent, ring_key
from contract.place_settings import LatLon
from hub.events_security.geometry import area_m2


@dataclass(frozen=True)
class CameraReading:
    """What the hub last heard from one camera (from its gateway's stats)."""

    camera: str
    counts: dict[str, int] = field(default_factory=dict)  # rule/ring -> people
    at: datetime | None = None  # when the counts were measured
    connected: bool = False  # the camera's stream is up
    online: bool = False  # its gateway is online
    calibrated: bool = False  # the camera has a ground calibration
    position: LatLon | None = None  # the camera's place on the map
    reported: bool = True  # its gateway's stats name it (False: no figures at all yet)


class FeedFigure(BaseModel):
    """One camera ring's part in an event ring."""

    camera: str
    crowd: str
    ring: str
    overlap: str | None
    count: int | None
    at: datetime | None
    healthy: bool
    problem: str | None = None
    counted: bool = False  # its count is in the occupancy (the largest of its group)
    lat: float | None = None
    lon: float | None = None


class RingFigure(BaseModel):
    """One event ring at one moment."""

    ring: str
    occupancy: int
    upper: int  # the plain sum of the healthy counts: the double-counting bound
    limit: int | None
    density_limit: float | None
    area_m2: float
    per_m2: float | None
    load: float | None  # occupancy / limit
    complete: bool  # every feed healthy
    feeds: list[FeedFigure]


def _feed_problem(
    reading: CameraReading | None, key: str, now: datetime, stale_s: float
) -> str | None:
    if reading is None or not reading.online:
        return "gateway offline"
    if not reading.reported:
        return "no report from this camera yet"
    if not reading.connected:
        return "camera disconnected"
    if key not in reading.counts or reading.at is None:
        return "no count yet"
    age = (now - reading.at).total_seconds()
    if age > stale_s:
        return f"count {round(age)} s old"
    return None


def _feeds(
    event: SiteEvent, ring: str, readings: dict[str, CameraReading], now: datetime
) -> list[FeedFigure]:
    figures = []
    for feed in (f for f in event.feeds if f.target == ring):
        reading = readings.get(feed.camera)
        key = ring_key(feed.crowd, feed.ring)
        problem = _feed_problem(reading, key, now, event.stale_after_s)
        where = feed.at or (reading.position if reading else None)
        figures.append(
            FeedFigure(
                camera=feed.camera,
                crowd=feed.crowd,
                ring=feed.ring,
                overlap=feed.overlap,
                count=reading.counts.get(key) if reading else None,
                at=reading.at if reading else None,
                healthy=problem is None,
                problem=problem,
                lat=where.lat if where else None,
                lon=where.lon if where else None,
            )
        )
    return figures


def _combine(feeds: list[FeedFigure]) -> int:
    """Sum over overlap groups of the largest healthy count in each; marks the counted feeds."""
    groups: dict[str, list[FeedFigure]] = {}
    for i, f in enumerate(feeds):
        if f.healthy and f.count is not None:
            groups.setdefault(f.overlap or f"#{i}", []).append(f)
    total = 0
    for members in groups.values():
        best = max(members, key=lambda f: f.count or 0)
        best.counted = True
        total += best.count or 0
    return total


def aggregate(
    event: SiteEvent, readings: dict[str, CameraReading], now: datetime
) -> list[RingFigure]:
    """The event's rings (outermost first) at ``now`` from the cameras' ``readings``."""
    present = event.rings.present()
    figures = []
    for i, (name, ring) in enumerate(present):
        band = area_m2(ring.polygon)
        if i + 1 < len(present):
            band = max(0.0, band - area_m2(present[i + 1][1].polygon))
        feeds = _feeds(event, name, readings, now)
        occupancy = _combine(feeds)
        upper = sum(f.count or 0 for f in feeds if f.healthy)
        calibrated = all(
            readings[f.camera].calibrated for f in feeds if f.counted and f.camera in readings
        )
        per_m2 = (
            occupancy / band if band > 0 and calibrated and any(f.counted for f in feeds) else None
        )
        figures.append(
            RingFigure(
                ring=name,
                occupancy=occupancy,
                upper=upper,
                limit=ring.limit,
                density_limit=ring.density_limit,
                area_m2=round(band, 1),
                per_m2=None if per_m2 is None else round(per_m2, 4),
                load=None if ring.limit is None else round(occupancy / ring.limit, 4),
                complete=all(f.healthy for f in feeds),
                feeds=feeds,
            )
        )
    return figures
