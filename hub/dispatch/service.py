"""Sending units: suggestions, dispatch, the steps of an assignment, and accept time-outs.

The incident follows its units, through :meth:`IncidentService.act` (so every change is a
transition with its actor, like an officer's):

* the first unit dispatched makes a ``new``/``acknowledged`` incident ``dispatched``;
* the first unit en route makes it ``en_route``; the **first unit on scene** is its arrival;
* a unit resolving (with an outcome) resolves the incident, and resolving or cancelling the
  incident, from a unit or the duty desk, ends every active assignment on it;
* a unit released, or timed out, puts the incident back to ``acknowledged`` when no other
  unit is still on it; the duty desk releasing the incident releases every unit.

A unit is ``busy`` from its dispatch until its assignment ends. Taps carry the time they
were made (a phone offline in a tunnel sends them later): that time is kept, bounded to not
after now and not before the dispatch, and never earlier than the assignment's last step.

A unit that has not accepted within ``accept_timeout_s`` is passed
(:meth:`DispatchService.expire_unaccepted`, run every second by :class:`AcceptTimeoutWorker`):
its assignment is ``timed_out``, the unit is free, the duty desk is told
(:class:`~hub.events.DispatchTimeout`), and that unit is no longer suggested for that incident.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from contract.place_settings import LatLon
from hub.dispatch.errors import (
    AssignmentNotFound,
    DispatchConflict,
    InvalidDispatch,
    NotYourUnit,
)
from hub.dispatch.fleet import Fleet
from hub.dispatch.positions import CLOCK_TOLERANCE
from hub.dispatch.ranking import Suggestion, rank
from hub.domain.incidents import SYSTEM_ACTOR, Action, Incident, IncidentState, Outcome
from hub.domain.units import (
    Assignment,
    AssignmentState,
    Availability,
    IllegalStep,
    Step,
    Unit,
    apply,
)
from hub.domain.users import Role, User
from hub.events import (
    AssignmentChanged,
    DispatchTimeout,
    HubEvent,
    IncidentChanged,
    UnitChanged,
)
from hub.incidents.errors import IllegalTransition
from hub.incidents.service import IncidentService
from hub.periodic import PeriodicWorker
from hub.storage.units import StaleAssignment

log = logging.getLogger(__name__)

S = IncidentState
_MOVING = (S.DISPATCHED, S.EN_ROUTE, S.ON_SCENE)
#: What a unit's step does to its incident: (states it applies in, action).
_INCIDENT_FOLLOWS = {
    Step.EN_ROUTE: ((S.DISPATCHED,), Action.EN_ROUTE),
    Step.ON_SCENE: ((S.DISPATCHED, S.EN_ROUTE), Action.ARRIVE),
}


class DispatchService(Fleet):
    """Units and positions (:class:`Fleet`) plus sending them (see the module docstring)."""

    def __init__(self, storage, bus, incidents: IncidentService, config=None, clock=None):
        super().__init__(storage, bus, config, clock or incidents.clock)
        self.incidents = incidents
        self.areas = {a.id: a.position for a in config.areas} if config else {}
        bus.on(self._on_event)

    # --- suggesting ------------------------------------------------------------------------

    def target(self, incident: Incident) -> LatLon | None:
        """Where to send units: the incident's own point, else its area's configured middle."""
        location = incident.location
        if location.lat is not None and location.lon is not None:
            return LatLon(lat=location.lat, lon=location.lon)
        return self.areas.get(location.area) if location.area else None

    def suggest(self, incident_id: str) -> list[Suggestion]:
        """Available units, quickest first; a unit that timed out on it is not suggested."""
        incident = self.incidents.get(incident_id)
        passed = {
            a.unit_id
            for a in self.storage.assignments.for_incident(incident_id)
            if a.state is AssignmentState.TIMED_OUT
        }
        return rank(self.units(), self.target(incident), self.settings, self.clock(), passed)

    # --- reading ---------------------------------------------------------------------------

    def assignment(self, assignment_id: str) -> Assignment:
        found = self.storage.assignments.get(assignment_id)
        if found is None:
            raise AssignmentNotFound(f"no assignment {assignment_id}")
        return found

    def for_incident(self, incident_id: str) -> list[Assignment]:
        self.incidents.get(incident_id)
        return self.storage.assignments.for_incident(incident_id)

    def mine(self, username: str) -> list[tuple[Assignment, Unit]]:
        """The active assignments of the units ``username`` is in."""
        units = {u.id: u for u in self.units_of(username)}
        active = self.storage.assignments.active_for_units(list(units))
        return [(a, units[a.unit_id]) for a in active]

    # --- dispatching -----------------------------------------------------------------------

    def dispatch(
        self, incident_id: str, unit_id: str, by: str, backup_for: str | None = None
    ) -> Assignment:
        """Send an available unit to an open incident (any number of units per incident)."""
        with self.storage.transaction():
            incident = self.incidents.get(incident_id)
            if not incident.state.is_open:
                raise DispatchConflict(f"incident {incident.ref} is {incident.state.value}")
            unit = self.unit(unit_id)
            if unit.availability is not Availability.AVAILABLE:
                raise DispatchConflict(f"{unit.callsign} is {unit.availability.value}")
            now = self.clock()
            assignment = self.storage.assignments.create(
                Assignment(
                    id=uuid.uuid4().hex,
                    incident_id=incident_id,
                    unit_id=unit_id,
                    state=AssignmentState.DISPATCHED,
                    dispatched_at=now,
                    dispatched_by=by,
                    backup_for=backup_for,
                )
            )
            busy = self._set_unit(unit, Availability.BUSY, assignment)
            if incident.state in (S.NEW, S.ACKNOWLEDGED):
                note = f"{unit.callsign} dispatched"
                self.incidents.act(incident_id, Action.DISPATCH, by, note, at=now)
        self.bus.publish(
            AssignmentChanged(assignment=assignment, change="dispatched", callsign=unit.callsign)
        )
        self.bus.publish(UnitChanged(unit=busy, change="busy"))
        return assignment

    def step(
        self,
        assignment_id: str,
        step: Step,
        who: User,
        at: datetime | None = None,
        outcome: Outcome | None = None,
        note: str | None = None,
    ) -> Assignment:
        """A unit's tap (or the duty desk's on its behalf). Patrols step only their own
        unit's assignments; officers and above any. ``need_backup`` returns the new
        assignment of the unit sent as backup."""
        current = self.assignment(assignment_id)
        unit = self.unit(current.unit_id)
        if not who.role.includes(Role.OFFICER) and who.username not in unit.members:
            raise NotYourUnit(f"this is {unit.callsign}'s assignment, not your unit's")
        if step is Step.TIME_OUT:
            raise InvalidDispatch("time_out is the hub's to make")
        when = self._tap_time(at, current)
        if step is Step.NEED_BACKUP:
            return self._backup(current, who.username)
        return self._advance(current, unit, step, who.username, when, outcome, note)

    def _tap_time(self, at: datetime | None, current: Assignment) -> datetime:
        now = self.clock()
        if at is None:
            return now
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        if at > now + CLOCK_TOLERANCE:
            raise InvalidDispatch(f"at {at.isoformat()} is in the future")
        if at < current.dispatched_at:
            raise InvalidDispatch("at is before the unit was dispatched")
        steps = [current.accepted_at, current.en_route_at, current.on_scene_at]
        return max([min(at, now), *(t for t in steps if t is not None)])

    def _backup(self, current: Assignment, by: str) -> Assignment:
        if not current.state.is_active or current.state is AssignmentState.DISPATCHED:
            raise DispatchConflict("accept the assignment before asking for backup")
        on_it = {a.unit_id for a in self.storage.assignments.for_incident(current.incident_id)}
        ranked = [s for s in self.suggest(current.incident_id) if s.unit.id not in on_it]
        if not ranked:
            raise DispatchConflict("no unit is available for backup: call the duty desk")
        return self.dispatch(current.incident_id, ranked[0].unit.id, by, backup_for=current.id)

    def _advance(
        self,
        current: Assignment,
        unit: Unit,
        step: Step,
        actor: str,
        when: datetime,
        outcome: Outcome | None = None,
        note: str | None = None,
    ) -> Assignment:
        try:
            changed = apply(current, step, when, outcome, note)
        except IllegalStep as exc:
            raise DispatchConflict(str(exc)) from None
        with self.storage.transaction():
            try:
                self.storage.assignments.save(changed, current.state)
            except StaleAssignment as exc:
                raise DispatchConflict(str(exc)) from None
            freed = None
            if not changed.state.is_active:
                freed = self._set_unit(unit, Availability.AVAILABLE, None)
            self._incident_follows(changed, step, actor, when, outcome, note, unit)
        self.bus.publish(
            AssignmentChanged(assignment=changed, change=step.value, callsign=unit.callsign)
        )
        if freed is not None:
            self.bus.publish(UnitChanged(unit=freed, change="available"))
        return changed

    def _incident_follows(self, changed, step, actor, when, outcome, note, unit) -> None:
        incident = self.incidents.get(changed.incident_id)
        action = None
        if step in _INCIDENT_FOLLOWS:
            states, follow = _INCIDENT_FOLLOWS[step]
            action = follow if incident.state in states else None
        elif step is Step.RESOLVE and incident.state.is_open:
            action = Action.RESOLVE
        elif step in (Step.RELEASE, Step.TIME_OUT) and incident.state in _MOVING:
            others = self.storage.assignments.for_incident(changed.incident_id)
            if not any(a.state.is_active for a in others):
                action, outcome = Action.RELEASE, None
        if action is None:
            return
        text = note if action is Action.RESOLVE else f"{unit.callsign}: {step.value}"
        self.incidents.act(changed.incident_id, action, actor, text, outcome, at=when)

    def _set_unit(self, unit: Unit, availability: Availability, assignment) -> Unit:
        return self.storage.units.save(
            unit.model_copy(
                update={
                    "availability": availability,
                    "incident_id": assignment.incident_id if assignment else None,
                    "assignment_id": assignment.id if assignment else None,
                    "updated_at": self.clock(),
                }
            )
        )

    # --- the incident moved by someone else ------------------------------------------------

    def _on_event(self, event: HubEvent) -> None:
        """The duty desk resolved, cancelled or released an incident: its units follow."""
        if not isinstance(event, IncidentChanged):
            return
        incident = event.incident
        if incident.state.is_open and event.change != Action.RELEASE.value:
            return
        step = Step.RESOLVE if incident.state is S.RESOLVED else Step.RELEASE
        for active in self.storage.assignments.for_incident(incident.id):
            if not active.state.is_active:
                continue
            try:
                self._advance(
                    active,
                    self.unit(active.unit_id),
                    step,
                    SYSTEM_ACTOR,
                    max(self.clock(), active.dispatched_at),
                    incident.outcome or Outcome.HANDLED if step is Step.RESOLVE else None,
                    f"incident {incident.state.value}",
                )
            except (DispatchConflict, IllegalTransition):
                log.info("assignment %s ended meanwhile", active.id)

    # --- accept time-outs ------------------------------------------------------------------

    def expire_unaccepted(self) -> list[Assignment]:
        """Pass every unit that has not accepted within ``accept_timeout_s``."""
        now = self.clock()
        limit = now - timedelta(seconds=self.settings.accept_timeout_s)
        passed = []
        for overdue in self.storage.assignments.unaccepted_since(limit):
            unit = self.unit(overdue.unit_id)
            try:
                done = self._advance(overdue, unit, Step.TIME_OUT, SYSTEM_ACTOR, now)
            except DispatchConflict:
                continue  # accepted in the meantime
            detail = f"{unit.callsign} did not accept within {self.settings.accept_timeout_s:g} s"
            self.storage.audit.record(now, None, "assignment.timed_out", done.incident_id, detail)
            log.warning("dispatch time-out: %s", detail)
            self.bus.publish(DispatchTimeout(assignment=done, callsign=unit.callsign))
            passed.append(done)
        return passed


class AcceptTimeoutWorker(PeriodicWorker):
    """Runs :meth:`DispatchService.expire_unaccepted` every ``interval_s`` on its own thread;
    tests call :meth:`tick` on a ManualClock instead of starting it."""

    def __init__(self, service: DispatchService, interval_s: float = 1.0) -> None:
        super().__init__("hub-dispatch-timeouts", self.tick, interval_s)
        self.service = service

    def tick(self) -> list[Assignment]:
        return self.service.expire_unaccepted()
