"""One bridged device as a VillageWatch node: its own broker identity and connection.

Each Zigbee device the site file lists is provisioned like any sensor node
(``villagewatch provision NODE``) and the bridge connects once per device with that node's
connection file. Why per-device identities rather than one bridge identity allowed to write
every listed device's topics:

- "each identity can act only as itself" stays literally true, with the broker ACL as it is:
  a device's identity writes only its own status, alert and heartbeat topics and reads only
  its own receipts, like a firmware node; nothing new to get wrong in ``broker/``;
- each connection carries its own last will, so if the bridge dies the broker marks every
  bridged device ``offline`` (one shared connection could leave only one will);
- moving a device from the bridge to native firmware changes nothing at the hub.

The cost is one MQTT connection (and paho thread) per device: fine for the tens of sensors a
village has; a site with hundreds would want the shared identity instead.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import datetime

from bridge.outbox import BridgeOutbox
from bridge.zigbee2mqtt import DeviceState
from contract.bridge_settings import Zigbee2MqttDevice
from contract.connection import NodeConnection
from contract.ids import new_alert_id
from contract.mqtt import LinkSettings, MqttLink, node_status
from contract.protocol import (
    Alert,
    Heartbeat,
    ProtocolError,
    alert_topic,
    decode_receipt,
    encode,
    heartbeat_topic,
    receipt_topic,
)

log = logging.getLogger(__name__)
SOFTWARE = "villagewatch-bridge-zigbee2mqtt"


class BridgedNode:
    """The node one device speaks as: alerts through the outbox, heartbeats and status."""

    def __init__(
        self,
        device: Zigbee2MqttDevice,
        connection: NodeConnection,
        outbox: BridgeOutbox,
        **link_options: object,
    ) -> None:
        self.device = device
        self.connection = connection
        self.outbox = outbox
        self.available = True  # until Zigbee2MQTT says the device is offline
        self._receipts = receipt_topic(connection.topic_root, connection.site, connection.node)
        settings = LinkSettings.for_node(
            connection, software=SOFTWARE, subscriptions=[(self._receipts, 1)], **link_options
        )
        # The retained status at each (re)connect follows the device, not the bridge: a
        # device Zigbee2MQTT calls offline stays offline when the bridge reconnects.
        settings = dataclasses.replace(settings, online=self._status_message)
        self.link = MqttLink(
            settings, on_message=self._on_message, on_connection_change=self._on_connection
        )
        self.receipted = 0
        self._lock = threading.Lock()

    def _status_message(self) -> tuple[str, bytes]:
        state = "online" if self.available else "offline"
        return node_status(self.connection, state, SOFTWARE)

    # --- what the bridge calls -------------------------------------------------------------

    def raise_alert(self, kind: str, message: str, now: datetime) -> Alert:
        """Store an alert of this node (it is sent by :meth:`send_due`)."""
        c, d = self.connection, self.device

        def make(seq: int) -> Alert:
            return Alert(
                id=new_alert_id(),
                site=c.site,
                node=c.node,
                seq=seq,
                ts=now,
                kind=kind,
                severity=d.alert_severity,
                area=d.area,
                message=f"{d.friendly_name}: {message}"[:280],
            )

        alert = self.outbox.add(c.node, make)
        log.info("%s (%s): %s alert %s", c.node, d.friendly_name, kind, alert.id)
        return alert

    def send_due(self, now: float, timeout_s: float) -> int:
        """Publish the alerts waiting for their first send or their re-send."""
        if not self.link.connected.is_set():
            return 0
        c = self.connection
        topic = alert_topic(c.topic_root, c.site, c.node)
        due = self.outbox.due(c.node, now, timeout_s)
        sent = [i for i, p in due if self.link.publish(topic, p) is not None]
        self.outbox.mark_sent(sent, now)
        return len(sent)

    def set_available(self, online: bool) -> None:
        """Zigbee2MQTT says the device came or went: publish the node's retained status."""
        self.available = online
        topic, payload = self._status_message()
        self.link.publish(topic, payload, qos=1, retain=True)

    def heartbeat(
        self, state: DeviceState, now: datetime, uptime_s: float, interval_s: int
    ) -> bool:
        """Publish the device's health; skipped while it is offline or not yet heard from.

        ``rssi_dbm`` stays empty: Zigbee2MQTT's ``linkquality`` is an LQI (0-255), not a
        signal strength in dBm, and no honest conversion exists."""
        if not state.seen or not self.available:
            return False
        c = self.connection
        beat = Heartbeat(
            site=c.site,
            node=c.node,
            ts=now,
            interval_s=interval_s,
            uptime_s=uptime_s,
            battery_v=state.battery_v,
            battery_pct=state.battery_pct,
            tamper=state.tamper,
            state=state.state,
            state_since=state.state_since,
            queued=self.outbox.pending(c.node),
        )
        topic = heartbeat_topic(c.topic_root, c.site, c.node)
        return self.link.publish(topic, encode(beat)) is not None

    # --- the link's callbacks (network thread) ---------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic != self._receipts:
            return
        try:
            receipt = decode_receipt(payload, self.connection.site, self.connection.node)
        except ProtocolError as exc:  # never trust it: a bad receipt releases nothing
            log.warning("%s: ignored a bad receipt: %s", self.connection.node, exc)
            return
        released = self.outbox.release(self.connection.node, receipt.ids)
        with self._lock:
            self.receipted += released

    def _on_connection(self, connected: bool) -> None:
        if not connected:  # what was in flight may be lost: send it again on reconnect
            self.outbox.unsent(self.connection.node)
