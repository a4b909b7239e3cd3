"""Sensor health from heartbeats: offline, low battery, stuck, tampered.

Every heartbeat (:class:`contract.protocol.Heartbeat`) is kept as its node's latest, its
battery voltage joins the node's history, and four rules are checked:

* **offline** — no heartbeat for ``missed_heartbeats`` intervals (the node's own
  ``interval_s``). Checked by a timer on the hub's clock (:class:`OfflineWatch`), *not* by
  the broker's last will: a node whose radio fades out, or a broker that restarts and
  forgets the session, never delivers one. The next heartbeat resolves it.
* **low battery** — charge at or below ``low_battery_pct``, voltage at or below
  ``low_battery_v``, or a voltage trend that reaches the cut-off within ``warn_days_left``
  days (:func:`hub.sensors.battery.days_left`). Resolved when the battery is replaced (a
  reading jumps up) or the trend is comfortably clear again (twice the warning), so an
  estimate near the threshold does not open and close incidents all day.
* **stuck** — a sensor of a kind in ``stuck`` reporting one state too long (``state`` and
  ``state_since`` of its heartbeat): a door contact open for three days. Resolved when the
  state changes.
* **tamper** — the enclosure switch opened (``tamper`` turned true): a *security* incident,
  someone is at the box; officers close it.

The first three are maintenance incidents (:class:`hub.sensors.incidents.HubIncidents`).
Each trouble is reported once per episode and remembered with the node's heartbeat
(``troubles``): an officer who closes the incident of a node still silent is not sent a new
one on the next check; the trouble ending and coming back is a new episode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel

from contract.protocol import Heartbeat, Severity
from contract.sensor_settings import SensorHealthSettings
from hub.clock import Clock
from hub.domain.incidents import Category
from hub.events import EventBus, HubEvent
from hub.periodic import PeriodicWorker
from hub.sensors.battery import days_left, replaced
from hub.sensors.incidents import HubIncidents, trouble_key
from hub.storage.repositories import Storage
from hub.storage.sensors import BatteryReading, HeartbeatRecord, SensorRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """What the site file says about a sensor node: its kind and area."""

    kind: str | None
    area: str | None


class SensorHealthRow(BaseModel):
    """One node's health, as the officer page lists it."""

    site: str
    node: str
    kind: str | None
    area: str | None
    last_heartbeat: datetime
    interval_s: int
    offline: bool
    battery_v: float | None
    battery_pct: float | None
    days_left: float | None
    rssi_dbm: int | None
    temperature_c: float | None
    tamper: bool
    state: str | None
    state_since: datetime | None
    stuck: bool
    queued: int


