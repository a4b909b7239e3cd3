"""Dispatch: suggestions, sending a unit, a patrol's orders and its taps (docs/dispatch.md).

The duty desk (officers and above) asks for suggestions and dispatches; a patrol reads its
own orders (``/api/assignments/mine``: the incident, its snapshots and notes, a ``geo:``
link for navigation) and steps them; officers may step any assignment. Everything is
audited with who, what and which incident.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated dependency
# types, which are local to build().
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.params import HexId, aware
from hub.api.routers.units import dispatch_errors
from hub.api.views import AlertView, alert_view
from hub.dispatch.ranking import Suggestion
from hub.dispatch.service import DispatchService
from hub.domain.incidents import Incident, Note, Outcome
from hub.domain.units import Assignment, Step, Unit
from hub.domain.users import Role


class DispatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class StepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: Step = Field(description="accept, en_route, on_scene, resolve, release, need_backup")
    at: datetime | None = Field(None, description="when tapped (queued offline); default now")
    outcome: Outcome | None = Field(None, description="needed to resolve")
    note: str | None = Field(None, max_length=2000)


class Order(BaseModel):
    """What a patrol's phone shows for one active assignment."""

    assignment: Assignment
    unit: Unit
    incident: Incident
    alerts: list[AlertView]
    notes: list[Note]
    geo_url: str | None = Field(description="geo:lat,lon for the phone's navigation app")


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["dispatch"])
    auth = ctx.services["auth"]
    viewer = Annotated[Principal, Depends(auth.require(Role.VIEWER))]
    patrol = Annotated[Principal, Depends(auth.require(Role.PATROL))]
    officer = Annotated[Principal, Depends(auth.require(Role.OFFICER))]
    service: DispatchService = ctx.services["dispatch"]

    @router.get("/api/incidents/{incident_id}/suggestions", response_model=list[Suggestion])
    def suggestions(who: officer, incident_id: HexId) -> list[Suggestion]:
        """Available units by **estimated** travel time (straight line x detour factor /
        kind speed); stale or unplaced ones last, marked."""
        with dispatch_errors():
            ranked = service.suggest(incident_id)
        ctx.audit(who.username, "dispatch.suggestions", incident_id, f"{len(ranked)} units")
        return ranked

    @router.post(
        "/api/incidents/{incident_id}/dispatch", response_model=Assignment, status_code=201
    )
    def dispatch(who: officer, incident_id: HexId, body: DispatchRequest) -> Assignment:
        with dispatch_errors():
            assignment = service.dispatch(incident_id, body.unit_id, who.username)
        ctx.audit(who.username, "dispatch.send", incident_id, f"unit {body.unit_id}")
        return assignment

    @router.get("/api/incidents/{incident_id}/assignments", response_model=list[Assignment])
    def incident_assignments(who: viewer, incident_id: HexId) -> list[Assignment]:
        """Every unit sent to the incident, with each one's segment times."""
        with dispatch_errors():
            return service.for_incident(incident_id)

    @router.get("/api/assignments/mine", response_model=list[Order])
    def my_orders(who: patrol) -> list[Order]:
        """The active assignments of the caller's units (empty when none)."""
        orders = []
        for assignment, unit in service.mine(who.username):
            detail = service.incidents.detail(assignment.incident_id)
            target = service.target(detail.incident)
            orders.append(
                Order(
                    assignment=assignment,
                    unit=unit,
                    incident=detail.incident,
                    alerts=[alert_view(a) for a in detail.alerts[-20:]],
                    notes=detail.notes,
                    geo_url=f"geo:{target.lat},{target.lon}" if target else None,
                )
            )
        ctx.audit(who.username, "assignments.mine", None, f"{len(orders)} orders")
        return orders

    @router.post("/api/assignments/{assignment_id}/steps", response_model=Assignment)
    def step(who: patrol, assignment_id: HexId, body: StepRequest) -> Assignment:
        """One tap: a patrol on its own unit's assignment, an officer on any. ``need_backup``
        answers with the backup unit's new assignment."""
        with dispatch_errors():
            done = service.step(
                assignment_id, body.step, who.user, aware(body.at), body.outcome, body.note
            )
        detail = f"{body.step.value} at {aware(body.at) or 'now'} -> {done.state.value}"
        ctx.audit(who.username, f"assignment.{body.step.value}", done.incident_id, detail)
        return done

    return router
