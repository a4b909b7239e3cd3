"""Shared helpers for the hub tests: real alerts, a real JPEG, a running hub, a login, the
hub's figures without HTTP, and the hub's HTTP API served on its own (no broker needed)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import cv2
import httpx
from conftest import EXCERPT, REPO, SITE, loopback_connection

from contract.connection import NodeConnection
from contract.ids import new_alert_id
from contract.mqtt import LinkSettings, MqttLink
from contract.protocol import (
    Alert,
    DetectedObject,
    NodeRole,
    Severity,
    alert_topic,
    encode,
)
from contract.siteconfig import SiteConfig, load_site_config
from hub.api.server import WebServer
from hub.clock import Clock, system_clock
from hub.domain.users import Role
from hub.ingest import Ingestor, IngestResult
from hub.service import HubService
from hub.stats import hub_figures
from hub.storage.repositories import Storage


def make_alert(node: str = "gw-plaza", seq: int = 0, site: str = SITE, **fields) -> Alert:
    """A realistic intrusion alert from the example site's plaza camera."""
    values = dict(
        id=new_alert_id(),
        site=site,
        node=node,
        seq=seq,
        ts=datetime.now(UTC),
        kind="intrusion",
        severity=Severity.MAJOR,
        area="plaza",
        zone="lawn",
        camera="plaza",
        message="person in zone lawn",
        objects=[DetectedObject(label="person", score=0.87, box=(300, 250, 360, 420), track_id=3)],
        frame_size=(768, 576),
        has_snapshot=True,
    )
    values.update(fields)
    return Alert(**values)


@cache
def snapshot_jpeg() -> bytes:
    """A real JPEG: the first frame of the example footage (768x576)."""
    cap = cv2.VideoCapture(str(EXCERPT))
    ok, frame = cap.read()
    cap.release()
    assert ok, f"cannot read {EXCERPT}"
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


def example_config() -> SiteConfig:
    return load_site_config(REPO / "config" / "site.example.yaml")


def start_hub(mosquitto, data_dir: Path) -> HubService:
    """The example site's hub on the ``mosquitto`` fixture, HTTP on a free port, subscribed."""
    service = HubService(
        example_config(), mosquitto.connection("hub", NodeRole.HUB), data_dir, "127.0.0.1", 0
    )
    service.start()
    assert service.wait_ready(10), "hub never subscribed"
    return service


def wait_for(
    condition: Callable[[], object],
    timeout: float = 10.0,
    what: str = "condition",
    poll_s: float = 0.05,
):
    """Poll (every ``poll_s``) until ``condition()`` is truthy; returns its value or fails
    the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll_s)


class NodeClient:
    """A provisioned node on a real broker: an MqttLink with its online status, offline
    will, and a publish that waits for the broker's acknowledgement."""

    def __init__(self, conn: NodeConnection, client_id: str | None = None) -> None:
        self.conn = conn
        self._acked: set[int] = set()
        self._cond = threading.Condition()
        self.link = MqttLink(
            LinkSettings.for_node(conn, client_id=client_id or f"test-{conn.node}"),
            on_ack=self._on_ack,
        )
        self.link.start()
        assert self.link.wait_connected(10), f"{conn.node}: {self.link.refused_reason}"

    def _on_ack(self, mid: int) -> None:  # may run before publish() has returned the mid
        with self._cond:
            self._acked.add(mid)
            self._cond.notify_all()

    def send(self, topic: str, payload: bytes) -> int:
        mid = self.link.publish(topic, payload)
        assert mid is not None, "not connected"
        return mid

    def publish(self, topic: str, payload: bytes, timeout: float = 10.0) -> None:
        """Publish at QoS 1 and wait until the broker has acknowledged it."""
        mid = self.send(topic, payload)
        with self._cond:
            assert self._cond.wait_for(lambda: mid in self._acked, timeout), f"no PUBACK: {topic}"

    def stop(self, say_offline: bool = True) -> None:
        self.link.stop(announce_offline=say_offline)

    def crash(self) -> None:
        """Die like a crashed process: the socket closes without an MQTT DISCONNECT, so the
        broker publishes the node's will at once (a power cut is only noticed after 1.5x
        the keepalive)."""
        client = self.link._client
        client.loop_stop()
        sock = client.socket()
        if sock is not None:
            sock.close()


