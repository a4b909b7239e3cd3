"""Simulated patrol units for the demo: their trackers report through the OsmAnd protocol.

The demo creates two units through the hub's API, as an admin would (accounts for their
crews, the units, one OsmAnd tracker each: :func:`create_patrols`). :class:`PatrolSimulator`
then plays their GPS trackers: every ``interval_s`` each one sends its position to the hub's
real ``/osmand/{token}`` endpoint, exactly as Traccar Client or a hardware tracker does (the
fields in the query string, speed in knots, time in Unix seconds).

How a simulated unit moves:

* **patrolling** — round a small circle (its beat) near where it started, at a
  strolling share of its kind's speed;
* **driving** — once its assignment goes en route (the crew tapped it, on the phone or in
  the demo's script), straight towards the incident's position at its kind's speed from the
  site file (``hub.dispatch.speeds_kmh``), a new point every report;
* **on scene** — there it stays, reporting the same point, until it is sent elsewhere.

Straight lines at the average speed are what the hub's ETA assumes, minus the detour factor:
the simulated unit arrives a little before its estimate. The simulator only moves the units;
the crew's taps (accept, en route, on scene) are the script's or a person's.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from contract.place_settings import LatLon
from contract.siteconfig import SiteConfig
from hub.domain.units import AssignmentState
from hub.events import AssignmentChanged, HubEvent
from villagewatch.hub_client import HubClient, HubError

log = logging.getLogger("villagewatch.patrol_sim")

#: Metres per degree of latitude on the hub's sphere (hub.dispatch.ranking.EARTH_RADIUS_M).
M_PER_DEG = 6_371_008.8 * math.pi / 180
KNOTS_PER_KMH = 1 / 1.852
#: A patrol on its beat moves at this share of its kind's travel speed.
BEAT_PACE = 0.4
BEAT_RADIUS_M = 15.0
#: Homes are kept this far inside the plan's edge.
PLAN_MARGIN_M = 10.0


@dataclass(frozen=True)
class PatrolPlan:
    """One demo unit: where it starts, as metres east and north of a site area's position."""

    callsign: str
    kind: str
    crew: str  # the patrol account, member of the unit
    area_index: int  # which of the site file's areas it starts near
    east_m: float
    north_m: float


#: P-01 walks near the last area (the demo's north gate); P-02's car waits south-west of the
#: first (the plaza), further away but faster: the nearest unit in time is the car.
DEMO_PATROLS = (
    PatrolPlan("P-01", "foot", "patrol-01", -1, 0.0, -20.0),
    PatrolPlan("P-02", "car", "patrol-02", 0, -75.0, -30.0),
)


@dataclass
class SimulatedUnit:
    """A unit's tracker and where the simulation has it."""

    unit_id: str
    callsign: str
    kind: str
    crew: str
    speed_kmh: float
    device_id: str
    token: str
    home: LatLon
    lat: float = field(init=False)
    lon: float = field(init=False)
    mode: str = "patrol"  # patrol | drive | scene
    target: LatLon | None = None
    incident_id: str | None = None
    angle: float = 0.0  # where on its beat's circle
    bearing: float = 0.0
    battery: float = 96.0

    def __post_init__(self) -> None:
        self.lat, self.lon = offset(self.home, BEAT_RADIUS_M, 0.0)


def offset(point: LatLon, east_m: float, north_m: float) -> tuple[float, float]:
    """``point`` moved by metres east and north (flat earth: fine within a village)."""
    lat = point.lat + north_m / M_PER_DEG
    return lat, point.lon + east_m / (M_PER_DEG * math.cos(math.radians(point.lat)))


def metres_between(lat: float, lon: float, to: LatLon) -> tuple[float, float]:
    """East and north metres from (lat, lon) to ``to``."""
    east = (to.lon - lon) * M_PER_DEG * math.cos(math.radians(lat))
    return east, (to.lat - lat) * M_PER_DEG


def home_of(plan: PatrolPlan, config: SiteConfig) -> LatLon:
    """The plan's start point on this site, kept inside the site plan's bounds."""
    placed = [a.position for a in config.areas if a.position is not None]
    if not placed:
        raise ValueError("the demo's patrols need an area with a position in the site file")
    lat, lon = offset(placed[plan.area_index], plan.east_m, plan.north_m)
    bounds = config.map.bounds if config.map else None
    if bounds is not None:
        sw, ne = bounds.south_west, bounds.north_east
        margin_lat = PLAN_MARGIN_M / M_PER_DEG
        margin_lon = PLAN_MARGIN_M / (M_PER_DEG * math.cos(math.radians(lat)))
        lat = min(max(lat, sw.lat + margin_lat), ne.lat - margin_lat)
        lon = min(max(lon, sw.lon + margin_lon), ne.lon - margin_lon)
    return LatLon(lat=lat, lon=lon)


