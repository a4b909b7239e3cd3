"""Web Push subscriptions: a signed-in person's browser asks to be woken for incidents.

* ``GET /api/push/key`` → ``{enabled, public_key}``: the hub's VAPID public key, the
  ``applicationServerKey`` for ``PushManager.subscribe()`` (``enabled`` false: the site
  switched Web Push off, the page keeps its in-page alarm only).
* ``POST /api/push/subscriptions`` ``{endpoint, keys: {p256dh, auth}}`` → 201, the stored
  subscription. Always for the caller: a browser is subscribed for whoever is signed in on it.
* ``DELETE /api/push/subscriptions`` ``{endpoint}`` → 204; only the caller's own.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated types of
# the dependencies, which are local to build().

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, Field

from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.domain.notifications import (
    MAX_ENDPOINT_LENGTH,
    PushSubscription,
    PushSubscriptionRequest,
)
from hub.domain.users import Role
from hub.notify.webpush import WebPushNotifier


class PushKey(BaseModel):
    enabled: bool
    public_key: str | None = None


class PushUnsubscribe(BaseModel):
    endpoint: str = Field(max_length=MAX_ENDPOINT_LENGTH)


def _web_push(ctx: ApiContext) -> WebPushNotifier | None:
    service = ctx.services.get("notifications")
    notifier = service.notifiers.get("webpush") if service is not None else None
    return notifier if isinstance(notifier, WebPushNotifier) else None


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/api/push", tags=["push"])
    Person = Annotated[Principal, Depends(ctx.services["auth"].require(Role.VIEWER))]

    @router.get("/key", response_model=PushKey)
    def push_key(who: Person) -> PushKey:
        notifier = _web_push(ctx)
        if notifier is None:
            return PushKey(enabled=False)
        return PushKey(enabled=True, public_key=notifier.keys.public_key)

    @router.post(
        "/subscriptions", status_code=status.HTTP_201_CREATED, response_model=PushSubscription
    )
    def subscribe(body: PushSubscriptionRequest, who: Person) -> PushSubscription:
        if _web_push(ctx) is None:
            raise HTTPException(status.HTTP_409_CONFLICT, "Web Push is switched off on this hub")
        subscription = ctx.storage.push_subscriptions.save(
            who.username, body.endpoint, body.keys, ctx.clock()
        )
        host = urlsplit(body.endpoint).hostname or "?"
        ctx.audit(who.username, "push.subscribe", str(subscription.id), host)
        return subscription

    @router.delete("/subscriptions", status_code=status.HTTP_204_NO_CONTENT)
    def unsubscribe(body: PushUnsubscribe, who: Person) -> Response:
        # Idempotent: a browser may unsubscribe after the push service already dropped it.
        deleted = ctx.storage.push_subscriptions.delete(body.endpoint, username=who.username)
        host = urlsplit(body.endpoint).hostname or "?"
        ctx.audit(who.username, "push.unsubscribe", None, f"{host} deleted={deleted}")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
