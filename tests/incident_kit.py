"""Shared pieces for the incident tests: real storage on a tmp folder, a manual clock, alerts
stored the way ingest stores them, and the incident service over them."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from hub_helpers import example_config, make_alert

from hub.clock import ManualClock
from hub.domain.alerts import AlertRecord
from hub.domain.incidents import TRANSITIONS, Action, Incident, IncidentState, Location
from hub.events import EventBus, HubEvent
from hub.incidents.requests import NewIncident
from hub.incidents.service import IncidentService
from hub.storage.repositories import Storage
from hub.storage.sqlite import open_sqlite_storage

S = IncidentState
#: How to bring a new incident into each state.
ROUTE_TO: dict[IncidentState, list[Action]] = {
    S.NEW: [],
    S.ACKNOWLEDGED: [Action.ACKNOWLEDGE],
    S.DISPATCHED: [Action.DISPATCH],
    S.EN_ROUTE: [Action.DISPATCH, Action.EN_ROUTE],
    S.ON_SCENE: [Action.DISPATCH, Action.EN_ROUTE, Action.ARRIVE],
    S.RESOLVED: [Action.RESOLVE],
    S.CANCELLED: [Action.CANCEL],
}
#: Every (action, state) pair the state machine allows, and every one it refuses.
LEGAL = [(a, s) for a, (sources, _) in TRANSITIONS.items() for s in sources]
ILLEGAL = [(a, s) for a in Action for s in IncidentState if (a, s) not in LEGAL]


@dataclass
class IncidentDesk:
    """Storage, bus, clock and service of one hub, plus every event published on the bus."""

    storage: Storage
    bus: EventBus
    clock: ManualClock
    service: IncidentService
    events: list[HubEvent] = field(default_factory=list)

    def alert(self, **fields) -> AlertRecord:
        """Store an alert received *now* (the clock) and correlate it, as ingest does."""
        record = self.store_alert(**fields)
        with self.storage.transaction():
            self.service.correlate(record)
        return self.storage.alerts.get(record.id)

    def new_alert(self, **fields) -> AlertRecord:
        """The example plaza camera's intrusion alert (:func:`hub_helpers.make_alert`),
        received *now*, not stored yet."""
        return AlertRecord.received(make_alert(**({"ts": self.clock()} | fields)), self.clock())

    def store_alert(self, **fields) -> AlertRecord:
        """:meth:`new_alert`, stored."""
        alert = make_alert(**({"ts": self.clock()} | fields))
        inserted = self.storage.alerts.insert(alert, self.clock())
        assert inserted.stored and inserted.record is not None
        return inserted.record

    def incident(self, incident_id: str | None) -> Incident:
        assert incident_id is not None, "the alert has no incident"
        found = self.storage.incidents.get(incident_id)
        assert found is not None
        return found

    def call(self, **fields) -> Incident:
        """A phone call taken by officer ana (opened *now*)."""
        incident, created = self.service.open_call(phone_call(**fields), "ana")
        assert created
        return incident


def open_desk(tmp_path: Path, start: datetime | None = None) -> IncidentDesk:
    storage = open_sqlite_storage(tmp_path / "hub")
    bus = EventBus()
    clock = ManualClock(start)
    config = example_config()
    service = IncidentService(storage, bus, clock, config)
    desk = IncidentDesk(storage, bus, clock, service)
    bus.on(desk.events.append)
    return desk


def phone_call(**fields) -> NewIncident:
    values = dict(
        source="call",
        kind="burglary",
        severity="major",
        title="Break-in reported at the kiosk",
        caller={"name": "Ibu Sari", "phone": "+62 812 5550 1234"},
        location=Location(area="plaza"),
    )
    values.update(fields)
    return NewIncident.model_validate(values)


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, tiny grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    """A real 8x8 grey JPEG, made by OpenCV."""
    ok, buf = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()
