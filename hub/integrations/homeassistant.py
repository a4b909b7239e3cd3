"""Home Assistant MQTT discovery: the hub shows its sensors, cameras and incidents there.

Off unless ``integrations.home_assistant.enabled``. A straight line::

    site file ─▶ discovery configs (homeassistant_entities.py), retained, at each connect
                 and whenever Home Assistant says ``online`` on ``<prefix>/status``
    EventBus (alerts stored, snapshots arrived, incidents changed) ─┐
    heartbeats (``<root>/<site>/+/heartbeat``, battery/tamper/state) ┴▶ queue ─▶ worker
        ─▶ entity states, retained, on ``<prefix>/.../state``

The bus calls its handlers on the publisher's thread, so handlers only queue; one worker
thread reads storage and publishes. The connection is the hub identity's, with a client id
of its own (like the live relay), so it never takes over the ingest session; the broker
ACL lets the hub identity write the discovery prefix only when the site turns this on
(``broker/credentials.py``, ``hub_extra``).
"""

from __future__ import annotations

import json
import logging
import queue
import threading

from contract.connection import NodeConnection
from contract.mqtt import LinkSettings, MqttLink
from contract.protocol import Channel, Heartbeat, ProtocolError, decode, parse_topic
from contract.sensor_kinds import ACTIVE_STATES
from contract.siteconfig import SiteConfig
from hub.domain.incidents import Category
from hub.events import AlertStored, EventBus, HubEvent, IncidentChanged, SnapshotArrived
from hub.integrations.homeassistant_entities import (
    HUB_DEVICE,
    availability_topic,
    discovery_entities,
    sensor_nodes,
)
from hub.storage.repositories import Storage

log = logging.getLogger(__name__)
#: The open-incident count is read from the queue; a village never has this many open.
MAX_COUNTED = 10_000
#: Alerts remembered while their snapshot is on its way (the oldest is forgotten first).
MAX_WAITING_SNAPSHOTS = 1000


