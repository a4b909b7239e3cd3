"""Shared helpers for the hub tests: real alerts, a real JPEG, a running hub, a login."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import cv2
import httpx

from contract.connection import NodeConnection
from contract.mqtt import LinkSettings, MqttLink
from contract.protocol import (
    Alert,
    DetectedObject,
    NodeRole,
    Severity,
    new_alert_id,
)
from contract.siteconfig import SiteConfig, load_site_config
from hub.service import HubService

REPO = Path(__file__).resolve().parents[1]
EXCERPT = REPO / "config" / "footage" / "vtest_lawn_excerpt.mp4"
SITE = "riverside"


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


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition"):
    """Poll until ``condition()`` is truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


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
