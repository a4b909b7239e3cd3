"""Incidents the hub opens by itself about a sensor, with no alert behind them.

A node that stops sending heartbeats cannot send an alert saying so, and a low battery or a
door open for three days is something the hub *works out*. These open incidents keyed like
a node's own maintenance alerts (``site/node/-/kind``, :func:`hub.incidents.service.
maintenance_key`), so one trouble is one incident however often it is seen, and a node's own
``node_offline`` alert would join the same one. :meth:`HubIncidents.resolve` closes it as
handled when the trouble is gone (the heartbeat is back, a new battery).
"""

from __future__ import annotations

import uuid
from datetime import datetime, tzinfo

from contract.protocol import Severity
from hub.domain.incidents import (
    SYSTEM_ACTOR,
    Action,
    Category,
    Incident,
    IncidentState,
    Location,
    Outcome,
    Source,
    Transition,
    apply,
)
from hub.events import HubEvent, IncidentChanged
from hub.storage.repositories import Storage


def trouble_key(site: str, node: str, kind: str) -> str:
    """The correlation key of a node's trouble (no camera: ``-``)."""
    return f"{site}/{node}/-/{kind}"


class HubIncidents:
    """Open and resolve keyed incidents inside the caller's transaction; each call returns
    the events to publish after its commit (empty when nothing changed)."""

    def __init__(self, storage: Storage, timezone: tzinfo) -> None:
        self.storage = storage
        self.repo = storage.incidents
        self.timezone = timezone

    def is_open(self, key: str) -> bool:
        return self.repo.open_maintenance(key) is not None

    def open(
        self,
        key: str,
        at: datetime,
        *,
        category: Category,
        kind: str,
        severity: Severity,
        title: str,
        area: str | None,
    ) -> list[HubEvent]:
        """Open the incident of ``key`` unless one is open already."""
        if self.is_open(key):
            return []
        incident = Incident(
            id=uuid.uuid4().hex,
            ref=self.repo.next_ref(at.astimezone(self.timezone).date()),
            category=category,
            source=Source.ALERTS,
            state=IncidentState.NEW,
            severity=severity,
            kind=kind,
            title=title[:120],
            location=Location(area=area),
            opened_at=at,
            updated_at=at,
        )
        stored = self.repo.create(incident, correlation_key=key)
        return [IncidentChanged(incident=stored, change="opened")]

    def resolve(self, key: str, at: datetime, note: str) -> list[HubEvent]:
        """Resolve the open incident of ``key`` (handled, by the system), if there is one."""
        current = self.repo.open_maintenance(key)
        if current is None:
            return []
        resolved = apply(current, Action.RESOLVE, max(at, current.updated_at), Outcome.HANDLED)
        transition = Transition(
            id=0,
            incident_id=current.id,
            action=Action.RESOLVE,
            from_state=current.state,
            to_state=resolved.state,
            at=resolved.updated_at,
            actor=SYSTEM_ACTOR,
            note=note,
            outcome=Outcome.HANDLED,
        )
        saved = self.repo.save(resolved, transition)
        return [IncidentChanged(incident=saved, change="resolved")]
