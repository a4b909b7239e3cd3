"""The rules a camera applies, as the site file writes them (``Camera.zones``, ``lines``, ...).

Every rule has a ``name`` (unique per camera; alerts carry it as their ``zone``), the object
labels it watches, a severity and an optional ``schedule``. Geometry is in frame fractions
(0..1, origin top-left) like every other coordinate in the site file. The edge classes that
act on these live in :mod:`edge.rules`; this module only describes and validates them, in
plain Python, so the hub and the ``check`` command need neither numpy nor OpenCV.

Alerting rules share one anti-spam policy (``cooldown_s``, ``group_s``, ``group_distance``;
see :mod:`edge.rules.cooldown`): one person walking through a garden raises one alert.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from itertools import combinations, pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.camera_settings import Point, Polygon
from contract.protocol import ID_PATTERN, Severity

Identifier = Annotated[str, Field(pattern=ID_PATTERN)]

#: Labels the default detector reports; rules may only name these.
KNOWN_LABELS = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
VEHICLE_LABELS = ("car", "truck", "bus", "motorcycle")
#: The crowd rings, outermost first (the event-security model: diversion ⊃ control ⊃ core).
RING_NAMES = ("diversion", "control", "core")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Schedule(_Section):
    """Active between ``start`` and ``end`` local time; wraps midnight when end < start.

    ``days`` limits it to windows *starting* on those weekdays: ``{start: "22:00", end:
    "06:00", days: [sat]}`` covers Saturday 22:00 to Sunday 06:00.
    """

    start: time
    end: time
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = Field(
        None, min_length=1, description="weekdays the window starts on; none = every day"
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Schedule:
        if self.start == self.end:
            raise ValueError("start and end are equal: an empty window; leave out the schedule")
        return self

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def covers(self, local: datetime) -> bool:
        """Is the site-local moment ``local`` inside the window (days included)?"""
        moment = local.time().replace(tzinfo=None)
        if not self.contains(moment):
            return False
        if self.days is None:
            return True
        started = local.date()
        if self.start > self.end and moment < self.end:  # the part after midnight
            started -= timedelta(days=1)
        return _WEEKDAYS[started.weekday()] in self.days


# --- plain-Python plane geometry (frame fractions) -------------------------------------------


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _on_segment(p: Point, a: Point, b: Point, eps: float = 1e-9) -> bool:
    return abs(_cross(a, b, p)) <= eps and (
        min(a[0], b[0]) - eps <= p[0] <= max(a[0], b[0]) + eps
        and min(a[1], b[1]) - eps <= p[1] <= max(a[1], b[1]) + eps
    )


def point_in_polygon(p: Point, poly: list[Point]) -> bool:
    """True inside or on the edge (ray casting)."""
    inside = False
    for a, b in zip(poly, poly[1:] + poly[:1], strict=True):
        if _on_segment(p, a, b):
            return True
        if (a[1] > p[1]) != (b[1] > p[1]):
            x = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if p[0] < x:
                inside = not inside
    return inside


def _edges_cross(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Do segments ab and cd cross properly (touching does not count)?"""
    d1, d2 = _cross(c, d, a), _cross(c, d, b)
    d3, d4 = _cross(a, b, c), _cross(a, b, d)
    return d1 * d2 < -1e-12 and d3 * d4 < -1e-12


def polygon_outside_part(inner: list[Point], outer: list[Point]) -> str | None:
    """None when ``inner`` lies within ``outer`` (edges may touch), else what sticks out."""
    for i, p in enumerate(inner):
        if not point_in_polygon(p, outer):
            return f"its point {i} {_fmt(p)} is outside"
    for i, (a, b) in enumerate(zip(inner, inner[1:] + inner[:1], strict=True)):
        for c, d in zip(outer, outer[1:] + outer[:1], strict=True):
            if _edges_cross(a, b, c, d):
                return f"its edge from point {i} {_fmt(a)} crosses the outer ring's edge"
    for p in outer:  # a notch of the outer ring reaching into the inner one
        if point_in_polygon(p, inner) and not any(
            _on_segment(p, a, b) for a, b in zip(inner, inner[1:] + inner[:1], strict=True)
        ):
            return f"the outer ring's point {_fmt(p)} reaches into it"
    return None


def _fmt(p: tuple[float, float]) -> str:
    return f"[{p[0]:g}, {p[1]:g}]"


# --- rules ------------------------------------------------------------------------------------


class _Rule(_Section):
    name: Identifier = Field(description="unique per camera; alerts carry it as their zone")
    objects: list[str] = Field(
        default_factory=lambda: ["person"], min_length=1, description="labels watched"
    )
    severity: Severity = Severity.MAJOR
    schedule: Schedule | None = Field(None, description="only alert within this time window")

    @field_validator("objects")
    @classmethod
    def _known_objects(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(KNOWN_LABELS))
        if unknown:
            raise ValueError(f"unknown object labels {unknown}; choose from {list(KNOWN_LABELS)}")
        return value


