"""Test kit for the sensor-node firmware: a millisecond clock the test moves, a hub-like
listener that validates what it hears against the protocol, and a hand on each sensor's
input (``trip``) that drives it through debounce, long press or pulses on that clock.

The firmware runs exactly as written for MicroPython, on simulated pins, against a real
mosquitto (the ``mosquitto`` fixture)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from broker_kit import wait_until
from paho.mqtt.enums import CallbackAPIVersion

from contract.protocol import NodeRole, decode, parse_topic
from firmware_stubs.host_pins import SimulatedPin
from firmware_stubs.node_runtime import Node
from firmware_stubs.node_types import NODE_TYPES, InputNode, make_node

KINDS = sorted(NODE_TYPES)


class Millis:
    """A millisecond clock (like ``time.ticks_ms``) that moves only when the test says."""

    def __init__(self, start: int = 1_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: float) -> None:
        self.now += int(ms)


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
        """Every message on ``channel``, validated by contract.protocol.decode (raises if not)."""
        return [decode(parse_topic(t), p) for t, p in self.messages if t.endswith("/" + channel)]

    def wait_for(self, channel: str, count: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.decoded(channel)) < count:
            time.sleep(0.05)
        return self.decoded(channel)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def node_config(conn, **extra) -> dict:
    return {**conn.model_dump(mode="json"), "area": "north-gate", **extra}


def offline_config(node: str = "gate-door", **extra) -> dict:
    """A config whose broker is never there (port 1): for tests of the input logic alone."""
    login = {"host": "127.0.0.1", "port": 1, "username": node, "password": "x" * 16}
    return {"site": "riverside", "node": node, "area": "north-gate", **login, **extra}


class Rig:
    """One node of a kind on simulated pins (input idle, enclosure shut) and a Millis clock."""

    def __init__(self, kind: str, cfg: dict, state_dir: Path, clock: Millis | None = None) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.kind, self.cfg, self.state_dir = kind, cfg, state_dir
        self.clock = clock or Millis()
        cls = NODE_TYPES[kind]
        self.pin = SimulatedPin(1 - cfg.get("active", cls.ACTIVE))
        self.tamper = SimulatedPin(0)
        self.node: InputNode = self.boot()

    def boot(self) -> InputNode:
        """A node object from the state dir, as after a power cut."""
        self.node = make_node(
            {**self.cfg, "kind": self.kind}, self.pin, self.tamper, str(self.state_dir),
            clock=self.clock,
        )  # fmt: skip
        return self.node

    def settle(self, level: int, pin: SimulatedPin, hold_ms: int) -> None:
        pin.value(level)
        self.node.poll()
        self.clock.advance(hold_ms)
        self.node.poll()

    def trip(self) -> None:
        """What makes this sensor alarm: past debounce, a long press, enough pulses."""
        node, active = self.node, self.node.input.active
        hold = node.DEBOUNCE_MS + getattr(node, "LONG_PRESS_MS", 0)
        for _ in range(getattr(node, "PULSES", 1)):
            self.settle(active, self.pin, hold)
            self.node.poll()  # a long press fires on a poll after the hold
            self.settle(1 - active, self.pin, node.DEBOUNCE_MS)
            self.clock.advance(100)

    def open_enclosure(self) -> None:
        self.settle(1, self.tamper, 200)


def provisioned_rig(mosquitto, kind: str, tmp_path: Path, node: str = "gate-door", **cfg) -> Rig:
    conn = mosquitto.provision(node, NodeRole.SENSOR)
    return Rig(kind, node_config(conn, **cfg), tmp_path / node)


def flush_until(node: Node, condition, clock: Millis | None = None, timeout: float = 10.0) -> bool:
    """Run the node's loop until ``condition`` holds; the clock moves 100 ms a round (so the
    reconnect backoff passes), never near the 30 s receipt time-out in a normal test."""

    def step() -> bool:
        node.flush()
        if clock is not None:
            clock.advance(100)
        return condition()

    return wait_until(step, timeout)
