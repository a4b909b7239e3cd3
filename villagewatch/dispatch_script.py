"""The demo's scripted 110 loop: from a camera's alert to a resolved incident, once.

Two demo accounts act through the hub's HTTP API, as people would in the officer app, so
the hub checks their roles and the audit says who did what:

1. the first camera alert files an incident (the hub's ingest does that);
2. the **duty desk** (an officer account) opens it and acknowledges it;
3. it asks for suggestions and dispatches the first (nearest in estimated travel time);
4. the unit's **patrol** account reads its order, accepts, taps en route (the simulated
   tracker starts driving: :mod:`villagewatch.patrol_sim`), and taps on scene when the
   unit's reported position is within :data:`ARRIVED_M` of the incident;
5. the patrol resolves it with an outcome and a note.

Each step is printed with the time. At the end the script reads the unit's segment times
and the response-time report (as the admin: reports are for supervisors) and prints the
travel time. The script learns what happened from the hub's event bus (the officer app
hears the same events on its live feed) and pauses a few seconds between people's steps so
someone watching the officer app sees each one.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime

from contract.place_settings import LatLon
from hub.dispatch.ranking import haversine_m
from hub.events import AlertStored, HubEvent, UnitChanged
from villagewatch.hub_client import HubClient, HubError

log = logging.getLogger("villagewatch.dispatch_script")

#: A unit whose tracker is this close to the incident is there (GPS is a few metres off).
ARRIVED_M = 15.0
#: Pauses that let a person watching the officer app follow the loop.
ACK_AFTER_S = 2.0
RING_S = 2.0
ON_SCENE_S = 3.0

Login = tuple[str, str]


class _Stopped(Exception):
    """The demo is stopping: the script ends where it is."""


class DispatchScript:
    """Runs the loop once on the first security incident a camera alert files."""

    def __init__(
        self,
        base_url: str,
        desk: Login,
        crews: dict[str, Login],
        reporter: Login,
        camera_nodes: set[str],
        say: Callable[[str], None] = print,
    ) -> None:
        self.base_url = base_url
        self.desk, self.crews, self.reporter = desk, crews, reporter
        self.camera_nodes = camera_nodes
        self.say_line = say
        self.events: queue.SimpleQueue[HubEvent] = queue.SimpleQueue()
        self.done = threading.Event()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="dispatch-script", daemon=True)
        self.started = time.monotonic()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)

    def on_event(self, event: HubEvent) -> None:
        """A bus handler: runs on the publisher's thread, so it only queues."""
        if self.done.is_set():
            return
        if isinstance(event, AlertStored) or (
            isinstance(event, UnitChanged) and event.change == "position"
        ):
            self.events.put(event)

    # --- plumbing ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except _Stopped:
            return
        except (HubError, OSError, KeyError, ValueError, StopIteration) as exc:
            self.say(f"the scripted loop stopped: {exc}")
            log.warning("the scripted dispatch loop stopped", exc_info=True)
        finally:
            self.done.set()

    def say(self, text: str) -> None:
        now = datetime.now().strftime("%H:%M:%S")
        self.say_line(f"{now}  LOOP {text}")

    def pause(self, seconds: float) -> None:
        if self.stop_event.wait(seconds):
            raise _Stopped

    def next_event(self) -> HubEvent:
        while True:
            if self.stop_event.is_set():
                raise _Stopped
            try:
                return self.events.get(timeout=0.5)
            except queue.Empty:
                continue

    def client(self, login: Login) -> HubClient:
        return HubClient(self.base_url).login(*login)

    # --- the loop ----------------------------------------------------------------------------

    def _loop(self) -> None:
        desk = self.client(self.desk)
        incident = self._await_camera_incident(desk)
        iid, ref = incident["id"], incident["ref"]
        self.pause(ACK_AFTER_S)
        if incident["state"] == "new":
            desk.post(f"/api/incidents/{iid}/transitions", {"action": "acknowledge"})
            self.say(f"2 {ref} acknowledged by {desk.username} (duty desk)")
        ranked = [s for s in desk.get(f"/api/incidents/{iid}/suggestions") if not s["stale"]]
        if not ranked:
            raise ValueError(f"no available unit with a fresh position for {ref}")
        self.say("3 suggested: " + "; ".join(_describe(s) for s in ranked))
        unit = ranked[0]["unit"]
        sent = desk.post(f"/api/incidents/{iid}/dispatch", {"unit_id": unit["id"]})
        self.say(f"3 {unit['callsign']} dispatched to {ref} by {desk.username}")
        self._patrol(sent, unit, ref)
        self._report(iid, sent["id"], unit["callsign"])

    def _await_camera_incident(self, desk: HubClient) -> dict:
        """The first security incident a camera's alert was filed under, as the desk sees
        it (maintenance incidents, e.g. a covered lens, are not for patrols)."""
        while True:
            event = self.next_event()
            if not isinstance(event, AlertStored):
                continue
            alert = event.alert
            if alert.node not in self.camera_nodes or alert.incident_id is None:
                continue
            incident = desk.get(f"/api/incidents/{alert.incident_id}")["incident"]
            if incident["category"] == "security" and incident["state"] == "new":
                where = "/".join(p for p in (alert.area, alert.zone) if p)
                self.say(
                    f"1 {alert.kind} alert from {alert.node} ({where}) is incident "
                    f"{incident['ref']}, {incident['alert_count']} alert(s)"
                )
                return incident

    def _patrol(self, sent: dict, unit: dict, ref: str) -> None:
        """The unit's crew on its phone: order, accept, en route, on scene, resolve."""
        callsign, steps = unit["callsign"], f"/api/assignments/{sent['id']}/steps"
        patrol = self.client(self.crews[unit["id"]])
        self.pause(RING_S)  # the phone rings; someone picks it up
        order = next(
            o for o in patrol.get("/api/assignments/mine") if o["assignment"]["id"] == sent["id"]
        )
        lat, lon = (float(v) for v in order["geo_url"].removeprefix("geo:").split(","))
        target = LatLon(lat=lat, lon=lon)
        patrol.post(steps, {"step": "accept"})
        self.say(f"4 {callsign} accepted ({patrol.username} on the patrol phone)")
        self.pause(1.0)
        patrol.post(steps, {"step": "en_route"})
        self.say(f"4 {callsign} en route, navigating to {order['geo_url']}")
        metres = self._await_arrival(unit["id"], target)
        patrol.post(steps, {"step": "on_scene"})
        self.say(f"4 {callsign} on scene: its tracker is {metres:.0f} m from {ref}")
        self.pause(ON_SCENE_S)
        note = "Spoke to the person on the lawn: a resident's guest, left the site. (demo)"
        patrol.post(steps, {"step": "resolve", "outcome": "handled", "note": note})
        self.say(f"5 {ref} resolved by {patrol.username}: handled, '{note}'")

    def _await_arrival(self, unit_id: str, target: LatLon) -> float:
        """Metres from ``target`` of the unit's first reported position within ARRIVED_M."""
        while True:
            event = self.next_event()
            if isinstance(event, UnitChanged) and event.unit.id == unit_id:
                position = event.unit.position
                if position is None:
                    continue
                metres = haversine_m(position.lat, position.lon, target.lat, target.lon)
                if metres <= ARRIVED_M:
                    return metres

    def _report(self, incident_id: str, assignment_id: str, callsign: str) -> None:
        """The timings as the report page shows them."""
        admin = self.client(self.reporter)
        done = next(
            a
            for a in admin.get(f"/api/incidents/{incident_id}/assignments")
            if a["id"] == assignment_id
        )
        seconds = _seconds_between(done["dispatched_at"], done["on_scene_at"])
        self.say(f"{callsign}: dispatched → on scene in {seconds:.1f} s ({_segments(done)})")
        report = admin.get("/api/reports/response-times")
        self.say("report: " + _travel_figures(report))


