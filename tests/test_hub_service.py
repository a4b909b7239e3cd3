"""The composed hub service against a real mosquitto: its own status, durable delivery
across a hub restart, dedupe of redelivered alerts, first admin, retention at start."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import httpx
import paho.mqtt.client as paho
import pytest
from hub_helpers import NodeClient, example_config, hub_stats, make_alert, start_hub, wait_for
from paho.mqtt.enums import CallbackAPIVersion

from contract.protocol import NodeRole, alert_topic, decode, encode, parse_topic, status_topic
from hub.service import HubService

pytestmark = pytest.mark.mosquitto
SITE = "riverside"


def retained_status(mosquitto, node: str) -> str:
    """The retained status of ``node`` as a fresh subscriber sees it."""
    got: list[bytes] = []
    done = threading.Event()
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="probe", protocol=paho.MQTTv311)
    c.username_pw_set("hub", mosquitto.passwords["hub"])
    topic = status_topic("vw", SITE, node)
    c.on_connect = lambda client, *a: client.subscribe(topic, 1)
    c.on_message = lambda client, userdata, msg: (got.append(msg.payload), done.set())
    c.connect("127.0.0.1", mosquitto.port)
    c.loop_start()
    try:
        assert done.wait(10), f"no retained status for {node}"
    finally:
        c.loop_stop()
        c.disconnect()
    return decode(parse_topic(topic), got[0]).state


def test_hub_announces_itself_and_says_goodbye(mosquitto, tmp_path):
    hub = start_hub(mosquitto, tmp_path / "hub")
    try:
        assert hub.url.startswith("http://127.0.0.1:") and not hub.url.endswith(":0/")
        me = wait_for(lambda: hub.storage.nodes.get(SITE, "hub"), what="hub's own status")
        assert (me.state, me.role) == ("online", "hub")
        assert retained_status(mosquitto, "hub") == "online"
    finally:
        hub.stop()
    assert retained_status(mosquitto, "hub") == "offline"


def test_alerts_sent_while_the_hub_is_down_arrive_when_it_returns(mosquitto, tmp_path):
    hub = start_hub(mosquitto, tmp_path / "hub")
    hub.stop()  # the broker keeps the hub's session and queues QoS 1 messages for it
    gw = NodeClient(mosquitto.provision("gw-plaza"), client_id="gw-plaza")
    try:
        missed = [make_alert(seq=i) for i in range(3)]
        for alert in missed:
            gw.publish(alert_topic("vw", SITE, "gw-plaza"), encode(alert))
    finally:
        gw.stop()
    hub = start_hub(mosquitto, tmp_path / "hub")
    try:
        ids = [a.id for a in missed]
        wait_for(lambda: set(ids) <= set(hub.storage.alerts.ids()), what="queued alerts")
        assert hub_stats(hub.storage)["seq_gaps"] == 0
    finally:
        hub.stop()


def test_a_redelivered_alert_is_stored_once_and_logged_once(mosquitto, tmp_path, caplog):
    hub = start_hub(mosquitto, tmp_path / "hub")
    gw = NodeClient(mosquitto.provision("gw-plaza"), client_id="gw-plaza")
    try:
        alert = make_alert(seq=0)
        with caplog.at_level(logging.INFO, logger="hub.ingest"):
            for _ in range(2):  # an edge outbox resending after a lost PUBACK
                gw.publish(alert_topic("vw", SITE, "gw-plaza"), encode(alert))
            wait_for(
                lambda: hub_stats(hub.storage, hub.ingestor)["duplicates"] == 1,
                what="the duplicate",
            )
        assert hub.storage.alerts.ids() == [alert.id]
        lines = [r.getMessage() for r in caplog.records if r.name == "hub.ingest"]
        assert sum(alert.id in line for line in lines) == 1
    finally:
        gw.stop()
        hub.stop()


def test_first_admin_is_created_once_and_can_sign_in(mosquitto, tmp_path):
    hub = start_hub(mosquitto, tmp_path / "hub")
    try:
        password = hub.ensure_admin()
        assert password and hub.ensure_admin() is None
        r = httpx.post(hub.url + "api/login", json={"username": "admin", "password": password})
        assert r.status_code == 200 and r.json()["role"] == "admin"
    finally:
        hub.stop()


def test_retention_purges_old_alerts_when_the_hub_starts(mosquitto, tmp_path):
    service = HubService(
        example_config(),
        mosquitto.connection("hub", NodeRole.HUB),
        tmp_path / "hub",
        "127.0.0.1",
        0,
    )
    old, recent = make_alert(seq=0), make_alert(seq=1)
    service.storage.alerts.insert(old, received_at=datetime.now(UTC) - timedelta(days=31))
    service.storage.alerts.insert(recent, received_at=datetime.now(UTC))
    service.start()
    try:
        wait_for(lambda: service.storage.alerts.ids() == [recent.id], what="the purge")
    finally:
        service.stop()


def test_an_alert_the_hub_cannot_persist_is_not_acknowledged_and_arrives_later(mosquitto, tmp_path):
    """Persisted before acknowledged: with the database refusing writes (a full or failing
    disk), the hub withholds the PUBACK, so the broker keeps the alert and redelivers it to
    the hub's persistent session once the hub is back on its feet."""
    hub = start_hub(mosquitto, tmp_path / "hub")
    gw = NodeClient(mosquitto.provision("gw-plaza"), client_id="gw-plaza")
    alert = make_alert(seq=0)
    try:
        # The node's online status stored first: from here on the alert is the only message.
        wait_for(lambda: hub.storage.nodes.get(SITE, "gw-plaza"), what="the node's status")
        database = hub.storage.alerts.database
        with database.read() as db:
            db.execute("PRAGMA query_only = 1")  # real SQLite, refusing every write
        gw.publish(alert_topic("vw", SITE, "gw-plaza"), encode(alert))
        # The hub has the alert and its commit was refused (not: the alert is on its way).
        wait_for(lambda: hub.pipeline.storage_failures >= 1, what="a refused commit")
        assert hub.link.connected.is_set(), "hub still connected"
        assert hub.storage.alerts.ids() == []
    finally:
        gw.stop()
        hub.stop()
    hub = start_hub(mosquitto, tmp_path / "hub")
    try:
        wait_for(lambda: hub.storage.alerts.ids() == [alert.id], what="the redelivered alert")
    finally:
        hub.stop()
