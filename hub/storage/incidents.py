"""The incident repository interface (implemented in :mod:`hub.storage.sqlite.incidents`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from contract.protocol import Severity
from hub.domain.incidents import (
    Attachment,
    Category,
    Incident,
    IncidentState,
    Note,
    Transition,
)


@dataclass(frozen=True)
class IncidentQuery:
    """Filters for the incident queue and history; ``None`` matches everything."""

    state: tuple[IncidentState, ...] | None = None
    category: Category | None = None
    severity: tuple[Severity, ...] | None = None
    area: str | None = None
    kind: str | None = None
    opened_since: datetime | None = None
    opened_before: datetime | None = None
    cursor: str | None = None
    limit: int = 50


class IncidentRepository(Protocol):
    def create(self, incident: Incident, idempotency_key: str | None = None) -> Incident:
        """Store a new incident. With a key already used, returns that incident instead."""

    def get(self, incident_id: str) -> Incident | None: ...

    def save(self, incident: Incident, transition: Transition | None = None) -> Incident:
        """Write the incident's new fields (and its transition row, id assigned)."""

    def open_for_correlation(
        self, area: str, category: Category, since: datetime
    ) -> Incident | None:
        """The newest open incident of that area and category with an alert after ``since``."""

    def find(self, query: IncidentQuery) -> tuple[list[Incident], str | None]:
        """A page of incidents and the next page's cursor."""

    def queue(self, limit: int = 200) -> list[Incident]:
        """Open incidents, most severe first, then oldest first (the duty desk's queue)."""

    def unacknowledged(self) -> list[Incident]:
        """Incidents still ``new`` (escalation looks at these)."""

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
    ) -> Attachment: ...

    def attachments(self, incident_id: str) -> list[Attachment]: ...

    def attachment_file(self, incident_id: str, attachment_id: int) -> tuple[Attachment, bytes]:
        """Raises KeyError when there is no such attachment."""

    def opened_between(self, start: datetime, end: datetime) -> list[Incident]:
        """Incidents opened in [start, end): what the response-time figures are made of."""