class _GroupedRule(_Rule):
    """A rule that alerts about tracks: cooldown per track, plus grouping of nearby hits."""

    cooldown_s: float = Field(30.0, ge=0, description="quiet time per track after an alert")
    group_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="merge hits from tracks near a track alerted within this many seconds "
        "(companions, tracker id switches); 0 turns grouping off",
    )
    group_distance: float = Field(
        1.0,
        ge=0,
        le=20,
        description="'near' for grouping, in body (box) heights between feet, plus one "
        "height per second since the earlier track was last seen (walking allowance, ≤ 3 s)",
    )


class ZoneRule(_GroupedRule):
    """Raise an alert when a listed object stands inside the polygon (its feet: box bottom)."""

    polygon: Polygon
    inertia: int = Field(
        1,
        ge=1,
        le=100,
        description="detector frames in a row a track's feet must be inside before it counts "
        "(Frigate's inertia; 3 ignores a box that flickers over the edge)",
    )


class LineRule(_GroupedRule):
    """Count objects crossing a line, per direction; optionally alert on a direction.

    Which side is *in*: stand on the first point and look towards the second one, as drawn
    on the image; ``in_side: left`` (the default) means the side on your left hand is *in*.
    For a line drawn top → bottom, left is the screen's right; for one drawn left → right,
    left is the screen's top.
    """

    points: tuple[Point, Point] = Field(description="[[x1, y1], [x2, y2]] as frame fractions")
    in_side: Literal["left", "right"] = Field(
        "left", description="the 'in' side, looking from the first point to the second"
    )
    alert_on: Literal["in", "out", "both", "none"] = Field(
        "none", description="crossing direction that raises an alert; none = count only"
    )
    min_frames: int = Field(
        2, ge=1, le=50, description="detector frames on the new side before a crossing counts"
    )
    min_distance: float = Field(
        0.02,
        ge=0,
        le=0.5,
        description="feet nearer the line than this (fraction of the frame width) are on "
        "neither side: box jitter at the line never counts as crossing",
    )

    @field_validator("points")
    @classmethod
    def _two_distinct_points(cls, value: tuple[Point, Point]) -> tuple[Point, Point]:
        (x1, y1), (x2, y2) = value
        if abs(x1 - x2) + abs(y1 - y2) < 1e-9:
            raise ValueError(
                f"the line's two points are identical {_fmt(value[0])}; "
                "give two different [x, y] points"
            )
        if ((x1 - x2) ** 2 + (y1 - y2) ** 2) ** 0.5 < 0.01:
            raise ValueError("the line is shorter than 1% of the frame; move its points apart")
        return value


class LoiterRule(_GroupedRule):
    """Alert when one track stays in the polygon for ``threshold_s`` (once per visit)."""

    polygon: Polygon
    threshold_s: float = Field(60.0, gt=0, le=86400, description="dwell time that alerts")
    grace_s: float = Field(
        3.0,
        ge=0,
        le=600,
        description="absence (left the zone, or hidden) shorter than this does not end a visit",
    )


class NoParkingRule(_GroupedRule):
    """Alert when a vehicle stands still inside the polygon for ``after_s`` (once per stop)."""

    polygon: Polygon
    objects: list[str] = Field(default_factory=lambda: list(VEHICLE_LABELS), min_length=1)
    after_s: float = Field(30.0, gt=0, le=86400, description="standing still this long alerts")
    still_fraction: float = Field(
        0.05,
        gt=0,
        le=1,
        description="'still' = box centre moved less than this share of the box size",
    )


class Ring(_Section):
    """One crowd ring: its outline and the most people it may hold."""

    polygon: Polygon
    limit: int | None = Field(None, ge=1, description="occupancy that alerts; none = count only")


