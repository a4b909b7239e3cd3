"""Sensor health and arming per area.

``GET /api/sensors/health`` lists every node that has sent a heartbeat (battery, days left,
last heartbeat, offline/stuck/tamper); ``GET /api/arming`` gives each area's arming; ``PUT
/api/arming/{area}`` arms, disarms or hands an area back to its schedule (officers and up;
kept in the audit log by :class:`hub.sensors.arming.ArmingBoard`). Viewers read.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated types of
# the dependencies, which are local to build().
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict

from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.domain.users import Role
from hub.sensors.arming import AreaArmingState, UnknownArea
from hub.sensors.health import SensorHealthRow
from hub.sensors.service import SensorHub
from hub.storage.sensors import ArmingMode


class ArmingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: ArmingMode


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["sensors"])
    auth = ctx.services["auth"]
    viewer = Annotated[Principal, Depends(auth.require(Role.VIEWER))]
    officer = Annotated[Principal, Depends(auth.require(Role.OFFICER))]

    def sensors() -> SensorHub:
        return ctx.running("sensors")

    @router.get("/api/sensors/health", response_model=list[SensorHealthRow])
    def health(who: viewer) -> list[SensorHealthRow]:
        """Every node that has sent a heartbeat, with what the health rules make of it."""
        return sensors().health.report()

    @router.get("/api/arming", response_model=list[AreaArmingState])
    def arming(who: viewer) -> list[AreaArmingState]:
        """Each area: armed or not now, its mode, and who set it last."""
        return sensors().arming.states()

    @router.put("/api/arming/{area}", response_model=AreaArmingState)
    def set_arming(area: str, body: ArmingIn, who: officer) -> AreaArmingState:
        """Arm, disarm, or hand ``area`` back to its schedule (``mode``: armed, disarmed,
        schedule)."""
        try:
            return sensors().arming.set_mode(area, body.mode, who.user.username)
        except UnknownArea as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc.args[0])) from None

    return router
