"""Scenario "malformed packet": hostile and broken messages through a real mosquitto into a
running hub. Each is refused by the broker or quarantined by the hub; nothing becomes an
alert, and the hub keeps serving and ingesting afterwards."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from hub_helpers import NodeClient, hub_stats, make_alert, snapshot_jpeg, start_hub, wait_for
from paho.mqtt.enums import CallbackAPIVersion

from contract.protocol import (
    MAX_SNAPSHOT_BYTES,
    alert_topic,
    encode,
    snapshot_topic,
)

pytestmark = pytest.mark.mosquitto
SITE = "riverside"


@pytest.fixture
def hub(mosquitto, tmp_path: Path):
    service = start_hub(mosquitto, tmp_path / "hub")
    yield service
    service.stop()


def test_broken_messages_are_quarantined_and_the_hub_keeps_working(mosquitto, hub):
    gw = NodeClient(mosquitto.provision("gw-plaza"))
    mosquitto.provision("gate-door")
    try:
        own = alert_topic("vw", SITE, "gw-plaza")
        good = json.loads(encode(make_alert()))
        hostile = {
            "not_json": (own, b"\x00\x01 definitely not json {"),
            "wrong_version": (own, json.dumps({**good, "v": 99}).encode()),
            "invalid": (own, json.dumps({**good, "seq": -5}).encode()),
            "too_large": (own, json.dumps({"v": 1, "pad": "z" * 100_000}).encode()),
            # A payload that claims to come from the door sensor, under the gateway's topic.
            "node_mismatch": (own, encode(make_alert(node="gate-door"))),
            "not_jpeg": (snapshot_topic("vw", SITE, "gw-plaza", "cd" * 16), b"<svg>no</svg>"),
        }
        for topic, payload in hostile.values():
            gw.send(topic, payload)
        quarantine = hub.storage.quarantine
        rows = wait_for(
            lambda: len(quarantine.entries()) == len(hostile) and quarantine.entries(),
            what="quarantine rows",
        )
        assert sorted(r.reason for r in rows) == sorted(hostile)
        assert all(len(r.excerpt.encode()) < 5 * 1024 for r in rows)
        assert hub.storage.alerts.ids() == []

        # Forgery on another node's topic: the broker's ACL drops it silently (MQTT 3.1.1
        # has no way to say no). A marker published after it on the same connection
        # arrives after it would have, so once the marker is in, the forgery is not coming.
        forged = make_alert(node="gate-door", kind="door", camera=None, zone=None)
        gw.publish(alert_topic("vw", SITE, "gate-door"), encode(forged))
        marker = make_alert(seq=1)
        gw.publish(own, encode(marker))
        wait_for(lambda: marker.id in hub.storage.alerts.ids(), what="the marker alert")
        assert hub.storage.alerts.get(forged.id) is None
        assert len(quarantine.entries()) == len(hostile)

        assert httpx.get(hub.url + "api/health", timeout=5).json() == {"status": "ok"}
    finally:
        gw.stop()


def test_a_ten_megabyte_payload_is_refused_by_the_broker(mosquitto, hub):
    conn = mosquitto.provision("gw-plaza")
    disconnected = threading.Event()
    big = paho.Client(CallbackAPIVersion.VERSION2, client_id="gw-plaza-big", protocol=paho.MQTTv311)
    big.username_pw_set(conn.username, conn.password)
    big.on_disconnect = lambda *args: disconnected.set()
    big.connect(conn.host, conn.port)
    big.loop_start()
    try:
        payload = b"{" + b" " * (10 * 1024 * 1024) + b"}"
        big.publish(alert_topic("vw", SITE, "gw-plaza"), payload, qos=1)
        # mosquitto's max_packet_size cuts the sender off at the door.
        assert disconnected.wait(20), "the broker accepted a 10 MB packet"
        log = mosquitto.broker.data_dir / "mosquitto.log"
        wait_for(lambda: "disconnected due to oversize packet" in log.read_text(), what="log")
    finally:
        big.loop_stop()
        big.disconnect()

    # The hub still ingests a normal alert with its snapshot from the same node...
    gw = NodeClient(conn, client_id="gw-plaza")
    try:
        alert = make_alert(seq=7)
        gw.publish(alert_topic("vw", SITE, "gw-plaza"), encode(alert))
        gw.publish(snapshot_topic("vw", SITE, "gw-plaza", alert.id), snapshot_jpeg())
        wait_for(lambda: hub.storage.alerts.snapshot_file(alert.id), what="the snapshot")
    finally:
        gw.stop()
    # ...and never saw the big one: no quarantine row, nothing oversized anywhere.
    assert hub.storage.alerts.ids() == [alert.id]
    assert hub.storage.quarantine.entries() == []
    assert hub_stats(hub.storage)["quarantined"] == {}
    assert max(p.stat().st_size for p in hub.data_dir.rglob("*.jpg")) < MAX_SNAPSHOT_BYTES
