"""An alert as the hub keeps it, and how officers ask for alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from contract.protocol import Alert, Severity


class AlertRecord(Alert):
    """The wire :class:`~contract.protocol.Alert` plus what the hub learned about it."""

    received_at: datetime = Field(description="when the hub stored it (the hub's own clock)")
    snapshot_ready: bool = Field(False, description="the JPEG has arrived")
    incident_id: str | None = Field(None, description="the incident this alert belongs to")

    @classmethod
    def received(cls, alert: Alert, at: datetime) -> AlertRecord:
        return cls(**alert.model_dump(), received_at=at)


@dataclass(frozen=True)
class AlertQuery:
    """Filters for an alert list; every field left ``None`` matches everything.

    Lists are sorted by *received* time, newest first: a node with a wrong clock cannot push
    real alerts off the list. ``cursor`` is the ``next_cursor`` of the previous page.
    """

    severity: tuple[Severity, ...] | None = None
    kind: str | None = None
    area: str | None = None
    node: str | None = None
    status: tuple[str, ...] | None = None  # the state of the alert's incident
    text: str | None = None  # in the message, kind, zone, area or node
    since: datetime | None = None  # received after
    before: datetime | None = None  # received before
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class AlertPage:
    items: list[AlertRecord]
    next_cursor: str | None  # None on the last page


@dataclass(frozen=True)
class AlertInsert:
    """What storing one alert did."""

    stored: bool  # False: a duplicate of an alert already stored
    record: AlertRecord | None = None
    seq_gap: int = 0  # alerts of this node missing just before this one
    rejected_snapshot_topic: str | None = None  # an earlier snapshot came from another node
