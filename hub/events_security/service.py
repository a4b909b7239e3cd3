"""The event-security service: sample the rings, open incidents, show and replay them.

Every ``SAMPLE_S`` seconds :meth:`EventSecurity.tick` reads what each gateway last reported
(``CameraStats.rings``, kept with the node's stats by ingest: nothing here sits on the ingest
path), aggregates each *active* event's rings (:mod:`.aggregate`), stores the sample for the
dashboard's trend and the replay (:mod:`.store`), and lets :mod:`.alarms` decide which rings
open an incident. Incidents go through the same keyed opener as the hub's own sensor
troubles (:class:`hub.sensors.incidents.HubIncidents`): one open incident per event ring,
category security, kind ``crowd``, the event's severity; from there they escalate like any
other (:mod:`hub.escalation`). The clock is injected; tests call :meth:`tick` directly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from contract.event_settings import SiteEvent, check_event_feeds
from contract.place_settings import check_placements
from contract.siteconfig import SiteConfig
from hub.clock import Clock
from hub.domain.incidents import OPEN_STATES, Category, Incident
from hub.events import EventBus, HubEvent
from hub.events_security.aggregate import CameraReading, RingFigure, aggregate
from hub.events_security.alarms import RingAlarms
from hub.events_security.store import EventStore
from hub.periodic import PeriodicWorker
from hub.retention import Lifetimes
from hub.sensors.incidents import HubIncidents
from hub.storage.incidents import IncidentQuery
from hub.storage.repositories import Storage

#: Seconds between samples: gateways report every ~30 s; sampling twice as often means a new
#: report is seen within 15 s, and a 5-hour event is 1,200 samples per ring.
SAMPLE_S = 15.0
#: The dashboard's trend window.
TREND = timedelta(minutes=30)
#: Series of events no longer in the site file are kept this long.
ORPHAN_DAYS = 365
#: The replay sends at most this many moments (a longer window is thinned evenly).
REPLAY_POINTS = 1500


class TrendPoint(BaseModel):
    at: datetime
    occupancy: int
    upper: int
    per_m2: float | None


class FeedChoice(BaseModel):
    """A camera ring that can feed an event ring (for the page's new-event form)."""

    camera: str
    crowd: str
    ring: str
    calibrated: bool


class EventInfo(BaseModel):
    """An event and where it comes from (``site`` file, or the ``page``: deletable)."""

    event: SiteEvent
    source: str
    active: bool


class EventDashboard(BaseModel):
    """Everything the dashboard shows for one event at ``now``."""

    info: EventInfo
    now: datetime
    rings: list[RingFigure]
    trend: dict[str, list[TrendPoint]]
    incidents: list[Incident]


class ReplayFrame(BaseModel):
    """The rings and the heat (camera ring points with their counts) at one moment."""

    at: datetime
    rings: dict[str, TrendPoint]
    heat: list[tuple[float, float, int]]


class EventReplay(BaseModel):
    info: EventInfo
    start: datetime
    end: datetime
    frames: list[ReplayFrame]


def incident_key(site: str, event_id: str, ring: str) -> str:
    """One open incident per event ring (the correlation key)."""
    return f"{site}/event/{event_id}/{ring}"


class EventSecurity:
    """Events of one site: configured and supervisor-made, sampled, alarmed, shown."""

    def __init__(self, storage: Storage, bus: EventBus, config: SiteConfig, clock: Clock) -> None:
        self.storage = storage
        self.bus = bus
        self.config = config
        self.clock = clock
        self.store = EventStore.for_storage(storage)
        self.alarms = RingAlarms()
        self.incidents = HubIncidents(storage, ZoneInfo(config.site.timezone))
        self.worker = PeriodicWorker("event-security", self.tick, SAMPLE_S)
        self._node_of = {c.name: g.node for g in config.gateways for c in g.cameras}
        self._cameras = {c.name: c for g in config.gateways for c in g.cameras}

    # --- events -------------------------------------------------------------------------------

    def events(self) -> list[EventInfo]:
        now = self.clock()
        listed = [
            EventInfo(event=e, source="site", active=e.active_at(now)) for e in self.config.events
        ]
        listed += [
            EventInfo(event=e, source="page", active=e.active_at(now)) for e in self.store.events()
        ]
        return sorted(listed, key=lambda i: i.event.starts_at, reverse=True)

    def get(self, event_id: str) -> EventInfo | None:
        return next((i for i in self.events() if i.event.id == event_id), None)

    def feed_choices(self) -> list[FeedChoice]:
        """Every crowd ring of every camera, outermost first per rule."""
        return [
            FeedChoice(
                camera=name, crowd=rule.name, ring=ring, calibrated=camera.calibration is not None
            )
            for name, camera in self._cameras.items()
            for rule in camera.crowd
            for ring, given in rule.rings()
            if given is not None
        ]

    def create(self, event: SiteEvent, actor: str) -> bool:
        """Store a supervisor's event; False if the id is taken (by the site file too).
        ValueError if a feed names a camera ring the site lacks, or the area is unknown."""
        crowd_rings = {
            name: {r.name: {n for n, ring in r.rings() if ring} for r in camera.crowd}
            for name, camera in self._cameras.items()
        }
        check_event_feeds([event], crowd_rings, {a.id for a in self.config.areas})
        if self.config.map is not None:  # the same check as the site file's rings
            corners = [
                (f"rings.{name}.polygon[{j}]", p)
                for name, ring in event.rings.present()
                for j, p in enumerate(ring.polygon)
            ]
            check_placements(self.config.map, self.config.resolve(self.config.map.image), corners)
        if any(e.id == event.id for e in self.config.events):
            return False
        return self.store.create(event, actor, self.clock())

    def delete(self, event_id: str) -> bool:
        """Delete a supervisor's event (site-file events are changed in the file)."""
        self.alarms.forget(event_id)
        return self.store.delete(event_id)

    # --- sampling -----------------------------------------------------------------------------

    def readings(self) -> dict[str, CameraReading]:
        """Each configured camera's last report (its gateway's stats)."""
        nodes = {n.node: n for n in self.storage.nodes.all() if n.site == self.config.site.id}
        readings = {}
        for name, camera in self._cameras.items():
            node = nodes.get(self._node_of[name])
            stats = node.stats.cameras.get(name) if node and node.stats else None
            readings[name] = CameraReading(
                camera=name,
                counts=dict(stats.rings) if stats else {},
                at=stats.rings_at if stats else None,
                connected=bool(stats and stats.connected),
                online=bool(node and node.state == "online"),
                calibrated=camera.calibration is not None,
                position=camera.position,
                reported=stats is not None,
            )
        return readings

    def tick(self) -> list[HubEvent]:
        """Sample every active event; open incidents for rings that fire; publish them."""
        now = self.clock()
        active = [i.event for i in self.events() if i.active]
        if not active:
            return []
        readings = self.readings()
        events: list[HubEvent] = []
        with self.storage.transaction():
            for event in active:
                figures = aggregate(event, readings, now)
                self.store.add(event.id, now, figures)
                for figure, reason in self.alarms.step(event, figures):
                    events += self.incidents.open(
                        incident_key(self.config.site.id, event.id, figure.ring),
                        now,
                        category=Category.SECURITY,
                        kind="crowd",
                        severity=event.severity,
                        title=f"{event.name}: {figure.ring} ring over its limit: {reason}",
                        area=event.area,
                    )
        for e in events:
            self.bus.publish(e)
        return events

    # --- the page -----------------------------------------------------------------------------

    def dashboard(self, info: EventInfo) -> EventDashboard:
        """Live figures, the last 30 minutes and the open incidents of ``info``'s event."""
        now = self.clock()
        event = info.event
        trend: dict[str, list[TrendPoint]] = {n: [] for n, _ in event.rings.present()}
        for s in self.store.series(event.id, now - TREND, now + timedelta(seconds=1), feeds=False):
            trend.setdefault(s.ring, []).append(
                TrendPoint(at=s.at, occupancy=s.occupancy, upper=s.upper, per_m2=s.per_m2)
            )
        # Every open incident of the event's area (a fight near the stage matters as much as
        # the crowd); an event without an area: the crowd incidents, wherever they are.
        kind = None if event.area else "crowd"
        query = IncidentQuery(state=OPEN_STATES, area=event.area, kind=kind, limit=50)
        found, _ = self.storage.incidents.find(query)
        return EventDashboard(
            info=info,
            now=now,
            rings=aggregate(event, self.readings(), now),
            trend=trend,
            incidents=found,
        )

    def replay(self, info: EventInfo, start: datetime, end: datetime) -> EventReplay:
        """The stored series in [start, end): rings and heat per moment, thinned evenly."""
        moments: dict[datetime, ReplayFrame] = {}
        for s in self.store.series(info.event.id, start, end):
            frame = moments.setdefault(s.at, ReplayFrame(at=s.at, rings={}, heat=[]))
            frame.rings[s.ring] = TrendPoint(
                at=s.at, occupancy=s.occupancy, upper=s.upper, per_m2=s.per_m2
            )
            frame.heat += [
                (f["lat"], f["lon"], f["count"] or 0)
                for f in s.feeds
                if f["counted"] and f["lat"] is not None and f["lon"] is not None
            ]
        frames = list(moments.values())
        if len(frames) > REPLAY_POINTS:
            stride = len(frames) / REPLAY_POINTS
            frames = [frames[int(i * stride)] for i in range(REPLAY_POINTS)]
        return EventReplay(info=info, start=start, end=end, frames=frames)

    def purge(self, lifetimes: Lifetimes, now: datetime) -> dict[str, int]:
        """Retention (``hub.retention`` ``also``): series past their event's ``keep_days``."""
        keep = {
            i.event.id: i.event.ends_at + timedelta(days=i.event.keep_days) for i in self.events()
        }
        return {"event_samples": self.store.purge(keep, now, ORPHAN_DAYS)}
