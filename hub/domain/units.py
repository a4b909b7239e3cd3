"""Patrol units, where they are, and the orders they get (assignments).

A **unit** is a callsign (``P-01``), a kind (foot, bicycle, car: its travel speed comes from
the site file's ``hub.dispatch.speeds_kmh``), its members (officer accounts, usually of the
``patrol`` role) and an availability. Availability follows the unit's assignment: a
dispatched unit is ``busy`` until its assignment ends (resolved, released or timed out).

A **position** comes from the officer app's geolocation or from a GPS tracker speaking the
OsmAnd protocol (a :class:`Tracker`: a device with its own token, kept only as a hash).
Positions are a track; the newest is the unit's position on the map.

An **assignment** is one unit sent to one incident. It moves through::

    dispatched → accepted → en_route → on_scene → resolved
    (any active state) → released        dispatched → timed_out (nobody accepted in time)

:func:`apply` is that state machine: the assignment after a step, or :class:`IllegalStep`
with a message a patrol can read. Taps may skip ahead (a patrol that taps "on scene" first
was accepted and en route by then); each time field keeps the *first* time it was reached.
``need_backup`` does not move the assignment: the service opens a second one (``backup_for``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from hub.domain.incidents import Outcome

CALLSIGN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _./-]{0,23}$"
#: What an OsmAnd client may call itself (Traccar Client's "device identifier").
DEVICE_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class UnitKind(StrEnum):
    FOOT = "foot"
    BICYCLE = "bicycle"
    CAR = "car"


class Availability(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"  # set and cleared by its assignment only
    OFF_DUTY = "off_duty"


class PositionSource(StrEnum):
    APP = "app"  # the officer app's watchPosition
    OSMAND = "osmand"  # a tracker or Traccar Client
    DESK = "desk"  # the duty desk placed the unit (a radio call)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class Position(_Record):
    unit_id: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    at: datetime = Field(description="when the device measured it")
    accuracy_m: float | None = Field(None, ge=0)
    speed_kmh: float | None = Field(None, ge=0)
    bearing: float | None = Field(None, ge=0, le=360)
    battery: float | None = Field(None, ge=0, le=100)
    source: PositionSource


class Unit(_Record):
    id: str = Field(description="32 hex digits")
    callsign: str
    kind: UnitKind
    members: list[str] = Field(description="usernames of its officers")
    availability: Availability
    incident_id: str | None = Field(None, description="the incident of its active assignment")
    assignment_id: str | None = Field(None, description="its active assignment")
    position: Position | None = Field(None, description="the newest position, if any")
    created_at: datetime
    updated_at: datetime


class Tracker(_Record):
    """An OsmAnd device of a unit. Its token is shown once and stored only as a hash."""

    id: str = Field(description="the device identifier it sends as ``id``")
    unit_id: str
    name: str
    created_at: datetime


class AssignmentState(StrEnum):
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    RELEASED = "released"
    TIMED_OUT = "timed_out"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATES


A = AssignmentState
ACTIVE_STATES = (A.DISPATCHED, A.ACCEPTED, A.EN_ROUTE, A.ON_SCENE)


class Step(StrEnum):
    ACCEPT = "accept"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RESOLVE = "resolve"
    RELEASE = "release"
    NEED_BACKUP = "need_backup"
    TIME_OUT = "time_out"  # the hub's own: nobody accepted in time


#: step -> (states it may start from, state it leads to)
STEPS: dict[Step, tuple[tuple[AssignmentState, ...], AssignmentState]] = {
    Step.ACCEPT: ((A.DISPATCHED,), A.ACCEPTED),
    Step.EN_ROUTE: ((A.DISPATCHED, A.ACCEPTED), A.EN_ROUTE),
    Step.ON_SCENE: ((A.DISPATCHED, A.ACCEPTED, A.EN_ROUTE), A.ON_SCENE),
    Step.RESOLVE: (ACTIVE_STATES, A.RESOLVED),
    Step.RELEASE: (ACTIVE_STATES, A.RELEASED),
    Step.TIME_OUT: ((A.DISPATCHED,), A.TIMED_OUT),
    Step.NEED_BACKUP: ((A.ACCEPTED, A.EN_ROUTE, A.ON_SCENE), A.ACCEPTED),  # state kept
}
#: The field that keeps the first time each state was reached; reaching a later one fills
#: the earlier ones still empty (a skipped tap happened no later than the one made).
MILESTONES: dict[AssignmentState, str] = {
    A.ACCEPTED: "accepted_at",
    A.EN_ROUTE: "en_route_at",
    A.ON_SCENE: "on_scene_at",
}
_ORDER = (A.ACCEPTED, A.EN_ROUTE, A.ON_SCENE)


class IllegalStep(ValueError):
    """A step the assignment's state does not allow (HTTP 409)."""


class Assignment(_Record):
    id: str = Field(description="32 hex digits")
    incident_id: str
    unit_id: str
    state: AssignmentState
    dispatched_at: datetime
    accepted_at: datetime | None = None
    en_route_at: datetime | None = None
    on_scene_at: datetime | None = None
    ended_at: datetime | None = Field(None, description="resolved, released or timed out")
    dispatched_by: str
    backup_for: str | None = Field(None, description="the assignment that asked for backup")
    outcome: Outcome | None = None
    note: str | None = None


def apply(
    assignment: Assignment,
    step: Step,
    at: datetime,
    outcome: Outcome | None = None,
    note: str | None = None,
) -> Assignment:
    """The assignment after ``step`` at ``at``; raises :class:`IllegalStep`."""
    sources, target = STEPS[step]
    if assignment.state not in sources:
        allowed = ", ".join(s.value for s in sources)
        raise IllegalStep(
            f"cannot {step.value.replace('_', ' ')}: the assignment is"
            f" {assignment.state.value} (only {allowed} ones can be)"
        )
    if step is Step.NEED_BACKUP:
        return assignment
    if step is Step.RESOLVE and outcome is None:
        raise IllegalStep("resolving needs an outcome: one of " + ", ".join(Outcome))
    changes: dict = {"state": target}
    if target in MILESTONES:
        for state in _ORDER[: _ORDER.index(target) + 1]:
            if getattr(assignment, MILESTONES[state]) is None:
                changes[MILESTONES[state]] = at
    else:
        changes |= {"ended_at": at, "outcome": outcome, "note": note or assignment.note}
    return assignment.model_copy(update=changes)
