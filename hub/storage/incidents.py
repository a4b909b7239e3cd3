"""The incident repository interface (implemented in :mod:`hub.storage.sqlite.incidents`).

An incident row is written by :meth:`IncidentRepository.create` once and then only through
:meth:`IncidentRepository.save`, which also keeps the transition that led to the new state.
Notes and attachments are append-only. Callers that change several rows at once (ingest:
an alert and its incident) wrap the calls in ``storage.transaction()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple, Protocol

from contract.protocol import Severity
from hub.domain.incidents import (
    Attachment,
    Category,
    Incident,
    IncidentState,
    Note,
    Transition,
)


class IdempotencyKeyReused(ValueError):
    """The idempotency key was used before for a different request (HTTP 422)."""


class StaleIncident(RuntimeError):
    """The incident changed state between reading and saving it (someone else acted)."""


@dataclass(frozen=True)
class IncidentQuery:
    """Filters for the incident history; ``None`` matches everything.

    Pages are newest opened first; ``cursor`` is the ``next_cursor`` of the page before.
    """

    state: tuple[IncidentState, ...] | None = None
    category: Category | None = None
    severity: tuple[Severity, ...] | None = None
    area: str | None = None
    kind: str | None = None
    opened_since: datetime | None = None
    opened_before: datetime | None = None
    cursor: str | None = None
    limit: int = 50


class Milestones(NamedTuple):
    """When an incident reached each state for the first time: all the response-time figures
    need, read without the rest of the incident."""

    state: IncidentState
    opened_at: datetime
    acknowledged_at: datetime | None
    dispatched_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    resolved_at: datetime | None


class IncidentRepository(Protocol):
    def next_ref(self, day: date) -> str:
        """The next ``INC-YYYYMMDD-NNNN`` of that day. Call it in the transaction that creates
        the incident: a rolled-back creation gives its number back."""

    def create(
        self,
        incident: Incident,
        idempotency_key: str | None = None,
        *,
        fingerprint: str | None = None,
        correlation_key: str | None = None,
    ) -> Incident:
        """Store a new incident.

        ``idempotency_key`` is scoped to ``incident.opened_by``: with a key that user already
        used, nothing is stored and the incident made then is returned (compare its id with
        yours to tell). The unique index decides between concurrent requests. A different
        ``fingerprint`` (hash of the request) under the same key raises
        :class:`IdempotencyKeyReused`. ``correlation_key`` is what later alerts are matched
        on for maintenance incidents (:meth:`open_maintenance`).
        """

    def replay(self, username: str, key: str, fingerprint: str | None) -> Incident | None:
        """The incident made earlier with that user's key, or None if the key is new. Raises
        :class:`IdempotencyKeyReused` if it was made for another request (``fingerprint``)."""

    def get(self, incident_id: str) -> Incident | None: ...

    def save(self, incident: Incident, transition: Transition | None = None) -> Incident:
        """Write the incident's new fields (and its transition row, id assigned). With a
        transition, the stored state must still be ``transition.from_state``, else
        :class:`StaleIncident` (two officers acting at once: the second one loses)."""

    def open_for_correlation(
        self, area: str, category: Category, since: datetime
    ) -> Incident | None:
        """The newest open incident of that area and category with an alert at or after
        ``since`` (incidents from calls have no alerts and never match)."""

    def open_maintenance(self, correlation_key: str) -> Incident | None:
        """The newest open maintenance incident created with that ``correlation_key``."""

    def find(self, query: IncidentQuery) -> tuple[list[Incident], str | None]:
        """A page of incidents, newest opened first, and the next page's cursor (None on the
        last page). A cursor this repository did not make raises ValueError."""

    def queue(self, limit: int = 200, category: Category | None = None) -> list[Incident]:
        """Open incidents, most severe first, then oldest first (the duty desk's queue)."""

    def unacknowledged(self) -> list[Incident]:
        """Incidents still ``new``, oldest first (escalation looks at these)."""

    def transitions(self, incident_id: str) -> list[Transition]: ...

    def add_note(self, incident_id: str, at: datetime, author: str, text: str) -> Note: ...

    def notes(self, incident_id: str) -> list[Note]: ...

    def add_attachment(
        self,
        incident_id: str,
        at: datetime,
        author: str,
        filename: str,
        content_type: str,
        data: bytes,
    ) -> Attachment:
        """Keep the file (durably, under the data folder) and its row."""

    def attachments(self, incident_id: str) -> list[Attachment]: ...

    def attachment_file(self, incident_id: str, attachment_id: int) -> tuple[Attachment, bytes]:
        """Raises KeyError when there is no such attachment (or its file is gone)."""

    def milestones_between(
        self,
        start: datetime,
        end: datetime,
        *,
        area: str | None = None,
        kind: str | None = None,
        category: Category | None = None,
    ) -> list[Milestones]:
        """The milestones of incidents opened in [start, end), oldest first: what the
        response-time figures are made of."""
