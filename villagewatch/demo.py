"""``villagewatch demo``: the whole system on one machine, from recorded footage.

Broker (embedded by default) → hub with the officer page → an edge agent replaying the
committed excerpt in a loop at real-time speed → one simulated sensor node of each kind
(:mod:`villagewatch.demo_sensors`: door, PIR, panic button, smoke, leak ...) tripped now and
then → a scripted 110 call taken by the duty desk → two patrol units whose simulated
trackers report through the OsmAnd endpoint (:mod:`villagewatch.patrol_sim`) → the scripted
dispatch loop on the first camera incident (:mod:`villagewatch.dispatch_script`). Every
identity is provisioned with a generated password; the logins are printed once. Alerts and
incidents are printed in the terminal as the hub stores them: the camera and the plaza door
make one incident, which escalates while nobody acknowledges it.
"""

from __future__ import annotations

import logging
import shutil
import socket
import sys
import threading
from datetime import datetime
from pathlib import Path

from broker.provision import credential_store, provision_all
from broker.service import describe, open_broker
from contract.place_settings import LatLon
from contract.siteconfig import SiteConfig
from edge.agent import EdgeAgent
from hub.domain.users import Role
from hub.events import AlertStored, HubEvent, IncidentChanged, NodeChanged
from hub.service import HubService
from villagewatch.demo_sensors import SimulatedSensor
from villagewatch.dispatch_script import DispatchScript
from villagewatch.hub_client import HubClient, HubError
from villagewatch.patrol_sim import PatrolSimulator, create_patrols

log = logging.getLogger("villagewatch.demo")

Login = tuple[str, str]

#: When the scripted 110 call comes in: after the first door and camera alerts.
CALL_AFTER_S = 20.0


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def demo_config(
    config: SiteConfig, data_dir: Path, broker_kind: str, http_port: int | None
) -> SiteConfig:
    """The site file with every data folder under ``data_dir`` and ports chosen for this run.
    The officer page keeps the site file's ``hub.http_port`` unless ``http_port`` is given."""
    if http_port is None:
        http_port = config.hub.http_port
    host = config.broker.host
    with socket.socket() as s, socket.socket() as h:
        s.bind((host, 0))
        h.bind((config.broker.hub_host, 0))  # the hub's own listener
        mqtt_port, hub_port = s.getsockname()[1], h.getsockname()[1]
    if http_port and not port_is_free(config.hub.http_host, http_port):
        log.warning("port %s is busy; the officer page takes a free port instead", http_port)
        http_port = 0
    gateways = [
        g.model_copy(update={"data_dir": str(data_dir / "edge" / g.node)}) for g in config.gateways
    ]
    return config.model_copy(
        update={
            "gateways": gateways,
            "broker": config.broker.model_copy(
                update={
                    "kind": broker_kind,
                    "port": mqtt_port,
                    "hub_port": hub_port,
                    "data_dir": str(data_dir / "broker"),
                }
            ),
            "hub": config.hub.model_copy(
                update={"http_port": http_port, "data_dir": str(data_dir / "hub")}
            ),
        }
    )


def print_event(event: HubEvent) -> None:
    """Terminal view of what the hub just stored or changed."""
    now = datetime.now().strftime("%H:%M:%S")
    if isinstance(event, AlertStored):
        a = event.alert
        where = "/".join(p for p in (a.area, a.zone) if p)
        objects = ", ".join(f"{o.label} {o.score:.2f}" for o in a.objects)
        print(
            f"{now}  ALERT {a.severity.upper():8} {a.kind:10} {where:18} from {a.node}  {objects}",
            flush=True,
        )
    elif isinstance(event, IncidentChanged):
        i = event.incident
        where = i.location.area or i.location.address or "-"
        print(
            f"{now}  INCIDENT {i.ref} {event.change:12} {i.state:12} {i.severity:8} "
            f"{i.category} {i.kind} in {where}, {i.alert_count} alert(s)"
            + (f", escalated to tier {i.escalation_tier}" if event.change == "escalated" else ""),
            flush=True,
        )
    elif isinstance(event, NodeChanged):
        print(f"{now}  node  {event.node.node} is {event.node.state}", flush=True)


class ScriptedCall:
    """A duty officer takes a 110 call some seconds in and opens an incident through the
    hub's own HTTP API, as the officer page's call form does."""

    CALL = {
        "source": "call",
        "kind": "suspicious_person",
        "severity": "major",
        "title": "Caller reports someone trying car doors at the north gate",
        "description": "Male, dark jacket, walking towards the river path.",
        "caller": {"name": "Resident (demo)", "phone": "+44 20 7946 0000"},
        "location": {"area": "north-gate", "address": "North gate car park"},
    }

    def __init__(self, base_url: str, username: str, password: str, after_s: float) -> None:
        self.base_url = base_url
        self.login = (username, password)
        self.after_s = after_s
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="scripted-110-call", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)

    def _run(self) -> None:
        if self.stop_event.wait(self.after_s):
            return
        try:
            desk = HubClient(self.base_url).login(*self.login)
            incident = desk.post("/api/incidents", self.CALL)
            print(f"  (scripted 110 call opened {incident['ref']})", flush=True)
        except (OSError, HubError, KeyError) as exc:
            log.warning("the scripted 110 call failed: %s", exc)


