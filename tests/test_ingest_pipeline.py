"""The ingest pipeline: group commits, receipts, both link modes (through real mosquitto),
and receipts split at MAX_RECEIPT_IDS (in-process, on real SQLite).

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

from contract.mqtt import Delivery
from contract.protocol import (
    MAX_RECEIPT_IDS,
    NodeRole,
    alert_topic,
    decode_receipt,
    encode,
    receipt_topic,
)
from hub.events import EventBus
from hub.ingest import Ingestor
from hub.ingest_pipeline import IngestPipeline
from hub.service import HubService
from hub.storage.sqlite import open_sqlite_storage

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


@pytest.mark.mosquitto
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
        receipts = node.payloads(receipt_topic("vw", SITE, NODE))
        assert all(len(decode_receipt(p, SITE, NODE).ids) <= 1000 for p in receipts)
        assert len(receipts) <= hub.pipeline.batches  # one per batch, not one per alert

        resent = alerts[:10]  # as if those receipts had been lost
        for alert in resent:
            node.client.publish(alert_topic("vw", SITE, NODE), encode(alert), qos=1)
        wait_for(
            lambda: len(receipted_ids(node)) >= len(alerts) + len(resent), 30, "receipts again"
        )
        assert hub.storage.alerts.count() == len(alerts)  # stored once
    finally:
        node.close()


@pytest.mark.mosquitto
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


@pytest.mark.mosquitto
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


def test_a_node_with_more_alerts_in_a_batch_than_a_receipt_holds_gets_several(tmp_path):
    """A receipt names at most MAX_RECEIPT_IDS alerts; a batch holding more of one node's
    alerts sends it several receipts, together naming each alert once, in order."""
    storage = open_sqlite_storage(tmp_path / "hub")
    count = 2 * MAX_RECEIPT_IDS + 500
    acked: list[Delivery] = []
    sent: list[tuple[str, bytes]] = []
    pipeline = IngestPipeline(
        Ingestor(storage, EventBus(), topic_root="vw"),
        acked.extend,
        lambda topic, payload: sent.append((topic, payload)),
        max_batch=count,
    )
    alerts = [make_alert(node=NODE, seq=i, has_snapshot=False) for i in range(count)]
    for mid, alert in enumerate(alerts, 1):  # all queued before the writer starts: one batch
        pipeline.submit(Delivery(alert_topic("vw", SITE, NODE), encode(alert), mid, 1, 1))
    pipeline.start()
    try:
        wait_for(lambda: pipeline.decided == count, 30, "the batch decided")
    finally:
        pipeline.stop()
        storage.close()
    assert pipeline.batches == 1 and len(acked) == count
    assert {topic for topic, _ in sent} == {receipt_topic("vw", SITE, NODE)}
    receipts = [decode_receipt(payload, SITE, NODE) for _, payload in sent]
    assert [len(r.ids) for r in receipts] == [MAX_RECEIPT_IDS, MAX_RECEIPT_IDS, 500]
    assert [i for r in receipts for i in r.ids] == [a.id for a in alerts]