def create_patrols(
    admin: HubClient, config: SiteConfig, plans=DEMO_PATROLS
) -> tuple[list[SimulatedUnit], dict[str, str]]:
    """Through the hub's API as ``admin``: a patrol account per unit, the unit with it as
    member, and an OsmAnd tracker (its token is shown once: the simulator keeps it).
    Returns the simulated units and each crew's generated password."""
    units, passwords = [], {}
    for plan in plans:
        user = admin.post("/api/users", {"username": plan.crew, "role": "patrol"})
        passwords[plan.crew] = user["password"]
        unit = admin.post(
            "/api/units", {"callsign": plan.callsign, "kind": plan.kind, "members": [plan.crew]}
        )
        device_id = plan.callsign.lower()
        tracker = admin.post(
            f"/api/units/{unit['id']}/trackers",
            {"name": f"{plan.callsign} Traccar Client", "device_id": device_id},
        )
        units.append(
            SimulatedUnit(
                unit_id=unit["id"],
                callsign=plan.callsign,
                kind=plan.kind,
                crew=plan.crew,
                speed_kmh=config.hub.dispatch.speeds_kmh[plan.kind],
                device_id=device_id,
                token=tracker["token"],
                home=home_of(plan, config),
            )
        )
    return units, passwords


class PatrolSimulator:
    """Moves the units (see the module docstring) and reports each one's position every
    ``interval_s`` through the OsmAnd endpoint. Feed it the hub's events
    (:meth:`on_event`): an assignment going en route sends its unit driving to
    ``target_of(incident_id)``."""

    def __init__(
        self,
        base_url: str,
        units: list[SimulatedUnit],
        target_of: Callable[[str], LatLon | None],
        interval_s: float = 2.0,
    ) -> None:
        self.client = HubClient(base_url)
        self.units = {u.unit_id: u for u in units}
        self.target_of = target_of
        self.interval_s = interval_s
        self.orders: queue.SimpleQueue[AssignmentChanged] = queue.SimpleQueue()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="patrol-sim", daemon=True)
        self._refused: set[str] = set()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)

    def on_event(self, event: HubEvent) -> None:
        """A bus handler: runs on the publisher's thread, so it only queues."""
        if isinstance(event, AssignmentChanged) and event.assignment.unit_id in self.units:
            self.orders.put(event)

    def _run(self) -> None:
        last = time.monotonic()
        while not self.stop_event.is_set():
            now = time.monotonic()
            elapsed, last = now - last, now
            try:
                while not self.orders.empty():
                    self._follow(self.orders.get())
                for unit in self.units.values():
                    move(unit, elapsed)
                    self._report(unit)
            except Exception:  # a demo prop must not die silently: say it, keep moving
                log.exception("patrol simulator step failed")
            self.stop_event.wait(self.interval_s)

    def _follow(self, event: AssignmentChanged) -> None:
        """What the crew does with its order: drive once en route, stay once there."""
        unit, order = self.units[event.assignment.unit_id], event.assignment
        if order.state in (AssignmentState.EN_ROUTE, AssignmentState.ON_SCENE):
            if unit.incident_id != order.incident_id:
                target = self.target_of(order.incident_id)
                if target is not None:
                    unit.mode, unit.target, unit.incident_id = "drive", target, order.incident_id
        elif not order.state.is_active and unit.incident_id == order.incident_id:
            unit.incident_id = None
            if unit.mode == "drive":  # called off on the way: patrol from here
                unit.mode, unit.home = "patrol", LatLon(lat=unit.lat, lon=unit.lon)
            # on scene, it stays there until it is sent elsewhere

    def _report(self, unit: SimulatedUnit) -> None:
        speed = unit.speed_kmh * (1.0 if unit.mode == "drive" else BEAT_PACE)
        fields = {
            "id": unit.device_id,
            "lat": f"{unit.lat:.7f}",
            "lon": f"{unit.lon:.7f}",
            "timestamp": f"{time.time():.3f}",
            "speed": f"{0.0 if unit.mode == 'scene' else speed * KNOTS_PER_KMH:.2f}",
            "bearing": f"{unit.bearing:.1f}",
            "accuracy": "5",
            "batt": f"{unit.battery:.1f}",
        }
        try:
            self.client.get(f"/osmand/{unit.token}", fields)
        except HubError as exc:
            if exc.detail not in self._refused:  # say each reason once, not every 2 s
                self._refused.add(exc.detail)
                log.warning("%s's position refused: %s", unit.callsign, exc)
        except OSError as exc:  # the hub is starting or stopping
            log.debug("%s's position not sent: %s", unit.callsign, exc)


def move(unit: SimulatedUnit, seconds: float) -> None:
    """Where ``unit`` is ``seconds`` later, by its mode."""
    if unit.mode == "scene":
        return
    unit.battery = max(5.0, unit.battery - seconds / 600)  # ~6 % an hour
    step_m = unit.speed_kmh / 3.6 * seconds
    if unit.mode == "drive" and unit.target is not None:
        east, north = metres_between(unit.lat, unit.lon, unit.target)
        left = math.hypot(east, north)
        if left > 0:
            unit.bearing = math.degrees(math.atan2(east, north)) % 360
        if left <= step_m:
            unit.lat, unit.lon, unit.mode = unit.target.lat, unit.target.lon, "scene"
        else:
            here = LatLon(lat=unit.lat, lon=unit.lon)
            unit.lat, unit.lon = offset(here, east / left * step_m, north / left * step_m)
        return
    # On the beat: anticlockwise round the circle, heading along its tangent.
    unit.angle = (unit.angle + step_m * BEAT_PACE / BEAT_RADIUS_M) % (2 * math.pi)
    east, north = BEAT_RADIUS_M * math.cos(unit.angle), BEAT_RADIUS_M * math.sin(unit.angle)
    unit.lat, unit.lon = offset(unit.home, east, north)
    unit.bearing = (math.degrees(math.atan2(-north, east)) + 360) % 360