class SensorHealth:
    """Keeps heartbeats and opens/resolves health incidents (the ingest's heartbeat sink)."""

    def __init__(
        self,
        storage: Storage,
        sensors: SensorRepository,
        incidents: HubIncidents,
        settings: SensorHealthSettings,
        placements: dict[str, Placement],
        clock: Clock,
    ) -> None:
        self.storage = storage
        self.sensors = sensors
        self.incidents = incidents
        self.settings = settings
        self.placements = placements
        self.clock = clock
        self._stuck_after = {(r.kind, r.state): timedelta(hours=r.after_h) for r in settings.stuck}

    # --- per heartbeat (ingest's transaction) ----------------------------------------------

    def record(self, heartbeat: Heartbeat, received_at: datetime) -> list[HubEvent]:
        """Keep ``heartbeat`` and apply the rules; the events to publish after the commit."""
        site, node, at = heartbeat.site, heartbeat.node, received_at
        with self.storage.transaction():
            before = self.sensors.record_heartbeat(heartbeat, received_at)
            reported = frozenset(before.troubles) if before else frozenset()
            troubles = set(reported)
            events = self._clear(heartbeat, at, troubles, "node_offline", "heartbeat again")
            events += self._battery(heartbeat, at, troubles)
            if self.stuck(heartbeat, at):
                what = f"{heartbeat.state} since {heartbeat.state_since:%Y-%m-%d %H:%M} UTC"
                events += self._raise(heartbeat, at, troubles, "sensor_stuck", f"stuck: {what}")
            else:
                note = f"state is {heartbeat.state} now"
                events += self._clear(heartbeat, at, troubles, "sensor_stuck", note)
            if heartbeat.tamper:
                events += self._raise(heartbeat, at, troubles, "tamper", "enclosure opened")
            else:  # closed again; the security incident is the officers' to close
                troubles.discard("tamper")
            if troubles != reported:
                self.sensors.set_troubles(site, node, frozenset(troubles))
        return events

    def _battery(self, heartbeat: Heartbeat, now: datetime, troubles: set[str]) -> list[HubEvent]:
        site, node, s = heartbeat.site, heartbeat.node, self.settings
        days = None
        if heartbeat.battery_v is not None:
            history = self.sensors.battery_history(site, node)
            if history and replaced(history[-1].volts, heartbeat.battery_v):
                log.info("battery of %s/%s replaced: its history starts again", site, node)
                self.sensors.clear_battery(site, node)
                history = []
            keep_after = now - timedelta(days=s.history_days)
            reading = BatteryReading(now, heartbeat.battery_v)
            self.sensors.add_battery(site, node, reading, keep_after, s.history_max)
            # What the store now keeps, without reading it back (one read per heartbeat).
            kept = [r for r in history if r.at >= keep_after] + [reading]
            days = self._trend(kept[-s.history_max :], now)
        low = [
            heartbeat.battery_pct is not None and heartbeat.battery_pct <= s.low_battery_pct,
            s.low_battery_v is not None
            and heartbeat.battery_v is not None
            and heartbeat.battery_v <= s.low_battery_v,
            days is not None and days <= s.warn_days_left,
        ]
        if any(low):
            left = f", about {days:.0f} days left" if days is not None else ""
            return self._raise(heartbeat, now, troubles, "battery_low", f"battery low{left}")
        if days is None or days > 2 * s.warn_days_left:
            return self._clear(heartbeat, now, troubles, "battery_low", "battery fine again")
        return []

    def _raise(
        self, heartbeat: Heartbeat, at: datetime, troubles: set[str], kind: str, what: str
    ) -> list[HubEvent]:
        """Report a trouble once per episode: an officer who closes the incident of a node
        that is still low, stuck or silent is not sent a new one on its next heartbeat."""
        if kind in troubles:
            return []
        troubles.add(kind)
        return self._open(heartbeat, at, kind, what)

    def _clear(
        self, heartbeat: Heartbeat, at: datetime, troubles: set[str], kind: str, note: str
    ) -> list[HubEvent]:
        """End a trouble's episode, resolving its incident if still open."""
        if kind not in troubles:
            return []
        troubles.discard(kind)
        return self.incidents.resolve(trouble_key(heartbeat.site, heartbeat.node, kind), at, note)

    def stuck(self, heartbeat: Heartbeat, now: datetime) -> bool:
        """Has the sensor been in its state longer than its kind's rule allows?"""
        kind = self.placements.get(heartbeat.node, Placement(None, None)).kind
        after = self._stuck_after.get((kind or "", heartbeat.state or ""))
        since = heartbeat.state_since
        return after is not None and since is not None and now - since >= after

    def _open(self, heartbeat: Heartbeat, at: datetime, kind: str, what: str) -> list[HubEvent]:
        site, node = heartbeat.site, heartbeat.node
        security = kind == "tamper"
        log.warning("sensor %s/%s: %s", site, node, what)
        return self.incidents.open(
            trouble_key(site, node, kind),
            at,
            category=Category.SECURITY if security else Category.MAINTENANCE,
            kind=kind,
            severity=Severity.MAJOR if security else Severity.MINOR,
            title=f"{node}: {what}",
            area=self.placements.get(node, Placement(None, None)).area,
        )

    # --- on the timer ----------------------------------------------------------------------

    def offline_at(self, record: HeartbeatRecord) -> datetime:
        """When a node whose last heartbeat is ``record`` counts as offline."""
        missed = self.settings.missed_heartbeats * record.heartbeat.interval_s
        return record.received_at + timedelta(seconds=missed)

    def check_offline(self) -> tuple[list[HubEvent], datetime | None]:
        """Open an offline incident for every node silent too long; returns the events (to
        publish: this is not ingest) and the next moment a node may go offline."""
        now = self.clock()
        events: list[HubEvent] = []
        upcoming: list[datetime] = []
        with self.storage.transaction():
            for record in self.sensors.latest():
                due = self.offline_at(record)
                if now < due:
                    upcoming.append(due)
                    continue
                if "node_offline" in record.troubles:
                    continue  # reported already (this silence, not a new one)
                missed = self.settings.missed_heartbeats
                what = f"offline: no heartbeat since {record.received_at:%H:%M:%S} UTC"
                events += self._open(record.heartbeat, now, "node_offline", f"{what} ({missed}x)")
                troubles = record.troubles | {"node_offline"}
                self.sensors.set_troubles(record.site, record.node, troubles)
        return events, min(upcoming, default=None)

    # --- for the page ------------------------------------------------------------------------

    def days_left(self, site: str, node: str, now: datetime) -> float | None:
        """The node's battery days left now (:func:`hub.sensors.battery.days_left`)."""
        return self._trend(self.sensors.battery_history(site, node), now)

    def _trend(self, history: list[BatteryReading], now: datetime) -> float | None:
        span = timedelta(hours=self.settings.trend_min_hours)
        return days_left(history, self.settings.cutoff_v, now, span)

    def report(self) -> list[SensorHealthRow]:
        """Every node that has sent a heartbeat, with what the rules make of it now."""
        now = self.clock()
        rows = []
        for record in self.sensors.latest():
            hb = record.heartbeat
            place = self.placements.get(record.node, Placement(None, None))
            rows.append(
                SensorHealthRow(
                    **hb.model_dump(
                        include={"battery_v", "battery_pct", "rssi_dbm", "temperature_c"}
                        | {"interval_s", "state", "state_since", "queued"}
                    ),
                    site=record.site,
                    node=record.node,
                    kind=place.kind,
                    area=place.area,
                    last_heartbeat=record.received_at,
                    offline=now >= self.offline_at(record),
                    days_left=self.days_left(record.site, record.node, now),
                    tamper=bool(hb.tamper),
                    stuck=self.stuck(hb, now),
                )
            )
        return rows


class OfflineWatch(PeriodicWorker):
    """The offline timer: wakes every ``check_interval_s`` or at the next node's deadline,
    whichever is sooner, so "offline" fires on time on the injected clock's terms."""

    def __init__(self, health: SensorHealth, bus: EventBus, settings: SensorHealthSettings):
        super().__init__("sensor-offline-watch", self.tick, settings.check_interval_s)
        self.health = health
        self.bus = bus
        self.check_interval_s = settings.check_interval_s

    def tick(self) -> list[HubEvent]:
        """One check (tests call this after moving their clock); publishes what it opened."""
        events, upcoming = self.health.check_offline()
        for event in events:
            self.bus.publish(event)
        wait = self.check_interval_s
        if upcoming is not None:
            until = (upcoming - self.health.clock()).total_seconds()
            wait = min(wait, max(0.2, until))
        self.interval_s = wait
        return events
