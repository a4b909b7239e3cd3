"""The site map: the plan image, its placement on the earth, and everything placed on it.

``GET /api/map`` gives the officer app what it draws (the plan's URL, size and corners, the
optional street tiles, areas, cameras and sensors with their positions); ``GET /api/map/plan``
is the plan image itself. Both need a session (the plan of a site is not public). The plan
was checked when the config loaded (contract.place_settings.check_placements); it is read
again here because the file may have changed since.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated types of
# the dependencies, which are local to build().
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from contract.place_settings import Bounds, ControlPoint, LatLon
from contract.plan_image import PlanImage, read_plan
from contract.siteconfig import SiteConfig
from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.domain.users import Role

PLAN_URL = "/api/map/plan"


class PlanOut(BaseModel):
    width: float = Field(description="the plan's size in its own pixels")
    height: float
    media_type: str


class CornersOut(BaseModel):
    """Where the plan's corners lie: enough to draw it, rotated or not."""

    top_left: LatLon
    top_right: LatLon
    bottom_left: LatLon


class AreaOut(BaseModel):
    id: str
    name: str
    position: LatLon | None
    outline: list[LatLon]


class CameraOut(BaseModel):
    name: str
    node: str = Field(description="the gateway serving it")
    area: str
    position: LatLon | None


class SensorOut(BaseModel):
    node: str
    area: str
    kind: str
    position: LatLon | None


class MapOut(BaseModel):
    image_url: str
    plan: PlanOut
    bounds: Bounds | None
    control_points: list[ControlPoint]
    corners: CornersOut
    tile_url: str | None
    attribution: str
    areas: list[AreaOut]
    cameras: list[CameraOut]
    sensors: list[SensorOut]


def _plan(config: SiteConfig | None) -> PlanImage:
    if config is None or config.map is None:
        raise HTTPException(404, "this site has no map: add a map section to the site file")
    try:
        return read_plan(config.resolve(config.map.image))
    except ValueError as exc:  # moved or replaced since the config was checked
        raise HTTPException(404, f"the site plan cannot be shown: {exc}") from None


def map_of(config: SiteConfig, plan: PlanImage) -> MapOut:
    """The site's map as the officer app draws it."""
    site_map = config.map
    assert site_map is not None
    return MapOut(
        image_url=PLAN_URL,
        plan=PlanOut(width=plan.width, height=plan.height, media_type=plan.media_type),
        bounds=site_map.bounds,
        control_points=site_map.control_points,
        corners=CornersOut(**site_map.corners(plan.width, plan.height)),
        tile_url=site_map.tile_url,
        attribution=site_map.tile_attribution,
        areas=[
            AreaOut(id=a.id, name=a.name, position=a.position, outline=a.outline)
            for a in config.areas
        ],
        cameras=[
            CameraOut(name=c.name, node=g.node, area=c.area, position=c.position)
            for g in config.gateways
            for c in g.cameras
        ],
        sensors=[
            SensorOut(node=s.node, area=s.area, kind=s.kind, position=s.position)
            for s in config.sensors
        ],
    )


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["map"])
    viewer = Annotated[Principal, Depends(ctx.services["auth"].require(Role.VIEWER))]

    @router.get("/api/map", response_model=MapOut)
    def site_map(who: viewer) -> MapOut:
        """The plan, its placement (bounds or control points, and the corners they give),
        the optional street tiles, and the areas, cameras and sensors placed on it."""
        return map_of(ctx.config, _plan(ctx.config))

    @router.get(PLAN_URL, response_class=FileResponse)
    def plan_image(who: viewer) -> FileResponse:
        """The plan image (PNG, JPEG or SVG, at most 20 MB), cached by the browser for a
        day: phones keep it for a dead spot. An SVG may not run scripts (its own CSP)."""
        plan = _plan(ctx.config)
        headers = {"cache-control": "private, max-age=86400"}
        if plan.kind == "svg":
            headers["content-security-policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return FileResponse(plan.path, media_type=plan.media_type, headers=headers)

    return router
