"""The sensor side of the hub, built from the site file: what :class:`hub.service.
HubService` wires in.

* :attr:`SensorHub.health` is ingest's heartbeat sink;
* :attr:`SensorHub.gate` is ingest's correlator (it hands what alarms to the incident
  service);
* :attr:`SensorHub.workers` are the offline timer (:attr:`SensorHub.watch`) and the
  schedule's audit (:attr:`SensorHub.schedule`), among the hub's workers;
* :attr:`SensorHub.arming` answers the API's arm/disarm.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from contract.siteconfig import SiteConfig
from hub.clock import Clock
from hub.events import EventBus
from hub.incidents.service import IncidentService
from hub.retention import Lifetimes
from hub.sensors.arming import ArmingBoard, ScheduleWatch
from hub.sensors.gate import AlarmGate
from hub.sensors.health import OfflineWatch, Placement, SensorHealth
from hub.sensors.incidents import HubIncidents
from hub.storage.repositories import Storage
from hub.storage.sensors import SensorRepository


class SensorHub:
    """Health, arming and the alarm gate for one site."""

    def __init__(
        self,
        storage: Storage,
        sensors: SensorRepository,
        bus: EventBus,
        incidents: IncidentService,
        config: SiteConfig,
        clock: Clock,
    ) -> None:
        settings = config.sensor_settings
        timezone = ZoneInfo(config.site.timezone)
        placements = {s.node: Placement(s.kind, s.area) for s in config.sensors}
        self.health = SensorHealth(
            storage, sensors, HubIncidents(storage, timezone), settings.health, placements, clock
        )
        self.arming = ArmingBoard(storage, sensors, settings.arming, config.areas, timezone, clock)
        self.gate = AlarmGate(incidents, self.arming, settings.confirm)
        self.watch = OfflineWatch(self.health, bus, settings.health)
        self.schedule = ScheduleWatch(self.arming)
        self.workers = [self.watch, self.schedule]
        self._sensors = sensors

    def purge(self, lifetimes: Lifetimes, now: datetime) -> dict[str, int]:
        """Retention (:class:`hub.retention.RetentionWorker`): heartbeats and battery
        readings live as long as node history (``hub.retention.node_history_days``)."""
        return self._sensors.purge(now - timedelta(days=lifetimes.node_history))
