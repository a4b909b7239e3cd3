"""Event security (:mod:`hub.events_security`): events with three rings on the site map.

``GET /api/site-events`` lists the events (from the site file and made on the page);
``GET /api/site-events/{id}`` is the dashboard (each ring's occupancy against its limit now,
the last 30 minutes, the cameras feeding it and their health, the open incidents of the
event's area); ``GET /api/site-events/{id}/replay`` gives the stored series with its heat
(default: the event's window). Viewers read; supervisors create and delete page events
(``POST``, ``DELETE``), audited; ``GET /api/site-event-feeds`` lists the camera rings
their form can choose from. "site-events", not "events": ``/api/events`` is the live
feed (:mod:`hub.api.routers.events`).
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated types of
# the dependencies, which are local to build().
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from contract.event_settings import SiteEvent
from contract.protocol import ID_PATTERN
from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.params import aware
from hub.domain.users import Role
from hub.events_security.service import (
    EventDashboard,
    EventInfo,
    EventReplay,
    EventSecurity,
    FeedChoice,
)

#: A replay reads at most this long a window (an event is hours; a week is generous).
MAX_REPLAY = timedelta(days=7)
#: The hub holds nothing outside these years.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

EventId = Annotated[str, Path(pattern=ID_PATTERN, max_length=40)]


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["event security"])
    auth = ctx.services["auth"]
    viewer = Annotated[Principal, Depends(auth.require(Role.VIEWER))]
    supervisor = Annotated[Principal, Depends(auth.require(Role.SUPERVISOR))]

    def service() -> EventSecurity:
        return ctx.running("event_security")

    def info_of(event_id: str) -> EventInfo:
        info = service().get(event_id)
        if info is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such event")
        return info

    @router.get("/api/site-events", response_model=list[EventInfo])
    def listed(who: viewer) -> list[EventInfo]:
        """Every event, newest first, with its source (``site`` file or ``page``) and
        whether it is on now."""
        return service().events()

    @router.get("/api/site-event-feeds", response_model=list[FeedChoice])
    def feeds(who: viewer) -> list[FeedChoice]:
        """The cameras' crowd rings an event ring can be fed by (the new-event form)."""
        return service().feed_choices()

    @router.get("/api/site-events/{event_id}", response_model=EventDashboard)
    def dashboard(event_id: EventId, who: viewer) -> EventDashboard:
        """The dashboard of one event, now."""
        return service().dashboard(info_of(event_id))

    @router.get("/api/site-events/{event_id}/replay", response_model=EventReplay)
    def replay(
        event_id: EventId,
        who: viewer,
        start: Annotated[datetime | None, Query(description="default: the event's start")] = None,
        end: Annotated[datetime | None, Query(description="default: the event's end")] = None,
    ) -> EventReplay:
        """The stored rings and heat in [start, end), at most 1,500 moments (thinned)."""
        info = info_of(event_id)
        start = aware(start) or info.event.starts_at
        end = aware(end) or info.event.ends_at
        # Compared before any arithmetic: a time near the calendar's ends would overflow.
        if not (EARLIEST <= start < end <= LATEST and end - start <= MAX_REPLAY):
            raise HTTPException(422, f"start must be before end, at most {MAX_REPLAY.days} days")
        return service().replay(info, start, end)

    @router.post("/api/site-events", status_code=201, response_model=EventInfo)
    def create(event: SiteEvent, who: supervisor) -> EventInfo:
        """A supervisor's event (stored in the hub; site-file events are edited there)."""
        try:
            made = service().create(event, who.username)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        if not made:
            raise HTTPException(status.HTTP_409_CONFLICT, "an event with this id exists")
        ctx.audit(who.username, "event.create", event.id, event.name)
        return info_of(event.id)

    @router.delete("/api/site-events/{event_id}", status_code=204)
    def delete(event_id: EventId, who: supervisor) -> Response:
        """Delete a page event and its series (a site-file event: 409, edit the file)."""
        info = info_of(event_id)
        if info.source != "page":
            raise HTTPException(status.HTTP_409_CONFLICT, "a site-file event: edit the file")
        service().delete(event_id)
        ctx.audit(who.username, "event.delete", event_id, info.event.name)
        return Response(status_code=204)

    return router
