"""What the hub told whom: ``GET /api/notifications`` (supervisors and admins).

``?status=pending|sent|failed|gave_up&incident=ID&before=CURSOR&limit=N`` →
``{items: [Delivery + attempt_log], next_cursor}``, newest first. Targets are shown masked
(an apprise URL without its password or token; a push subscription as its owner's browser).
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated types of
# the dependencies, which are local to build().

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.domain.notifications import Delivery, DeliveryAttempt, DeliveryStatus
from hub.domain.users import Role


class DeliveryView(Delivery):
    """A delivery with every attempt at it, oldest first."""

    attempt_log: list[DeliveryAttempt]


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/api/notifications", tags=["notifications"])
    Supervisor = Annotated[Principal, Depends(ctx.services["auth"].require(Role.SUPERVISOR))]

    @router.get("", response_model=DeliveryPage)
    def deliveries(
        who: Supervisor,
        status: DeliveryStatus | None = None,
        incident: Annotated[str | None, Query(max_length=64)] = None,
        before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> DeliveryPage:
        repository = ctx.storage.notifications
        found = repository.find(status=status, incident_id=incident, before_id=before, limit=limit)
        items = [
            DeliveryView(**d.model_dump(), attempt_log=repository.attempts(d.id)) for d in found
        ]
        next_cursor = str(found[-1].id) if len(found) == limit else None
        detail = " ".join(f"{k}={v}" for k, v in (("status", status), ("incident", incident)) if v)
        ctx.audit(who.username, "notifications.list", None, detail or None)
        return DeliveryPage(items=items, next_cursor=next_cursor)

    return router
