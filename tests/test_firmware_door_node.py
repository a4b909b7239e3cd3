"""The door-node firmware speaks the protocol and loses nothing while the broker is away.

It runs on the host exactly as written for MicroPython, against a real mosquitto.
"""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from receipt_kit import ReceiptingHub

from contract.protocol import Alert, NodeRole, NodeStatus, decode, parse_topic
from firmware_stubs.door_node import DoorNode
from firmware_stubs.host_pins import SimulatedPin


class Listener:
    """A hub-like subscriber collecting every message under vw/#."""

    def __init__(self, port: int, password: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.ready = threading.Event()
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id="listener")
        c.username_pw_set("hub", password)
        c.on_connect = lambda cl, *_: cl.subscribe("vw/#", 1)
        c.on_subscribe = lambda *_: self.ready.set()  # SUBACK, not CONNACK: then nothing is missed
        c.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client = c
        assert self.ready.wait(5)

    def decoded(self, channel: str) -> list:
        return [decode(parse_topic(t), p) for t, p in self.messages if t.endswith("/" + channel)]

    def wait_for(self, channel: str, count: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.decoded(channel)) < count:
            time.sleep(0.05)
        return self.decoded(channel)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def node_config(conn) -> dict:
    return {**conn.model_dump(mode="json"), "area": "north-gate"}


def open_door(node: DoorNode, pin: SimulatedPin) -> None:
    """Hold the contact open past the debounce time, then close it."""
    pin.value(1)
    for _ in range(10):
        node.poll()
        time.sleep(0.01)
    pin.value(0)
    for _ in range(10):
        node.poll()
        time.sleep(0.01)


def test_door_opening_reaches_subscribers_as_a_valid_protocol_alert(mosquitto, tmp_path):
    conn = mosquitto.provision("gate-door", NodeRole.SENSOR)
    listener = Listener(mosquitto.hub_port, mosquitto.passwords["hub"])
    pin = SimulatedPin(0)
    node = DoorNode(node_config(conn), pin, state_dir=str(tmp_path))
    try:
        open_door(node, pin)
        assert node.flush() == 1
        alerts = listener.wait_for("alert", 1)
        assert len(alerts) == 1 and isinstance(alerts[0], Alert)
        assert (alerts[0].kind, alerts[0].area, alerts[0].seq) == ("door", "north-gate", 0)
        statuses = listener.wait_for("status", 1)
        assert isinstance(statuses[0], NodeStatus) and statuses[0].state == "online"
    finally:
        node.shutdown()
        listener.close()


def test_contact_bounce_shorter_than_debounce_raises_nothing(tmp_path):
    pin = SimulatedPin(0)
    cfg = {
        "site": "riverside",
        "node": "gate-door",
        "host": "127.0.0.1",
        "port": 1,
        "username": "gate-door",
        "password": "x" * 16,
    }
    node = DoorNode(cfg, pin, state_dir=str(tmp_path))
    pin.value(1)
    node.poll()
    pin.value(0)
    node.poll()
    time.sleep(0.08)
    node.poll()
    assert node.queued() == []


def test_alerts_raised_while_broker_is_down_are_delivered_in_order_after_restart(
    mosquitto, tmp_path
):
    conn = mosquitto.provision("gate-door", NodeRole.SENSOR)
    mosquitto.stop()
    pin = SimulatedPin(0)
    node = DoorNode(node_config(conn), pin, state_dir=str(tmp_path))
    for _ in range(3):
        open_door(node, pin)
        assert node.flush() == 0  # broker away: nothing sent, nothing lost
    # A power cut: the node restarts from flash with the same queue and sequence counter.
    node = DoorNode(node_config(conn), pin, state_dir=str(tmp_path))
    assert len(node.queued()) == 3
    mosquitto.start()
    listener = Listener(mosquitto.hub_port, mosquitto.passwords["hub"])
    hub = ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"])
    try:
        deadline = time.monotonic() + 10
        while node.queued() and time.monotonic() < deadline:
            node.flush()
            time.sleep(0.05)
        assert node.queued() == [] and node.receipted == 3  # the hub has each one
        alerts = listener.wait_for("alert", 3)
        assert [a.seq for a in alerts] == [0, 1, 2]
        assert len({a.id for a in alerts}) == 3
    finally:
        node.shutdown()
        hub.close()
        listener.close()


def test_node_that_vanishes_is_reported_offline_by_its_last_will(mosquitto, tmp_path):
    conn = mosquitto.provision("gate-door", NodeRole.SENSOR)
    listener = Listener(mosquitto.hub_port, mosquitto.passwords["hub"])
    node = DoorNode(node_config(conn), SimulatedPin(0), state_dir=str(tmp_path))
    try:
        node.flush()  # connects and announces online
        assert listener.wait_for("status", 1)[-1].state == "online"
        node.client.close()  # power cut: no DISCONNECT packet
        statuses = listener.wait_for("status", 2)
        assert [s.state for s in statuses][-1] == "offline"
    finally:
        listener.close()