class HomeAssistantDiscovery:
    """Start with :meth:`start`, :meth:`stop` when done (a hub worker)."""

    def __init__(
        self, config: SiteConfig, connection: NodeConnection, storage: Storage, bus: EventBus
    ) -> None:
        self.config = config
        self.storage = storage
        self.prefix = config.integrations.home_assistant.discovery_prefix
        self.entities = discovery_entities(config)
        self._sensors = {s.node: s for s in sensor_nodes(config)}
        self._root, self._site = connection.topic_root, connection.site
        self._ha_status = f"{self.prefix}/status"
        avail = availability_topic(config)
        self.link = MqttLink(
            LinkSettings.side_link(
                connection,
                "homeassistant",
                online=(avail, b"online"),
                will=(avail, b"offline"),
                subscriptions=[
                    (self._ha_status, 1),
                    (f"{self._root}/{self._site}/+/{Channel.HEARTBEAT}", 1),
                ],
            ),
            on_message=self._on_message,
            on_connection_change=self._on_connection,
        )
        self._work: queue.Queue = queue.Queue()
        self._states: dict[str, bytes] = {}  # state topic -> last payload (re-sent on announce)
        self._cameras: dict[str, str] = {}  # alert id -> image state topic, until its JPEG
        self._thread = threading.Thread(target=self._run, name="vw-homeassistant", daemon=True)
        self.announcements = 0  # how many times the configs went out (tests, logs)
        bus.on(self._on_event)

    def start(self) -> None:
        self._work.put(("incidents",))
        self._thread.start()
        self.link.start()

    def stop(self) -> None:
        self._work.put(None)
        if self._thread.is_alive():
            self._thread.join(5)
        self.link.stop()  # publishes the availability "offline": entities go unavailable

    # --- inputs: only queue (bus publishers' threads, paho's thread) -----------------------

    def _on_event(self, event: HubEvent) -> None:
        if isinstance(event, AlertStored | SnapshotArrived | IncidentChanged):
            self._work.put(("event", event))

    def _on_connection(self, connected: bool) -> None:
        if connected:
            self._work.put(("announce",))

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == self._ha_status:
            if payload.strip() == b"online":  # Home Assistant (re)started: it forgot us
                self._work.put(("announce",))
            return
        try:
            message = decode(parse_topic(topic, self._root), payload)
        except ProtocolError:
            return  # ingest quarantines it; nothing for Home Assistant
        if isinstance(message, Heartbeat) and message.node in self._sensors:
            self._work.put(("heartbeat", message))

    # --- the worker ------------------------------------------------------------------------

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            try:
                self._handle(item)
            except Exception:  # one bad item must not end Home Assistant's updates
                log.exception("home assistant: failed on %s", item[0])

    def _handle(self, item: tuple) -> None:
        what = item[0]
        if what == "announce":
            self.announce()
        elif what == "heartbeat":
            self._heartbeat(item[1])
        elif what == "incidents":
            self._count_incidents()
        elif isinstance(item[1], AlertStored):
            self._alert(item[1])
        elif isinstance(item[1], SnapshotArrived):
            self._snapshot(item[1].alert_id)
        else:
            self._count_incidents()

    def announce(self) -> None:
        """Publish every config (retained), then every state known (Home Assistant's
        advice: states after configs, so the new entities pick them up)."""
        for e in self.entities:
            self.link.publish(e.topic(self.prefix, "config"), _json(e.config), retain=True)
        for topic, payload in list(self._states.items()):
            self.link.publish(topic, payload, retain=True)
        self.announcements += 1
        log.info("home assistant: announced %d entities", len(self.entities))

    def _set(self, component: str, node: str, obj: str, payload: bytes) -> None:
        topic = f"{self.prefix}/{component}/{node}/{obj}/state"
        self._states[topic] = payload
        self.link.publish(topic, payload, retain=True)

    def _count_incidents(self) -> None:
        open_now = self.storage.incidents.queue(MAX_COUNTED, Category.SECURITY)
        self._set("sensor", HUB_DEVICE, "open_incidents", str(len(open_now)).encode())

    def _heartbeat(self, beat: Heartbeat) -> None:
        if beat.battery_pct is not None:
            self._set("sensor", beat.node, "battery", f"{beat.battery_pct:g}".encode())
        if beat.tamper is not None:
            self._set("binary_sensor", beat.node, "tamper", b"ON" if beat.tamper else b"OFF")
        if beat.state is not None:
            on = beat.state in ACTIVE_STATES
            self._set("binary_sensor", beat.node, "state", b"ON" if on else b"OFF")

    def _alert(self, event: AlertStored) -> None:
        alert = event.alert
        sensor = self._sensors.get(alert.node)
        if sensor is not None and alert.kind == sensor.kind:
            self._set("binary_sensor", alert.node, "state", b"ON")
        elif sensor is not None and alert.kind == "tamper":
            self._set("binary_sensor", alert.node, "tamper", b"ON")
        if alert.camera and alert.has_snapshot:
            topic = f"{self.prefix}/image/{alert.node}/{alert.camera}/state"
            self._cameras[alert.id] = topic
            if len(self._cameras) > MAX_WAITING_SNAPSHOTS:  # a JPEG that never came
                self._cameras.pop(next(iter(self._cameras)))
            if alert.snapshot_ready:
                self._snapshot(alert.id)

    def _snapshot(self, alert_id: str) -> None:
        topic = self._cameras.pop(alert_id, None)
        path = self.storage.alerts.snapshot_file(alert_id) if topic else None
        if topic and path is not None:
            self._states[topic] = jpeg = path.read_bytes()
            self.link.publish(topic, jpeg, retain=True)


def _json(config: dict) -> bytes:
    return json.dumps(config, separators=(",", ":")).encode()
