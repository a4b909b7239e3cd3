"""What ingest hands stored messages to: the incident correlator, the sensor heartbeat keeper
and the sink of alerts that are not ordinary alarms (watchlists). :class:`hub.ingest.Ingestor`
depends on these protocols only, so each part plugs in without ingest knowing it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from contract.protocol import Alert, Heartbeat
from hub.domain.alerts import AlertRecord
from hub.domain.incidents import Incident
from hub.events import HubEvent


class Correlator(Protocol):
    """Files new alerts under incidents (:class:`hub.incidents.service.IncidentService`)."""

    def correlate(self, alert: AlertRecord) -> tuple[Incident, str] | None:
        """The incident this just-stored alert belongs to and what changed, with the stored
        alert linked to it (inside the caller's transaction), or None when it belongs to
        none."""

    def correlate_many(self, alerts: Sequence[AlertRecord]) -> list[tuple[Incident, str] | None]:
        """:meth:`correlate` for a batch's alerts *before* they are stored, in order (each
        incident the batch touches as it stands after the whole batch); the caller stores
        each alert with its incident's id, so nothing is linked here."""


class HeartbeatSink(Protocol):
    """Keeps sensor heartbeats (:class:`hub.sensors.health.SensorHealth`)."""

    def record(self, heartbeat: Heartbeat, received_at: datetime) -> list[HubEvent]:
        """Keep one heartbeat inside the caller's transaction; returns the events to publish
        after the commit (a health incident opened or resolved)."""


class AlertSink(Protocol):
    """Alerts that are not ordinary alarms (:class:`hub.watchlist.ingest.WatchlistSink`).

    ``kinds`` are kept by the sink instead of the alerts table (:meth:`take`, inside the
    batch's transaction; a :class:`ProtocolError` it raises quarantines the alert with that
    reason). ``quiet`` kinds are stored as alerts but not announced (no ``alert`` event, so
    no chime): face-match candidates, which wait for two officers."""

    kinds: frozenset[str]
    quiet: frozenset[str]

    def take(self, alert: Alert, received_at: datetime) -> None: ...
