"""``villagewatch bridge zigbee2mqtt``: Zigbee2MQTT devices as VillageWatch sensor nodes.

Data flows in a straight line::

    Zigbee2MQTT's broker ──(source link: <base>/<name>, <base>/<name>/availability)──▶
      Translator (zigbee2mqtt.py: state, transitions, availability) ──▶ events
      ──▶ BridgedNode per device (node.py): alert → BridgeOutbox (SQLite) → publish,
          released by the hub's receipt; status on availability; heartbeat every period
      ──▶ VillageWatch broker, as each device's own identity

The source link is a plain paho client (not :class:`contract.mqtt.MqttLink`): it must see
each message's *retain* flag, which tells a state the broker replays at connect (old news)
from a live report (an alarm), and it must not announce a status of its own on Zigbee2MQTT's
broker. The bridge reads nothing there but the listed devices' topics.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bridge.node import BridgedNode
from bridge.outbox import BridgeOutbox
from bridge.zigbee2mqtt import Event, Translator
from contract.bridge_settings import Zigbee2MqttSettings
from contract.connection import NodeConnection
from contract.protocol import utc_now
from contract.siteconfig import SiteConfig

log = logging.getLogger(__name__)
OUTBOX_FILE = "zigbee2mqtt-outbox.sqlite"


class Zigbee2MqttBridge:
    """Start with :meth:`start`; :meth:`stop` when done. ``clock`` gives event times (tests
    pass a fixed one); ``monotonic`` paces re-sends and heartbeats."""

    def __init__(
        self,
        settings: Zigbee2MqttSettings,
        connections: dict[str, NodeConnection],
        outbox_path: Path,
        source_password: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        **link_options: object,
    ) -> None:
        missing = [d.node for d in settings.devices if d.node not in connections]
        if missing:
            raise ValueError(f"no connection file for bridged nodes {missing}")
        self.settings = settings
        self.clock, self.monotonic = clock, monotonic
        self.outbox = BridgeOutbox(outbox_path)
        self.translator = Translator(settings)
        for node, (state, since) in self.outbox.states().items():
            self.translator.restore(node, state, since)
        self.nodes = {
            d.node: BridgedNode(d, connections[d.node], self.outbox, **link_options)
            for d in settings.devices
        }
        self._started = monotonic()
        self._last_beat: float | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bridge", daemon=True)
        self.source_connected = threading.Event()
        #: Set at the first SUBACK: from here on no Zigbee2MQTT message slips past.
        self.source_ready = threading.Event()
        self.source = self._source_client(source_password)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        for node in self.nodes.values():
            node.link.start()
        s = self.settings
        self.source.connect_async(s.host, s.port, keepalive=30)
        self.source.loop_start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self.source.disconnect()
        self.source.loop_stop()
        for node in self.nodes.values():
            node.link.stop()  # announces the node offline (the bridge, not the device, left)
        self.outbox.close()

    # --- the loop: sends and heartbeats -----------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._wake.wait(0.5)
            self._wake.clear()

    def tick(self) -> None:
        """One round: send what is due, and every device's heartbeat once a period."""
        now = self.monotonic()
        for node in self.nodes.values():
            node.send_due(now, self.settings.receipt_timeout_s)
        if self._last_beat is None or now - self._last_beat >= self.settings.heartbeat_s:
            self._last_beat = now
            self.heartbeat_all()

    def heartbeat_all(self) -> int:
        """Send each device's heartbeat now; returns how many went out."""
        uptime = max(self.monotonic() - self._started, 0.0)
        sent = 0
        for node in self.nodes.values():
            state = self.translator.states[node.device.node]
            sent += node.heartbeat(state, self.clock(), uptime, self.settings.heartbeat_s)
        return sent

    # --- the source: Zigbee2MQTT's broker (paho's network thread) ----------------------------

    def _source_client(self, password: str | None) -> paho.Client:
        c = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311, clean_session=True)
        if self.settings.username:
            c.username_pw_set(self.settings.username, password)
        c.reconnect_delay_set(0.5, 10)
        c.on_connect = self._on_source_connect
        c.on_disconnect = lambda *a: self.source_connected.clear()
        c.on_message = self._on_source_message
        c.on_subscribe = lambda *a: self.source_ready.set()
        return c

    def _on_source_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("zigbee2mqtt broker refused the bridge: %s", reason_code)
            return
        # One SUBSCRIBE, so one SUBACK says every device topic is being read.
        client.subscribe([(topic, 1) for topic in self.translator.subscriptions()])
        self.source_connected.set()
        log.info("bridge: reading %d devices under %r", len(self.nodes), self.translator.base)

    def _on_source_message(self, client, userdata, message: paho.MQTTMessage) -> None:
        try:  # a bad message must never kill the network thread
            events = self.translator.handle(
                message.topic, message.payload, bool(message.retain), self.clock()
            )
            for event in events:
                self._apply(event)
            self._save_states()
        except Exception:
            log.exception("bridge: failed on a message on %r", message._topic[:200])

    def _apply(self, event: Event) -> None:
        node = self.nodes[event.device.node]
        if event.type == "availability":
            node.set_available(bool(event.online))
        else:
            node.raise_alert(event.kind, event.message, self.clock())
            self._wake.set()

    def _save_states(self) -> None:
        """Keep each changed state on disk: after a restart, a door still open is not news."""
        changed, self.translator.changed = self.translator.changed, set()
        for node in changed:
            state = self.translator.states[node]
            if state.state and state.state_since:
                self.outbox.save_state(node, state.state, state.state_since)


def bridge_from_site(config: SiteConfig, connections_dir: Path | None = None) -> Zigbee2MqttBridge:
    """The bridge a site file describes: each device's connection file (from
    ``villagewatch provision NODE``), the source broker's password file, the outbox under
    ``integrations.zigbee2mqtt.data_dir``. Raises ValueError saying what is missing."""
    settings = config.integrations.zigbee2mqtt
    if settings is None:
        raise ValueError("the site file has no integrations.zigbee2mqtt section")
    folder = connections_dir or (
        config.resolve(settings.connections_dir)
        if settings.connections_dir
        else config.resolve(config.broker.data_dir) / "nodes"
    )
    connections = {}
    for d in settings.devices:
        try:
            connections[d.node] = NodeConnection.load(folder / f"{d.node}.json")
        except ValueError as exc:
            fix = f"villagewatch provision --config FILE {d.node}"
            raise ValueError(f"{exc}\n  fix: {fix}") from None
    password = None
    if settings.password_file:
        path = config.resolve(settings.password_file)
        try:
            password = path.read_text().strip()
        except OSError as exc:
            raise ValueError(f"integrations.zigbee2mqtt.password_file: {exc}") from None
    outbox = config.resolve(settings.data_dir) / OUTBOX_FILE
    return Zigbee2MqttBridge(settings, connections, outbox, source_password=password)
