"""A hub's sensor side on a real SQLite file and the real ingest, with a manual clock.

:func:`sensor_rig` builds what :class:`hub.service.HubService` builds for sensors — the
incident service, :class:`hub.sensors.service.SensorHub` and an :class:`hub.ingest.Ingestor`
with the alarm gate as its correlator and the health rules as its heartbeat sink — from the
example site file plus the sensors and ``sensor_settings`` a test gives. Messages go in as
MQTT topic and payload bytes, exactly as the broker hands them to the hub.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from conftest import REPO, SITE
from hub_helpers import make_alert

from contract.protocol import Heartbeat, alert_topic, encode, heartbeat_topic
from contract.siteconfig import SiteConfig
from hub.clock import ManualClock
from hub.domain.incidents import Incident
from hub.events import EventBus, HubEvent
from hub.incidents.service import IncidentService
from hub.ingest import Ingestor, IngestResult
from hub.sensors.service import SensorHub
from hub.storage.incidents import IncidentQuery
from hub.storage.repositories import Storage
from hub.storage.sqlite import open_sqlite_storage
from hub.storage.sqlite.sensors import sensors_for

ROOT = "vw"
#: One node of each kind the rules care about, in the example site's two areas.
SENSORS = [
    {"node": "gate-door", "area": "north-gate", "kind": "door"},
    {"node": "plaza-door", "area": "plaza", "kind": "door"},
    {"node": "plaza-pir", "area": "plaza", "kind": "pir"},
    {"node": "gate-pir", "area": "north-gate", "kind": "pir"},
    {"node": "plaza-panic", "area": "plaza", "kind": "panic_button"},
    {"node": "plaza-smoke", "area": "plaza", "kind": "smoke"},
]


def sensor_site(sensor_settings: dict | None = None) -> SiteConfig:
    """The example site file with :data:`SENSORS` and ``sensor_settings`` (its relative
    paths resolved in the example's folder, as loading it from there would)."""
    raw = yaml.safe_load((REPO / "config" / "site.example.yaml").read_text())
    raw |= {"sensors": SENSORS, "sensor_settings": sensor_settings or {}}
    return SiteConfig.model_validate(raw | {"base_dir": REPO / "config"})


@dataclass
class SensorRig:
    storage: Storage
    bus: EventBus
    clock: ManualClock
    incidents: IncidentService
    sensors: SensorHub
    ingestor: Ingestor
    events: list[HubEvent] = field(default_factory=list)

    def heartbeat(self, node: str, **fields) -> IngestResult:
        """A heartbeat from ``node`` sent now (interval 60 s unless given)."""
        values = {"site": SITE, "node": node, "ts": self.clock(), "interval_s": 60}
        values |= {"uptime_s": 1000.0} | fields
        payload = encode(Heartbeat(**values))
        return self.ingestor.handle(heartbeat_topic(ROOT, SITE, node), payload)

    def alert(self, node: str, kind: str, area: str, **fields) -> IngestResult:
        """An alert of ``kind`` from sensor ``node`` (no camera, no snapshot) sent now."""
        self._seq = getattr(self, "_seq", 0) + 1
        values = dict(kind=kind, area=area, camera=None, zone=None, objects=[])
        values |= dict(has_snapshot=False, frame_size=None, message=f"{kind} at {node}")
        alert = make_alert(node=node, seq=self._seq, ts=self.clock(), **(values | fields))
        return self.ingestor.handle(alert_topic(ROOT, SITE, node), encode(alert))

    def all_incidents(self) -> list[Incident]:
        found, _ = self.storage.incidents.find(IncidentQuery(limit=200))
        return found

    def incidents_of(self, kind: str) -> list[Incident]:
        return [i for i in self.all_incidents() if i.kind == kind]

    def alert_incident(self, alert_id: str | None) -> str | None:
        assert alert_id is not None
        record = self.storage.alerts.get(alert_id)
        assert record is not None
        return record.incident_id

    def advance(self, **delta: float) -> datetime:
        return self.clock.advance(**delta)


def sensor_rig(
    tmp_path: Path, sensor_settings: dict | None = None, start: datetime | None = None
) -> SensorRig:
    config = sensor_site(sensor_settings)
    storage = open_sqlite_storage(tmp_path / "hub")
    bus = EventBus()
    clock = ManualClock(start)
    incidents = IncidentService(storage, bus, clock, config)
    hub = SensorHub(storage, sensors_for(storage), bus, incidents, config, clock)
    ingestor = Ingestor(storage, bus, hub.gate, ROOT, clock, heartbeats=hub.health)
    rig = SensorRig(storage, bus, clock, incidents, hub, ingestor)
    bus.on(rig.events.append)
    return rig


def days(n: float) -> timedelta:
    return timedelta(days=n)
