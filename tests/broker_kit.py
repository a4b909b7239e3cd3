"""Test kit for the broker scenarios: either broker on a free port, and a raw MQTT probe.

``start_broker("mosquitto" | "embedded", folder)`` starts the real thing with a ``hub``
identity; :class:`Probe` is a bare paho client that records what it receives, never
reconnects on its own, and can vanish without a DISCONNECT (so the broker fires its will).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from conftest import SITE, loopback_connection, require_mosquitto
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from broker.credentials import CredentialStore
from broker.embedded import EmbeddedBroker
from broker.mosquitto import MosquittoBroker
from contract.connection import NodeConnection
from contract.mqtt import LinkSettings
from contract.protocol import NodeRole, status_topic

BROKER_KINDS = ["mosquitto", "embedded"]
ROOT = "vw"
WAIT_S = 10.0


@dataclass
class BrokerUnderTest:
    broker: MosquittoBroker | EmbeddedBroker
    store: CredentialStore
    passwords: dict[str, str] = field(default_factory=dict)
    probes: list[Probe] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.broker.kind

    @property
    def port(self) -> int:
        """The node listener: every client's id becomes its username."""
        return self.broker.port

    @property
    def hub_port(self) -> int:
        """The hub listener: only hub identities log in, with ids of their choosing."""
        return self.broker.hub_port

    def add(self, node: str, role: NodeRole = NodeRole.CAMERA_GATEWAY) -> str:
        """Provision ``node`` in the store and reload the broker; returns its password."""
        self.passwords[node] = self.store.add(node, role, SITE)
        self.broker.reload()
        return self.passwords[node]

    def connection(self, node: str, role: NodeRole = NodeRole.CAMERA_GATEWAY) -> NodeConnection:
        port = self.hub_port if role is NodeRole.HUB else self.port
        return loopback_connection(node, self.passwords[node], port, role, SITE)

    def listener_for(self, node: str | None) -> int:
        """The port an identity normally uses: the hub's listener for hub identities."""
        ident = self.store.load().get(node) if node else None
        return self.hub_port if ident and ident.role is NodeRole.HUB else self.port

    def link_settings(self, node: str, **kw) -> LinkSettings:
        """MqttLink settings of a node with its online status and offline will."""
        topic = status_topic(ROOT, SITE, node)
        return LinkSettings(
            host="127.0.0.1",
            port=self.listener_for(node),
            username=node,
            password=self.passwords[node],
            client_id=node,
            online=(topic, b"online"),
            will=(topic, b"offline"),
            keepalive=5,
            min_backoff_s=0.2,
            max_backoff_s=1.0,
            **kw,
        )

    def probe(
        self,
        node: str | None,
        client_id: str | None = None,
        password: str | None = None,
        port: int | None = None,
        **kw,
    ) -> Probe:
        """A connected Probe as ``node`` (None: anonymous) on ``port`` (default: the hub
        listener for hub identities, else the node listener), closed by :meth:`shutdown`."""
        if password is None and node is not None:
            password = self.passwords[node]
        port = port or self.listener_for(node)
        p = Probe(port, node, password, client_id or f"{node}-probe", **kw)
        self.probes.append(p)
        return p

    def shutdown(self) -> None:
        for p in self.probes:
            p.close()
        self.broker.stop()


def start_broker(kind: str, folder: Path) -> BrokerUnderTest:
    if kind == "mosquitto":
        require_mosquitto()
    store = CredentialStore(folder / "identities.json", ROOT)
    cls = MosquittoBroker if kind == "mosquitto" else EmbeddedBroker
    running = BrokerUnderTest(cls(folder, store), store)
    running.passwords["hub"] = store.add("hub", NodeRole.HUB, SITE)
    running.broker.start()
    return running


def broker_fixture(*nodes: str, roles: dict[str, NodeRole] | None = None):
    """A ``broker`` fixture for a test module: every test runs on both brokers, with
    ``nodes`` provisioned (camera gateways unless ``roles`` says otherwise)::

        broker = broker_fixture("gw-a", "gw-b")
    """
    roles = roles or {}

    @pytest.fixture(params=BROKER_KINDS)
    def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerUnderTest]:
        running = start_broker(request.param, tmp_path / "broker")
        for node in nodes:
            running.add(node, roles.get(node, NodeRole.CAMERA_GATEWAY))
        yield running
        running.shutdown()

    return broker


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class Probe:
    """A plain MQTT 3.1.1 client that records messages and never reconnects by itself."""

    def __init__(
        self,
        port: int,
        username: str | None,
        password: str | None,
        client_id: str,
        will: tuple[str, bytes] | None = None,
        keepalive: int = 30,
        clean_session: bool = True,
    ) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.connack: paho.ReasonCode | None = None
        self.disconnected = threading.Event()
        self._lock = threading.Lock()
        c = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv311,
            clean_session=clean_session,
        )
        if username is not None:
            c.username_pw_set(username, password)
        if will:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_disconnect = lambda *a: self.disconnected.set()
        self.client = c
        self._connected = threading.Event()
        self._running = True
        c.connect("127.0.0.1", port, keepalive)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        wait_until(lambda: self.connack is not None or self.disconnected.is_set())

    # paho callbacks
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connack = reason_code
        self._connected.set()

    def _on_message(self, client, userdata, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def _loop(self) -> None:
        while self._running:
            if self.client.loop(0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self.disconnected.set()
                return

    # API
    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe and wait for the SUBACK (so later publishes are certainly matched)."""
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(topic, qos)
        assert done.wait(WAIT_S), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
        """Publish and wait for the broker's PUBACK; False if it never came."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return wait_until(info.is_published, timeout=WAIT_S) if qos else True

    def payloads(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.messages if t == topic]

    def wait_for(self, topic: str, payload: bytes | None = None, timeout: float = WAIT_S) -> bool:
        return wait_until(lambda: any(payload in (None, p) for p in self.payloads(topic)), timeout)

    def vanish(self) -> None:
        """Drop the TCP connection without DISCONNECT, as a node losing power would."""
        self._running = False
        self._thread.join()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def go_silent(self) -> None:
        """Stop talking (no PINGREQ) but keep the socket open: only the keepalive can tell."""
        self._running = False
        self._thread.join()

    def close(self) -> None:
        """A clean DISCONNECT (the broker discards the will)."""
        if self._running:
            self.client.disconnect()
            self.disconnected.wait(2)
            self._running = False
            self._thread.join()
        sock = self.client.socket()
        if sock is not None:
            sock.close()


def write_site(folder: Path, **broker_settings) -> Path:
    """The example site file, copied into ``folder`` with its broker section overridden
    (free ports and a broker data folder inside ``folder`` unless given; ``tls_port="free"``
    adds a TLS listener on a free port)."""
    import yaml
    from conftest import REPO

    data = yaml.safe_load((REPO / "config" / "site.example.yaml").read_text())
    # The copy lives elsewhere: its site plan stays where the example keeps it.
    data["map"]["image"] = str(REPO / "config" / data["map"]["image"])
    port, hub_port, tls_port = free_ports(3)
    if broker_settings.get("tls_port") == "free":  # a TLS listener on a free port
        broker_settings["tls_port"] = tls_port
    data["broker"] = {
        "kind": "auto",
        "host": "127.0.0.1",
        "port": port,
        "hub_port": hub_port,
        "data_dir": str(folder / "broker"),
        **broker_settings,
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (held open together while picked)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