def _describe(suggestion: dict) -> str:
    unit = suggestion["unit"]
    return (
        f"{unit['callsign']} ({unit['kind']}) {suggestion['distance_m']:.0f} m, "
        f"ETA {suggestion['eta_s']:.0f} s"
    )


def _travel_figures(report: dict) -> str:
    """The report's travel times: per unit (dispatched → on scene, by kind and by area)
    where the hub reports them, and the incidents' en route → on scene segment."""
    parts = []
    per_unit = report.get("travel")
    if per_unit and per_unit.get("arrived"):
        kinds = ", ".join(f"{g['group']} {g['p50_s']} s" for g in per_unit["by_unit_kind"])
        areas = ", ".join(f"{g['group']} {g['p50_s']} s" for g in per_unit["by_area"])
        parts.append(
            f"travel ({per_unit['label']}) p50 {per_unit['p50_s']} s over "
            f"{per_unit['arrived']} unit(s); by kind: {kinds}; by area: {areas}"
        )
    segment = next(s for s in report["current"]["segments"] if s["segment"] == "travel")
    parts.append(f"{segment['label']} p50 {segment['p50_s']} s over {segment['count']} incident(s)")
    mean = report["current"]["mean_alert_to_arrival_s"]
    return "; ".join([*parts, f"mean alert → arrival {mean} s"])


def _seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _segments(assignment: dict) -> str:
    marks = ("dispatched_at", "accepted_at", "en_route_at", "on_scene_at", "ended_at")
    parts = []
    for before, after in itertools.pairwise(marks):
        if assignment[before] and assignment[after]:
            label = after.removesuffix("_at").replace("_", " ")
            parts.append(
                f"{label} +{_seconds_between(assignment[before], assignment[after]):.1f} s"
            )
    return ", ".join(parts)
