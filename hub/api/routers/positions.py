"""Positions in: the officer app's geolocation, and OsmAnd devices (Traccar Client, GPS
trackers) on ``/osmand/{token}``.

The OsmAnd route has no session: the token in its path is the device's credential (one per
tracker, stored as a hash), and ``id`` must be that tracker's. It takes the fields in the
query string (GET or POST, as OsmAnd and Traccar Client send them), as a form body, or as
Traccar Client 9's JSON body (``device_id`` is then the tracker's id). A
refused position answers with its reason (see :mod:`hub.dispatch.positions`) and nothing is
stored. Stored positions are not audited one by one (a unit sends one every few seconds;
the track itself is the record); refusals are logged.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated dependency
# types, which are local to build().
import json
import logging
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.params import aware
from hub.api.routers.units import dispatch_errors
from hub.dispatch.errors import DispatchError, PositionRefused
from hub.dispatch.positions import Reading, osmand_reading, traccar_json_reading
from hub.dispatch.service import DispatchService
from hub.domain.units import Position
from hub.domain.users import Role

log = logging.getLogger(__name__)

Token = Annotated[str, PathParam(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


class PositionReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    at: datetime | None = Field(None, description="when measured; default: now")
    accuracy_m: float | None = Field(None, ge=0, le=1e6)
    speed_kmh: float | None = Field(None, ge=0, le=2000)
    bearing: float | None = Field(None, ge=0, le=360)
    battery: float | None = Field(None, ge=0, le=100)
    unit_id: str | None = Field(
        None, pattern=r"^[0-9a-f]{32}$", description="default: the caller's only unit"
    )


class Stored(BaseModel):
    stored: bool
    unit_id: str
    at: datetime


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["positions"])
    patrol = Annotated[Principal, Depends(ctx.services["auth"].require(Role.PATROL))]
    service: DispatchService = ctx.services["dispatch"]

    @router.post("/api/positions", response_model=Position, status_code=201)
    def app_position(who: patrol, body: PositionReport) -> Position:
        """The officer app's ``watchPosition``: the caller's own unit (officers may place
        any unit by ``unit_id``, source ``desk``)."""
        reading = Reading(
            lat=body.lat,
            lon=body.lon,
            at=aware(body.at),
            accuracy_m=body.accuracy_m,
            speed_kmh=body.speed_kmh,
            bearing=body.bearing,
            battery=body.battery,
        )
        with dispatch_errors():
            return service.app_position(who.user, body.unit_id, reading)

    def read(query: dict[str, str], body: bytes) -> tuple[str, Reading]:
        """The device id and reading of one OsmAnd request, in any of its formats."""
        if body.lstrip().startswith(b"{"):
            # Traccar Client 9+: JSON (its own content type is not trusted either way).
            try:
                document = json.loads(body)
            except (ValueError, RecursionError):
                raise PositionRefused(400, "bad_value", "the body is not JSON") from None
            device_id, reading = traccar_json_reading(document)
            return (device_id or query.get("id") or query.get("deviceid") or "")[:64], reading
        fields = dict(query)
        if body:
            # A form body is plain key=value pairs; parse_qsl reads it without a multipart
            # parser and whatever the content type says (trackers are careless with it).
            try:
                fields |= dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=20))
            except ValueError:
                raise PositionRefused(400, "bad_value", "too many fields") from None
        # Traccar's own server takes ``deviceid`` as well as ``id``; some trackers send it.
        return (fields.get("id") or fields.get("deviceid") or "")[:64], osmand_reading(fields)

    async def osmand(request: Request, token: str) -> Stored:
        body = await request.body()  # BodyLimit capped it (hub.api.limits)
        try:
            device_id, reading = read(dict(request.query_params), body)
            position = await run_in_threadpool(service.osmand_position, token, device_id, reading)
        except DispatchError as exc:
            client = request.client.host if request.client else "?"
            log.info("osmand position refused from %s: %s", client, exc)
            raise HTTPException(exc.status, str(exc)) from None
        return Stored(stored=True, unit_id=position.unit_id, at=position.at)

    @router.get("/osmand/{token}", response_model=Stored)
    async def osmand_get(request: Request, token: Token) -> Stored:
        """OsmAnd protocol: ``?id=&lat=&lon=&timestamp=&speed=&bearing=&accuracy=&batt=``
        (``speed`` in knots; ``timestamp`` Unix seconds or ISO 8601)."""
        return await osmand(request, token)

    @router.post(
        "/osmand/{token}",
        response_model=Stored,
        openapi_extra={
            "requestBody": {
                "content": {"application/x-www-form-urlencoded": {}, "application/json": {}}
            },
        },
    )
    async def osmand_post(request: Request, token: Token) -> Stored:
        """The same as GET, the fields in the query string or a form body; or Traccar
        Client 9's JSON ``{"location": {"timestamp", "coords": {"latitude", "longitude",
        "speed" (m/s), "heading", "accuracy"}, "battery": {"level" (0..1)}}, "device_id"}``."""
        return await osmand(request, token)

    return router
