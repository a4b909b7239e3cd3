"""Incidents: what officers work on, with a 110-style lifecycle.

An incident gathers the alerts of one event (a camera intrusion and a door alert in the same
area), or comes from a phone call or another system. It moves through::

    new → acknowledged → dispatched → en_route → on_scene → resolved
      (any open state) → cancelled          resolved / cancelled → (reopen) acknowledged

:func:`apply` is the whole state machine: it says what an action does to an incident or
raises :class:`IllegalTransition` with a message an officer can read. Every transition is
kept (:class:`Transition`: who, when, an optional note), and the times of the first
acknowledge, dispatch, en route, arrival and resolution are kept on the incident for the
response-time figures (NFORS segments).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contract.protocol import Severity

#: Who the hub itself is in a transition's ``actor`` (auto-resolve, escalation).
SYSTEM_ACTOR = "system"
#: Severity as a number, 0 = critical … 4 = info (the queue is read in this order).
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}


def most_severe(*severities: Severity) -> Severity:
    return min(severities, key=SEVERITY_RANK.__getitem__)


class IncidentState(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in (IncidentState.RESOLVED, IncidentState.CANCELLED)


OPEN_STATES = tuple(s for s in IncidentState if s.is_open)


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    DISPATCH = "dispatch"
    EN_ROUTE = "en_route"
    ARRIVE = "arrive"
    RELEASE = "release"  # the unit is released and the incident waits for another
    RESOLVE = "resolve"
    CANCEL = "cancel"
    REOPEN = "reopen"


class Outcome(StrEnum):
    """How an incident ended; resolving needs one."""

    ARREST = "arrest"
    HANDLED = "handled"
    FALSE_ALARM = "false_alarm"
    NO_TRACE = "no_trace"
    DUPLICATE = "duplicate"


class Category(StrEnum):
    SECURITY = "security"  # people and property: the duty desk's queue
    MAINTENANCE = "maintenance"  # a camera offline, covered or moved; a sensor's battery


class Source(StrEnum):
    ALERTS = "alerts"  # opened by the hub from node alerts
    CALL = "call"  # the duty desk took a phone call (110)
    EXTERNAL = "external"  # another system through the API


S = IncidentState
#: action -> (states it may start from, state it leads to)
TRANSITIONS: dict[Action, tuple[tuple[IncidentState, ...], IncidentState]] = {
    Action.ACKNOWLEDGE: ((S.NEW,), S.ACKNOWLEDGED),
    Action.DISPATCH: ((S.NEW, S.ACKNOWLEDGED), S.DISPATCHED),
    Action.EN_ROUTE: ((S.DISPATCHED,), S.EN_ROUTE),
    Action.ARRIVE: ((S.DISPATCHED, S.EN_ROUTE), S.ON_SCENE),
    Action.RELEASE: ((S.DISPATCHED, S.EN_ROUTE, S.ON_SCENE), S.ACKNOWLEDGED),
    Action.RESOLVE: (OPEN_STATES, S.RESOLVED),
    Action.CANCEL: (OPEN_STATES, S.CANCELLED),
    Action.REOPEN: ((S.RESOLVED, S.CANCELLED), S.ACKNOWLEDGED),
}
#: The incident field that keeps the *first* time each state was reached.
MILESTONES: dict[IncidentState, str] = {
    S.ACKNOWLEDGED: "acknowledged_at",
    S.DISPATCHED: "dispatched_at",
    S.EN_ROUTE: "en_route_at",
    S.ON_SCENE: "on_scene_at",
    S.RESOLVED: "resolved_at",
    S.CANCELLED: "resolved_at",
}


class IllegalTransition(ValueError):
    """An action that the incident's state does not allow (HTTP 409)."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class Location(_Record):
    """Where: an area of the site, a point (WGS84), an address, or several of these."""

    area: str | None = Field(None, max_length=64)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = Field(None, max_length=200)


class Caller(_Record):
    name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=32, pattern=r"^[0-9+() .-]{3,32}$")


class Incident(_Record):
    id: str = Field(description="32 hex digits")
    ref: str = Field(description="short reference for people: INC-20261202-0007")
    category: Category
    source: Source
    state: IncidentState
    severity: Severity
    kind: str = Field(description="what happened: the first alert's kind, or the call's")
    title: str
    location: Location
    caller: Caller | None = None
    external_ref: str | None = Field(None, description="the other system's reference")
    opened_at: datetime
    updated_at: datetime
    last_alert_at: datetime | None = None
    alert_count: int = 0
    acknowledged_at: datetime | None = None
    dispatched_at: datetime | None = None
    en_route_at: datetime | None = None
    on_scene_at: datetime | None = None
    resolved_at: datetime | None = None
    outcome: Outcome | None = None
    escalation_tier: int = Field(0, description="0: duty desk; 1, 2 ...: tiers notified since")
    escalated_at: datetime | None = None
    opened_by: str = SYSTEM_ACTOR


class Transition(_Record):
    id: int
    incident_id: str
    action: Action
    from_state: IncidentState
    to_state: IncidentState
    at: datetime
    actor: str
    note: str | None = None
    outcome: Outcome | None = None


class Note(_Record):
    id: int
    incident_id: str
    at: datetime
    author: str
    text: str


class Attachment(_Record):
    id: int
    incident_id: str
    at: datetime
    author: str
    filename: str
    content_type: str
    size: int


def apply(
    incident: Incident, action: Action, at: datetime, outcome: Outcome | None = None
) -> Incident:
    """The incident after ``action`` at ``at``; raises :class:`IllegalTransition`."""
    sources, target = TRANSITIONS[action]
    if incident.state not in sources:
        allowed = ", ".join(s.value for s in sources)
        raise IllegalTransition(
            f"cannot {action.value} incident {incident.ref}: it is {incident.state.value}"
            f" (only {allowed} incidents can be)"
        )
    if action is Action.RESOLVE and outcome is None:
        outcome_list = ", ".join(o.value for o in Outcome)
        raise IllegalTransition(f"resolving needs an outcome: one of {outcome_list}")
    changes: dict = {"state": target, "updated_at": at}
    if action is Action.REOPEN:
        changes |= {"resolved_at": None, "outcome": None}
    elif action is Action.RESOLVE:
        changes["outcome"] = outcome
    milestone = MILESTONES.get(target)
    if milestone and getattr(incident, milestone) is None:
        changes[milestone] = at
    if target is not S.ACKNOWLEDGED and incident.acknowledged_at is None and target.is_open:
        changes["acknowledged_at"] = at  # dispatching straight away acknowledges too
    return incident.model_copy(update=changes)
