"""The ingest pipeline through real mosquitto: group commits, receipts, both link modes.

The hub stores what paho queued in batches (one commit each), then acknowledges, then sends
each node one receipt per batch naming its alerts the hub holds — for a duplicate too (the
node re-sent because it missed the first receipt). The same holds with the MQTT connection
in its own receiver process (``ingest_process=True``, for rates above one core).
"""

from __future__ import annotations

import os
import signal

import pytest
from broker_kit import Probe
from hub_helpers import example_config, make_alert, wait_for

from contract.protocol import NodeRole, alert_topic, decode_receipt, encode, receipt_topic
from hub.service import HubService

pytestmark = pytest.mark.mosquitto
SITE, NODE = "riverside", "gw-plaza"


@pytest.fixture(params=["one_process", "receiver_process"])
def hub(request, mosquitto, tmp_path):
    service = HubService(
        example_config(),
        mosquitto.connection("hub", NodeRole.HUB),
        tmp_path / "hub",
        ingest_process=request.param == "receiver_process",
    )
    service.start()
    assert service.wait_ready(20), "hub never subscribed"
    yield service
    service.stop()


def receipted_ids(node: Probe) -> list[str]:
    topic = receipt_topic("vw", SITE, NODE)
    return [i for p in node.payloads(topic) for i in decode_receipt(p, SITE, NODE).ids]


def test_alerts_are_stored_in_batches_and_receipted_to_their_node_duplicates_too(mosquitto, hub):
    conn = mosquitto.provision(NODE)
    node = Probe(conn.port, NODE, conn.password, NODE)
    try:
        node.subscribe(receipt_topic("vw", SITE, NODE))
        alerts = [make_alert(node=NODE, seq=i, has_snapshot=False) for i in range(1000)]
        for alert in alerts:
            node.client.publish(alert_topic("vw", SITE, NODE), encode(alert), qos=1)
        ids = {a.id for a in alerts}
        wait_for(lambda: set(receipted_ids(node)) >= ids, 30, "a receipt for every alert")
        assert set(hub.storage.alerts.ids()) == ids  # a receipt means stored
        assert hub.pipeline.batches < len(alerts)  # many alerts per commit
        assert all(
            len(decode_receipt(p, SITE, NODE).ids) <= 1000
            for p in node.payloads(receipt_topic("vw", SITE, NODE))
        )

        resent = alerts[:10]  # as if those receipts had been lost
        for alert in resent:
            node.client.publish(alert_topic("vw", SITE, NODE), encode(alert), qos=1)
        wait_for(
            lambda: len(receipted_ids(node)) >= len(alerts) + len(resent), 30, "receipts again"
        )
        assert hub.storage.alerts.count() == len(alerts)  # stored once
    finally:
        node.close()


def test_a_node_never_gets_another_nodes_receipts(mosquitto, hub):
    mine, theirs = mosquitto.provision(NODE), mosquitto.provision("gate-door")
    me = Probe(mine.port, NODE, mine.password, NODE)
    other = Probe(theirs.port, "gate-door", theirs.password, "gate-door")
    try:
        me.subscribe(receipt_topic("vw", SITE, NODE))
        other.subscribe(receipt_topic("vw", SITE, "+"))  # the ACL lets it see only its own
        other.subscribe(receipt_topic("vw", SITE, "gate-door"))
        alert = make_alert(node=NODE, has_snapshot=False)
        assert me.publish(alert_topic("vw", SITE, NODE), encode(alert))
        door = make_alert(node="gate-door", kind="door", camera=None, zone=None, has_snapshot=False)
        assert other.publish(alert_topic("vw", SITE, "gate-door"), encode(door))
        wait_for(lambda: receipted_ids(me) == [alert.id], 20, "my receipt")
        wait_for(lambda: other.payloads(receipt_topic("vw", SITE, "gate-door")), 20, "theirs")
        seen = [t for t, _, _ in other.messages]
        assert receipt_topic("vw", SITE, NODE) not in seen
    finally:
        me.close()
        other.close()


def test_a_killed_receiver_process_is_replaced_and_nothing_it_held_is_lost(mosquitto, tmp_path):
    hub = HubService(
        example_config(),
        mosquitto.connection("hub", NodeRole.HUB),
        tmp_path / "hub",
        ingest_process=True,
    )
    hub.start()
    conn = mosquitto.provision(NODE)
    node = Probe(conn.port, NODE, conn.password, NODE)
    try:
        assert hub.wait_ready(20)
        first = hub.link._process.pid
        alerts = [make_alert(node=NODE, seq=i) for i in range(600)]
        for i, alert in enumerate(alerts):
            node.client.publish(alert_topic("vw", SITE, NODE), encode(alert), qos=1)
            if i == 300:
                os.kill(first, signal.SIGKILL)  # mid-burst, like a crash
        ids = {a.id for a in alerts}
        wait_for(lambda: set(hub.storage.alerts.ids()) == ids, 30, "every alert")
        assert hub.link._process.pid != first
        assert hub.storage.alerts.count() == len(alerts)
    finally:
        node.close()
        hub.stop()
