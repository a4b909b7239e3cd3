"""``GET /api/events``: the live feed as Server-Sent Events.

Every event carries an ``id:``; a browser's EventSource sends the last one back as
``Last-Event-ID`` when it reconnects, and gets exactly the events it missed (or ``resync``
when the hub no longer has them). A ``ping`` event (no id, so it does not move the resume
point) comes every ``heartbeat_s``: a page that misses two knows its connection stalled even
if the socket still looks open. The session is re-checked every ``heartbeat_s``, with or
without events: the stream ends with ``logout`` once it is gone.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated types of
# the dependencies, which are local to build().
import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.views import event_data
from hub.domain.users import Role
from hub.events import Shutdown


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["alerts"])
    viewer = Annotated[Principal, Depends(ctx.services["auth"].require(Role.VIEWER))]
    accounts = ctx.services["accounts"]

    @router.get(
        "/api/events",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def events(
        request: Request,
        who: viewer,
        last_event_id: Annotated[
            str | None, Query(max_length=40, description="resume after this event id")
        ] = None,
    ) -> StreamingResponse:
        """Live events: ``alert``, ``snapshot``, ``node``, ``incident``, ``resync``, ``ping``."""
        resume = (request.headers.get("last-event-id") or last_event_id or "")[:40] or None
        await ctx.audit_async(who.username, "events.subscribe", None, resume)
        stream = ctx.bus.subscribe(resume)
        return StreamingResponse(
            _event_stream(request, who, stream),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no", "cache-control": "no-store"},
        )

    async def _event_stream(request: Request, who: Principal, stream):
        clock = asyncio.get_running_loop().time
        recheck_at = clock() + ctx.heartbeat_s
        with stream:
            yield "retry: 3000\n: connected\n\n"
            while not await request.is_disconnected():
                envelope = await stream.get(timeout=ctx.heartbeat_s)
                # Every heartbeat, busy or idle: a steady flow of events leaves no quiet
                # heartbeat for a ping, and a revoked session must not keep streaming.
                if envelope is None or clock() >= recheck_at:
                    recheck_at = clock() + ctx.heartbeat_s
                    user = await run_in_threadpool(accounts.session_user, who.token, False)
                    if user is None:
                        yield "event: logout\ndata: {}\n\n"  # session ended: stop streaming
                        return
                if envelope is None:
                    yield "event: ping\ndata: {}\n\n"
                    continue
                data = json.dumps(event_data(envelope.event), default=str)
                yield f"id: {envelope.id}\nevent: {envelope.event.name}\ndata: {data}\n\n"
                if isinstance(envelope.event, Shutdown):
                    return

    return router