class CrowdRule(_Rule):
    """Nested crowd rings with occupancy limits, and a heatmap of where people stand.

    A ring's *occupancy* is the people whose feet are inside its polygon but not inside the
    next inner ring (a ring is a band). An alert is raised when a ring's occupancy is above
    its limit for ``min_frames`` detector frames in a row; the next one only after it has
    fallen below ``rearm_below`` * limit (hysteresis: a count hovering at the limit raises one).
    """

    diversion: Ring | None = Field(None, description="outermost ring")
    control: Ring | None = Field(None, description="middle ring, inside diversion")
    core: Ring | None = Field(None, description="innermost ring, inside control")
    rearm_below: float = Field(
        0.8, gt=0, le=1, description="re-arm a ring's alert below this share of its limit"
    )
    min_frames: int = Field(3, ge=1, le=100, description="frames above the limit before alerting")
    heatmap_half_life_s: float = Field(
        300.0, gt=0, le=86400, description="the heatmap forgets half its heat in this time"
    )

    @model_validator(mode="after")
    def _nested_rings(self) -> CrowdRule:
        present = [(n, r) for n, r in self.rings() if r is not None]
        if not present:
            raise ValueError("give at least one ring: diversion, control or core")
        for (outer_name, outer), (inner_name, inner) in pairwise(present):
            outside = polygon_outside_part(inner.polygon, outer.polygon)
            if outside is not None:
                raise ValueError(
                    f"ring {inner_name!r} must lie inside ring {outer_name!r}, but {outside}; "
                    "draw each inner ring within the next outer one"
                )
        return self

    def rings(self) -> list[tuple[str, Ring | None]]:
        """(name, ring) outermost first; absent rings are None."""
        return [(n, getattr(self, n)) for n in RING_NAMES]


class GroundCalibration(_Section):
    """Four marks on flat ground: where they are in the image and where on the ground (m).

    Pick marks you can measure, e.g. the corners of paving slabs or a tape-measured
    rectangle; list them in the same order in both lists, going around the shape.
    """

    image: list[Point] = Field(min_length=4, max_length=4, description="[x, y] frame fractions")
    ground_m: list[tuple[float, float]] = Field(
        min_length=4, max_length=4, description="the same marks, [X, Y] on the ground in metres"
    )

    @field_validator("image", "ground_m")
    @classmethod
    def _a_real_quadrilateral(cls, value: list[tuple[float, float]]) -> list:
        for i, j, k in combinations(range(4), 3):
            a, b, c = value[i], value[j], value[k]
            span = max(abs(b[0] - a[0]) + abs(b[1] - a[1]), abs(c[0] - a[0]) + abs(c[1] - a[1]))
            if abs(_cross(a, b, c)) <= 1e-3 * max(span, 1e-12) ** 2:
                raise ValueError(
                    f"points {i}, {j} and {k} are on one line (collinear); pick four marks "
                    f"no three of which are in a row"
                )
        turns = [_cross(value[i], value[(i + 1) % 4], value[(i + 2) % 4]) for i in range(4)]
        if not (all(t > 0 for t in turns) or all(t < 0 for t in turns)):
            raise ValueError(
                "the four points do not go around a convex quadrilateral in the order given; "
                "list them in order around the shape (e.g. clockwise)"
            )
        return value

    def horizon_side(self) -> list[float]:
        """The homography's third row ``[h31, h32, h33]`` (image fractions → metres).

        ``h31 x + h32 y + h33`` has the same sign as at the marks for every image point on
        the ground side of the horizon; elsewhere areas in m² mean nothing.
        """
        return [*_homography(self.image, self.ground_m)[6:], 1.0]

    def on_ground(self, p: Point) -> bool:
        h31, h32, h33 = self.horizon_side()
        ref = h31 * self.image[0][0] + h32 * self.image[0][1] + h33
        return (h31 * p[0] + h32 * p[1] + h33) * ref > 0


def _homography(src: list[Point], dst: list[tuple[float, float]]) -> list[float]:
    """h11..h32 of the homography mapping 4 points to 4 (Gaussian elimination, 8x8)."""
    a: list[list[float]] = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        a.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u])
        a.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v])
    for col in range(8):
        pivot = max(range(col, 8), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(8):
            if r != col and a[col][col]:
                f = a[r][col] / a[col][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
    return [a[i][8] / a[i][i] for i in range(8)]


def check_camera_rules(
    zones: list[ZoneRule],
    lines: list[LineRule],
    loitering: list[LoiterRule],
    crowd: list[CrowdRule],
    no_parking: list[NoParkingRule],
    calibration: GroundCalibration | None,
) -> None:
    """Checks across one camera's rules; raises ``ValueError`` with the fix."""
    names = [r.name for group in (zones, lines, loitering, crowd, no_parking) for r in group]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(
            "zone names must be unique per camera (zones, lines, loitering, crowd and "
            f"no_parking share one set of names); repeated: {dupes}"
        )
    if calibration is None:
        return
    for rule in crowd:
        for ring_name, ring in rule.rings():
            for i, p in enumerate(ring.polygon if ring else []):
                if not calibration.on_ground(p):
                    raise ValueError(
                        f"crowd {rule.name!r} ring {ring_name!r}: point {i} {_fmt(p)} is above "
                        "the horizon of the ground calibration, so its area in m² is "
                        "meaningless; keep rings on the calibrated ground or fix the calibration"
                    )