def login(base_url: str, username: str, password: str) -> httpx.Client:
    """An httpx client holding a session cookie for ``username``."""
    client = httpx.Client(base_url=base_url, timeout=10)
    r = client.post("/api/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return client


def hub_stats(storage: Storage, ingestor: Ingestor | None = None) -> dict:
    """The figures ``GET /api/stats`` reports, for tests that have no HTTP server; with the
    ``ingestor``, counts it has decided but not yet written are in."""
    return hub_figures(storage, ingestor.pending_counts() if ingestor else None)


# --- the HTTP API on its own ---------------------------------------------------------------


def offline_connection() -> NodeConnection:
    """A hub identity pointing at a broker that is never contacted: API tests compose the
    whole hub (storage, bus, accounts, incidents, ingest, routers) but never start MQTT."""
    return loopback_connection("hub", "never-used-by-api-tests", port=1, role=NodeRole.HUB)


@dataclass
class ApiHub:
    """A real :class:`HubService` with its HTTP server running and its MQTT link left off.

    Messages go in through the hub's own ingestor (:meth:`ingest`), exactly as they would
    from the broker; one user per role is created, named after the role.
    """

    service: HubService
    server: WebServer
    passwords: dict[str, str]
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def storage(self) -> Storage:
        return self.service.storage

    @property
    def bus(self):
        return self.service.bus

    @property
    def accounts(self):
        return self.service.accounts

    @property
    def app(self):
        return self.server.app

    def ingest(self, alert: Alert) -> IngestResult:
        """Hand ``alert`` to the hub as if it came over MQTT on its node's topic."""
        topic = alert_topic(self.service.connection.topic_root, alert.site, alert.node)
        result = self.service.ingestor.handle(topic, encode(alert))
        assert result.outcome == "stored", result
        return result

    def client(
        self,
        role: str | None = None,
        token: str | None = None,
        local_address: str | None = None,
    ) -> httpx.Client:
        """Anonymous, signed in as the user named after ``role``, or holding ``token``.
        ``local_address`` (``127.0.0.2`` ...) makes the requests come from another address."""
        transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.url, timeout=10, headers=headers, transport=transport)
        self.clients.append(client)
        if role is not None:
            r = client.post("/api/login", json={"username": role, "password": self.passwords[role]})
            assert r.status_code == 200, r.text
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.server.stop()
        self.service.storage.close()


def serve_api(
    data_dir: Path,
    *,
    clock: Clock = system_clock,
    heartbeat_s: float = 15.0,
    session_idle_minutes: int | None = None,
    passwords: dict[str, str] | None = None,
    config: SiteConfig | None = None,
) -> ApiHub:
    """The example site's hub API on a free loopback port, composed by :class:`HubService`
    itself (``clock`` is the hub's: sessions, ingest and the login throttle all run on it).
    One user per role is created, unless ``passwords`` says they exist already (a restart on
    the same ``data_dir``). ``config`` replaces the example site's."""
    config = config or example_config()
    if session_idle_minutes is not None:
        hub_settings = config.hub.model_copy(update={"session_idle_minutes": session_idle_minutes})
        config = config.model_copy(update={"hub": hub_settings})
    service = HubService(
        config, offline_connection(), data_dir, clock=clock, heartbeat_s=heartbeat_s
    )
    server = WebServer(service.app, "127.0.0.1", 0)
    server.start()
    if passwords is None:
        passwords = {r.value: service.accounts.create_user(r.value, r) for r in Role}
    return ApiHub(service, server, passwords)


@dataclass
class SseEvent:
    id: str | None
    name: str | None  # the ``event:`` field
    data: object  # the ``data:`` JSON, or None for a comment-only block


class SseReader:
    """Splits a streaming ``GET /api/events`` response into SSE blocks (events or comments).
    Reads block on the client's timeout, never on a sleep."""

    def __init__(self, response: httpx.Response) -> None:
        self.chunks = response.iter_text()
        self.buf = ""

    def next(self, count: int = 1) -> list[str]:
        blocks: list[str] = []
        while len(blocks) < count:
            while "\n\n" not in self.buf:
                self.buf += next(self.chunks)  # the client timeout bounds the wait
            block, self.buf = self.buf.split("\n\n", 1)
            blocks.append(block)
        return blocks

    def event(self) -> SseEvent:
        """The next block that is an event (skips comments and the ``retry:`` hint)."""
        while True:
            fields: dict[str, str] = {}
            for line in self.next()[0].split("\n"):
                name, _, value = line.partition(":")
                if name in ("id", "event", "data"):
                    fields[name] = value.removeprefix(" ")
            if "event" in fields:
                data = json.loads(fields["data"]) if "data" in fields else None
                return SseEvent(fields.get("id"), fields["event"], data)


def ingest_plate_alert(hub, plate: str) -> str:
    """A vehicle alert whose car carries ``plate``, ingested into ``hub`` with a snapshot;
    its id (subject-request tests look for it)."""
    car = DetectedObject(label="car", score=0.9, box=(1, 2, 90, 80), track_id=4, plate=plate)
    alert = make_alert(kind="vehicle", objects=[car])
    hub.ingest(alert)
    hub.storage.alerts.save_snapshot(
        alert.site, alert.node, alert.id, snapshot_jpeg(), datetime.now(UTC)
    )
    return alert.id
