"""How records are shown through the API: the domain records plus links, nothing copied."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from hub.domain.alerts import AlertRecord
from hub.events import (
    AlertStored,
    AssignmentChanged,
    DispatchTimeout,
    HubEvent,
    IncidentChanged,
    NodeChanged,
    SnapshotArrived,
    UnitChanged,
)

T = TypeVar("T")


class AlertView(AlertRecord):
    snapshot_url: str | None = Field(None, description="set once the snapshot has arrived")


def snapshot_url(alert_id: str) -> str:
    return f"/api/alerts/{alert_id}/snapshot"


def alert_view(record: AlertRecord) -> AlertView:
    url = snapshot_url(record.id) if record.snapshot_ready else None
    return AlertView(**record.model_dump(), snapshot_url=url)


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None = Field(None, description="null on the last page")


def event_data(event: HubEvent) -> dict:
    """The JSON an event carries on the live feed."""
    if isinstance(event, AlertStored):
        return alert_view(event.alert).model_dump(mode="json")
    if isinstance(event, SnapshotArrived):
        return {"alert_id": event.alert_id, "snapshot_url": snapshot_url(event.alert_id)}
    if isinstance(event, NodeChanged):
        return event.node.model_dump(mode="json")
    if isinstance(event, IncidentChanged):
        return {"incident": event.incident.model_dump(mode="json"), "change": event.change}
    if isinstance(event, UnitChanged | AssignmentChanged | DispatchTimeout):
        return event.model_dump(mode="json")
    return {}
