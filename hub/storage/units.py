"""The unit and assignment repository interfaces (SQLite: :mod:`hub.storage.sqlite.units`
and :mod:`hub.storage.sqlite.assignments`).

Units carry their trackers and their track of positions; a unit read from storage comes with
its newest position. Assignments are saved with the state they were read in, so two people
stepping one assignment at once cannot both win (:class:`StaleAssignment`).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Protocol

from hub.domain.units import Assignment, AssignmentState, Position, Tracker, Unit


class StaleAssignment(RuntimeError):
    """The assignment changed between reading and saving it (someone else stepped it)."""


class CallsignTaken(ValueError):
    """Another unit has this callsign (HTTP 409)."""


class AssignmentTiming(NamedTuple):
    """One assignment with what the reports group it by: its unit and its incident."""

    assignment: Assignment
    callsign: str
    unit_kind: str
    incident_ref: str
    area: str | None


class UnitRepository(Protocol):
    def create(self, unit: Unit) -> Unit:
        """Raises :class:`CallsignTaken`."""

    def get(self, unit_id: str) -> Unit | None:
        """The unit with its newest position."""

    def all(self) -> list[Unit]:
        """Every unit with its newest position, by callsign."""

    def of_member(self, username: str) -> list[Unit]:
        """The units ``username`` is a member of."""

    def save(self, unit: Unit) -> Unit:
        """Write callsign, kind, members, availability, incident and assignment."""

    def add_tracker(self, tracker: Tracker, token_hash: str) -> None:
        """Raises KeyError if a tracker with that id exists."""

    def tracker(self, tracker_id: str) -> tuple[Tracker, str] | None:
        """The tracker and its token hash."""

    def trackers(self, unit_id: str) -> list[Tracker]: ...

    def add_position(self, position: Position) -> None: ...

    def latest_position(self, unit_id: str) -> Position | None: ...

    def track(self, unit_id: str, since: datetime, until: datetime) -> list[Position]:
        """Positions measured in [since, until), oldest first."""

    def purge_positions(self, before: datetime) -> dict[str, int]:
        """Delete positions measured before ``before``; ``{"positions": n}``."""


class AssignmentRepository(Protocol):
    def create(self, assignment: Assignment) -> Assignment: ...

    def get(self, assignment_id: str) -> Assignment | None: ...

    def save(self, assignment: Assignment, from_state: AssignmentState) -> Assignment:
        """Write it if the stored state is still ``from_state``, else
        :class:`StaleAssignment`."""

    def for_incident(self, incident_id: str) -> list[Assignment]:
        """Oldest dispatched first."""

    def active_for_units(self, unit_ids: list[str]) -> list[Assignment]: ...

    def unaccepted_since(self, dispatched_before: datetime) -> list[Assignment]:
        """Assignments still ``dispatched`` that were dispatched before that time."""

    def timings_between(
        self,
        start: datetime,
        end: datetime,
        *,
        area: str | None = None,
        kind: str | None = None,
        category: str | None = None,
    ) -> list[AssignmentTiming]:
        """Assignments of incidents opened in [start, end) (of that incident area, kind and
        category when given), with unit and incident facts; by incident, then dispatch."""
