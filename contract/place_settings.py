"""Where things are: the site plan, positions of areas, cameras and sensors, and dispatch.

A village has no map server, so the map is the site's own plan (a drawing or an aerial photo
it owns), placed on the earth by its corners (``bounds``) or by control points (a pixel of the
plan and the WGS84 point it shows, three or more, fitted as an affine transform). Everything
with a position (areas, cameras, sensors, patrol units, incidents) is drawn on it. A
deployment with internet may add a street map under it (``tile_url``).

Dispatch settings say how travel time is *estimated*: straight-line distance times a detour
factor, divided by the unit kind's speed. It is an estimate, not a route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.plan_image import read_plan


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LatLon(_Section):
    """A WGS84 point, as ``{lat: 51.5, lon: -0.12}``."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class ControlPoint(_Section):
    """A pixel of the plan image (x right, y down, from its top-left corner) and the WGS84
    point it shows."""

    x: float = Field(ge=0)
    y: float = Field(ge=0)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Bounds(_Section):
    """A north-up plan's corners: ``south_west`` (bottom-left) and ``north_east``."""

    south_west: LatLon
    north_east: LatLon

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if not (
            self.south_west.lat < self.north_east.lat and self.south_west.lon < self.north_east.lon
        ):
            raise ValueError("south_west must be south and west of north_east")
        return self


class SiteMap(_Section):
    """The site plan the officer app draws everything on (works with no internet)."""

    image: str = Field(description="PNG, JPEG or SVG plan of the site (relative to the config)")
    bounds: Bounds | None = Field(None, description="a north-up plan's corners in WGS84")
    control_points: list[ControlPoint] = Field(
        default_factory=list,
        description="3+ plan pixels with the WGS84 point each shows (any rotation)",
    )
    tile_url: str | None = Field(
        None,
        description="optional street map under the plan, e.g. https://tile.example/{z}/{x}/{y}.png"
        " (needs internet)",
    )
    tile_attribution: str = Field("", max_length=300, description="credit the tile source asks")

    @model_validator(mode="after")
    def _placed_once(self) -> SiteMap:
        if (self.bounds is None) == (not self.control_points):
            raise ValueError("place the plan with either bounds or control_points (not both)")
        if self.control_points and len(self.control_points) < 3:
            raise ValueError("control_points needs at least 3 points (not on one line)")
        if self.control_points:
            pts = self.control_points
            if _rank([(p.x, p.y) for p in pts]) < 3 or _rank([(p.lon, p.lat) for p in pts]) < 3:
                raise ValueError(
                    "control_points are on one line (as pixels or on the earth): pick 3+ "
                    "points spread over the plan, e.g. near three of its corners"
                )
        return self

    def _matrix(self, width: float, height: float) -> np.ndarray:
        """The 2x3 affine map from a plan pixel (x, y, 1) to (lat, lon): from the corners
        for ``bounds`` (north up), else the least-squares fit of the control points."""
        if self.bounds is not None:
            sw, ne = self.bounds.south_west, self.bounds.north_east
            return np.array(
                [
                    [0.0, (sw.lat - ne.lat) / height, ne.lat],
                    [(ne.lon - sw.lon) / width, 0.0, sw.lon],
                ]
            )
        src = np.array([[p.x, p.y, 1.0] for p in self.control_points])
        dst = np.array([[p.lat, p.lon] for p in self.control_points])
        fit, *_ = np.linalg.lstsq(src, dst, rcond=None)
        return fit.T

    def to_latlon(self, x: float, y: float, width: float, height: float) -> LatLon:
        """The WGS84 point a pixel of a ``width`` x ``height`` plan shows."""
        lat, lon = self._matrix(width, height) @ np.array([x, y, 1.0])
        return LatLon(lat=float(lat), lon=float(lon))

    def to_pixel(self, point: LatLon, width: float, height: float) -> tuple[float, float]:
        """The plan pixel that shows ``point`` (may be outside the plan)."""
        m = self._matrix(width, height)
        x, y = np.linalg.solve(m[:, :2], np.array([point.lat, point.lon]) - m[:, 2])
        return float(x), float(y)

    def corners(self, width: float, height: float) -> dict[str, LatLon]:
        """Where the plan's top-left, top-right and bottom-left corners lie: all a map
        library needs to draw it (rotated, if placed by control points)."""
        return {
            "top_left": self.to_latlon(0, 0, width, height),
            "top_right": self.to_latlon(width, 0, width, height),
            "bottom_left": self.to_latlon(0, height, width, height),
        }

    def covers(self, point: LatLon, width: float, height: float) -> bool:
        """Whether ``point`` falls on the plan."""
        x, y = self.to_pixel(point, width, height)
        slack = 1e-6 * max(width, height)  # a point on the plan's edge is on it
        return -slack <= x <= width + slack and -slack <= y <= height + slack


def _rank(points: list[tuple[float, float]]) -> int:
    """3 when the points span a plane, less when they lie on one line (or one point)."""
    m = np.array([[a, b, 1.0] for a, b in points])
    spread = max(float(np.ptp(m[:, 0])), float(np.ptp(m[:, 1])), 1e-12)
    return int(np.linalg.matrix_rank(m / [spread, spread, 1.0], tol=1e-6))


UnitKind = Literal["foot", "bicycle", "car"]


class DispatchSettings(_Section):
    """How the duty desk's suggestions are estimated and how long a unit has to accept."""

    speeds_kmh: dict[UnitKind, float] = Field(
        default_factory=lambda: {"foot": 5.0, "bicycle": 15.0, "car": 30.0},
        description="average travel speed per unit kind (village roads, not motorways)",
    )
    detour_factor: float = Field(
        1.4, ge=1.0, le=5.0, description="road distance / straight-line distance, estimated"
    )
    accept_timeout_s: float = Field(
        30, ge=5, le=600, description="a dispatched unit that has not accepted by then is passed"
    )
    position_fresh_s: float = Field(
        120, ge=10, le=3600, description="an older position is listed last, marked stale"
    )
    max_speed_kmh: float = Field(
        200, ge=10, le=1000, description="a position implying a faster jump is refused"
    )
    positions_days: int = Field(7, ge=1, le=3650, description="tracks are kept this long")

    @model_validator(mode="after")
    def _every_kind(self) -> DispatchSettings:
        missing = {"foot", "bicycle", "car"} - set(self.speeds_kmh)
        if missing:
            raise ValueError(f"speeds_kmh needs every unit kind; missing: {sorted(missing)}")
        if any(v <= 0 or v > self.max_speed_kmh for v in self.speeds_kmh.values()):
            raise ValueError("speeds_kmh must be above 0 and at most max_speed_kmh")
        return self


def check_placements(site_map: SiteMap, plan_path: Path, points: list[tuple[str, LatLon]]) -> None:
    """The site plan's file is a PNG, JPEG or SVG of a known size, and every named point
    (``("areas[0].position", LatLon)``...) falls on it. ``ValueError`` names the field."""
    try:
        plan = read_plan(plan_path)
    except ValueError as exc:
        raise ValueError(f"map.image: {exc}") from None
    off = [name for name, p in points if not site_map.covers(p, plan.width, plan.height)]
    if off:
        raise ValueError(
            f"{', '.join(off)}: not on the site plan ({plan_path.name} as placed by map."
            f"{'bounds' if site_map.bounds else 'control_points'}); check lat/lon order"
        )


__all__ = [
    "Bounds",
    "ControlPoint",
    "DispatchSettings",
    "LatLon",
    "SiteMap",
    "UnitKind",
    "check_placements",
]
