"""Patrol units and their OsmAnd trackers (docs/dispatch.md).

Viewers see units (with their newest position); supervisors create and change them; a
unit's own members may set its availability (on or off duty); admins add trackers, whose
token is shown once. Every change is audited. The dispatch service's refusals carry their
status (404 unknown, 403 not yours, 409 conflict, 422 unacceptable).
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated dependency
# types, which are local to build().
import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.params import HexId
from hub.api.routers.incidents import http_errors
from hub.dispatch.errors import DispatchError
from hub.dispatch.service import DispatchService
from hub.domain.units import (
    CALLSIGN_PATTERN,
    DEVICE_ID_PATTERN,
    Availability,
    Tracker,
    Unit,
    UnitKind,
)
from hub.domain.users import USERNAME_PATTERN, Role

Member = Annotated[str, Field(pattern=USERNAME_PATTERN)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewUnit(_Body):
    callsign: str = Field(pattern=CALLSIGN_PATTERN)
    kind: UnitKind
    members: list[Member] = Field(default_factory=list, max_length=20)


class UnitChange(_Body):
    callsign: str | None = Field(None, pattern=CALLSIGN_PATTERN)
    kind: UnitKind | None = None
    members: list[Member] | None = Field(None, max_length=20)
    availability: Availability | None = None


class NewTracker(_Body):
    name: str = Field(min_length=1, max_length=80)
    device_id: str | None = Field(
        None, pattern=DEVICE_ID_PATTERN, description="the id the device sends; default: made up"
    )


class CreatedTracker(BaseModel):
    tracker_id: str
    token: str = Field(description="shown only in this response")
    osmand_url: str = Field(description="the server URL to give Traccar Client / OsmAnd")


@contextlib.contextmanager
def dispatch_errors() -> Iterator[None]:
    """The dispatch service's refusals (each carries its status) as HTTP answers with their
    message; the incident service's, met on the way, as the incidents routes answer them."""
    with http_errors():
        try:
            yield
        except DispatchError as exc:
            raise HTTPException(exc.status, str(exc)) from None


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["units"])
    auth = ctx.services["auth"]
    viewer = Annotated[Principal, Depends(auth.require(Role.VIEWER))]
    patrol = Annotated[Principal, Depends(auth.require(Role.PATROL))]
    supervisor = Annotated[Principal, Depends(auth.require(Role.SUPERVISOR))]
    admin = Annotated[Principal, Depends(auth.require(Role.ADMIN))]
    service: DispatchService = ctx.services["dispatch"]

    @router.get("/api/units", response_model=list[Unit])
    def list_units(who: viewer) -> list[Unit]:
        """Every unit with its availability, incident and newest position, by callsign."""
        return service.units()

    @router.post("/api/units", response_model=Unit, status_code=201)
    def create_unit(who: supervisor, body: NewUnit) -> Unit:
        with dispatch_errors():
            unit = service.create_unit(body.callsign, body.kind, body.members)
        detail = f"{unit.callsign} {unit.kind.value} members={','.join(unit.members)}"
        ctx.audit(who.username, "unit.create", unit.id, detail)
        return unit

    @router.patch("/api/units/{unit_id}", response_model=Unit)
    def update_unit(who: patrol, unit_id: HexId, body: UnitChange) -> Unit:
        """Supervisors change anything; a member sets its unit's availability only."""
        changes = body.model_dump(exclude_none=True)
        with dispatch_errors():
            unit = service.update_unit(unit_id, who.user, **changes)
        ctx.audit(who.username, "unit.update", unit_id, f"{unit.callsign} {sorted(changes)}")
        return unit

    @router.post("/api/units/{unit_id}/trackers", response_model=CreatedTracker, status_code=201)
    def add_tracker(who: admin, unit_id: HexId, body: NewTracker, request: Request):
        """A new OsmAnd device for the unit. Its token is in this answer only."""
        with dispatch_errors():
            tracker, token = service.add_tracker(unit_id, body.name, body.device_id)
        ctx.audit(who.username, "tracker.create", unit_id, f"{tracker.id} {tracker.name}")
        url = str(request.base_url).rstrip("/") + f"/osmand/{token}"
        return CreatedTracker(tracker_id=tracker.id, token=token, osmand_url=url)

    @router.get("/api/units/{unit_id}/trackers", response_model=list[Tracker])
    def list_trackers(who: admin, unit_id: HexId) -> list[Tracker]:
        with dispatch_errors():
            return service.trackers(unit_id)

    return router