def start_patrols(hub: HubService, config: SiteConfig, admin: Login, desk: Login):
    """Two patrol units with simulated OsmAnd trackers, and the scripted dispatch loop
    (listening before any alert comes in). Returns the started parts and the crews' logins."""
    units, passwords = create_patrols(HubClient(hub.url).login(*admin), config)

    def target_of(incident_id: str) -> LatLon | None:
        return hub.dispatch.target(hub.incidents.get(incident_id))

    sim = PatrolSimulator(hub.url, units, target_of)
    hub.bus.on(sim.on_event)
    sim.start()
    script = DispatchScript(
        hub.url,
        desk=desk,
        crews={u.unit_id: (u.crew, passwords[u.crew]) for u in units},
        reporter=admin,
        camera_nodes={g.node for g in config.gateways},
        say=lambda line: print(line, flush=True),
    )
    hub.bus.on(script.on_event)
    script.start()
    crews = [f"{u.crew} / {passwords[u.crew]}   ({u.callsign}, {u.kind})" for u in units]
    return [sim, script], crews


def run_demo(
    config: SiteConfig,
    data_dir: Path,
    duration: float | None,
    http_port: int | None,
    broker_kind: str,
    stop: threading.Event,
) -> int:
    data_dir = data_dir.resolve()
    shutil.rmtree(data_dir, ignore_errors=True)
    config = demo_config(config, data_dir, broker_kind, http_port)
    connections = {node: conn for node, (conn, _path) in provision_all(config).items()}

    broker = open_broker(
        config.broker, config.resolve(config.broker.data_dir), credential_store(config)
    )
    broker.start()
    started: list = [broker]
    try:
        hub = HubService(
            config,
            connections["hub"],
            config.resolve(config.hub.data_dir),
            config.hub.http_host,
            config.hub.http_port,
        )
        hub.bus.on(print_event)
        logging.getLogger("hub.ingest").setLevel(logging.WARNING)  # print_event says it
        hub.start()
        started.append(hub)
        password = hub.ensure_admin()
        desk_password = hub.accounts.create_user("duty-desk", Role.OFFICER)
        hub.wait_ready(10)
        parts, crews = start_patrols(hub, config, ("admin", password), ("duty-desk", desk_password))
        started.extend(parts)
        for gateway in config.gateways:
            agent = EdgeAgent(config, gateway.node, connections[gateway.node])
            agent.start()
            started.append(agent)
        for number, sensor in enumerate(config.sensors):
            # the doors first (the first visitor comes soon, so a short demo shows one),
            # then the other kinds two seconds apart; the last node's lid is opened once
            first_s = 6.0 if sensor.kind == "door" else 8.0 + 2 * number
            tamper_at_s = 40.0 if sensor is config.sensors[-1] else None
            state_dir = data_dir / "sensors" / sensor.node
            conn = connections[sensor.node]
            sim = SimulatedSensor(conn, sensor, state_dir, first_s, tamper_at_s=tamper_at_s)
            sim.start()
            started.append(sim)
        call = ScriptedCall(hub.url, "duty-desk", desk_password, after_s=CALL_AFTER_S)
        call.start()
        started.append(call)
        print_banner(config, broker, hub.url, password, desk_password, crews, data_dir)
        stop.wait(duration)
    finally:
        for part in reversed(started):
            try:
                part.stop()
            except Exception:  # keep stopping the rest
                log.exception("while stopping %s", type(part).__name__)
        print("demo stopped", file=sys.stderr)
    return 0


def print_banner(config, broker, url, password, desk_password, crews, data_dir) -> None:
    """What is running, the logins generated for this run (each shown once here), and what
    to watch."""
    patrols = "\n                ".join(crews)
    print(
        f"\nVillageWatch demo — site {config.site.name!r}\n"
        f"  broker:       {describe(broker)}\n"
        f"  officer page: {url}\n"
        f"  login:        admin / {password}   (generated for this run; shown once)\n"
        f"  duty desk:    duty-desk / {desk_password}\n"
        f"  patrols:      {patrols}\n"
        f"                (the patrol page on a phone: {url.rstrip('/')}/#/patrol)\n"
        f"  data:         {data_dir}\n"
        f"Alerts and incidents appear below and on the page: the camera and the plaza\n"
        f"door make one incident, it escalates if nobody acknowledges it, and a 110 call\n"
        f"opens another after {CALL_AFTER_S:.0f} s. Two patrol units report their GPS through\n"
        f"the OsmAnd protocol (the map tab); the first camera incident is worked once by a\n"
        f"script (LOOP lines): acknowledged, the nearest unit dispatched, en route, on scene,\n"
        f"resolved. Ctrl-C stops everything.\n",
        flush=True,
    )
