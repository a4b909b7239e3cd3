"""Receipts on both brokers: the hub may tell every node which alerts it stored, each node
hears only its own receipts, and no node can forge one.

A forged receipt would make an edge delete alerts the hub never stored, so these are the
ACL rules end-to-end delivery rests on. Negative checks use a barrier: a later message the
subscriber *must* get, published after the one it must not.
"""

from __future__ import annotations

from pathlib import Path

from broker_kit import ROOT, BrokerUnderTest, broker_fixture, start_broker, wait_until
from conftest import SITE

from contract.protocol import NodeRole, alert_topic, receipt_topic

RECEIPT_A = receipt_topic(ROOT, SITE, "gw-a")
RECEIPT_B = receipt_topic(ROOT, SITE, "gw-b")


broker = broker_fixture("gw-a", "gw-b", "door", roles={"door": NodeRole.SENSOR})


def test_hub_publishes_a_receipt_to_each_node_and_each_node_gets_only_its_own(
    broker: BrokerUnderTest,
) -> None:
    node_a, node_b = broker.probe("gw-a"), broker.probe("gw-b")
    node_a.subscribe(RECEIPT_A)
    node_a.subscribe(f"{ROOT}/#")  # a greedy filter must not reveal other nodes' receipts
    node_b.subscribe(RECEIPT_B)
    hub = broker.probe("hub")
    assert hub.publish(RECEIPT_B, b'{"ids": ["for b"]}')
    assert hub.publish(RECEIPT_A, b'{"ids": ["for a"]}')
    assert node_b.wait_for(RECEIPT_B, b'{"ids": ["for b"]}')
    assert node_a.wait_for(RECEIPT_A, b'{"ids": ["for a"]}')
    assert node_a.payloads(RECEIPT_B) == []


def test_sensor_nodes_get_receipts_too(broker: BrokerUnderTest) -> None:
    door = broker.probe("door")
    topic = receipt_topic(ROOT, SITE, "door")
    door.subscribe(topic)
    assert broker.probe("hub").publish(topic, b"receipt")
    assert door.wait_for(topic, b"receipt")


def test_node_cannot_subscribe_to_another_nodes_receipts(broker: BrokerUnderTest) -> None:
    node_a = broker.probe("gw-a")
    node_a.subscribe(RECEIPT_B)  # mosquitto grants and filters delivery; amqtt refuses
    node_a.subscribe(RECEIPT_A)
    hub = broker.probe("hub")
    assert hub.publish(RECEIPT_B, b"for b")
    assert hub.publish(RECEIPT_A, b"barrier")
    assert node_a.wait_for(RECEIPT_A, b"barrier")
    assert node_a.payloads(RECEIPT_B) == []


def test_node_cannot_forge_a_receipt_for_another_node_or_for_itself(
    broker: BrokerUnderTest,
) -> None:
    node_b = broker.probe("gw-b")
    node_b.subscribe(RECEIPT_B)
    node_a = broker.probe("gw-a")
    node_a.subscribe(RECEIPT_A)
    # Both brokers acknowledge a denied publish and keep the client connected (it is dropped).
    assert node_a.publish(RECEIPT_B, b"forged for b")
    assert node_a.publish(RECEIPT_A, b"forged for itself")
    hub = broker.probe("hub")
    assert hub.publish(RECEIPT_B, b"barrier b")
    assert hub.publish(RECEIPT_A, b"barrier a")
    assert node_b.wait_for(RECEIPT_B, b"barrier b")
    assert node_a.wait_for(RECEIPT_A, b"barrier a")
    assert node_b.payloads(RECEIPT_B) == [b"barrier b"]
    assert node_a.payloads(RECEIPT_A) == [b"barrier a"]
    assert not node_a.disconnected.is_set()


def test_node_cannot_publish_outside_its_data_channels(broker: BrokerUnderTest) -> None:
    hub = broker.probe("hub")
    hub.subscribe(f"{ROOT}/#")
    node_a = broker.probe("gw-a")
    stray = f"{ROOT}/{SITE}/gw-a/anything/else"
    assert node_a.publish(stray, b"stray", retain=True)
    assert node_a.publish(alert_topic(ROOT, SITE, "gw-a"), b"barrier")
    assert hub.wait_for(alert_topic(ROOT, SITE, "gw-a"), b"barrier")
    assert hub.payloads(stray) == []


def test_receipt_sent_while_a_node_was_away_reaches_its_persistent_session(
    broker: BrokerUnderTest,
) -> None:
    node = broker.probe("gw-a", client_id="gw-a", clean_session=False)
    node.subscribe(RECEIPT_A)
    node.close()
    assert broker.probe("hub").publish(RECEIPT_A, b"while away")
    back = broker.probe("gw-a", client_id="gw-a", clean_session=False)
    assert back.accepted
    assert back.wait_for(RECEIPT_A, b"while away")


def test_nodes_subscribing_while_alerts_stream_lose_no_broadcast(tmp_path: Path, caplog) -> None:
    """Every node subscribes to its receipts at each connect, often while other nodes'
    alerts are being broadcast. amqtt walked its subscription table with an ``await`` in
    the loop, and a SUBSCRIBE meanwhile broke the walk ("dictionary changed size during
    iteration"): that message never reached anyone."""
    broker = start_broker("embedded", tmp_path / "broker")
    try:
        nodes = [f"gw-{n}" for n in range(13)]
        for node in nodes:
            broker.add(node)
        sender, hub = broker.probe(nodes[0]), broker.probe("hub")
        hub.subscribe(f"{ROOT}/+/+/alert")
        topic = alert_topic(ROOT, SITE, nodes[0])
        for i in range(300):
            sender.client.publish(topic, b"alert %d" % i, qos=1)
            if i % 25 == 0:  # a node comes online mid-stream and subscribes
                node = nodes[1 + i // 25]
                broker.probe(node).subscribe(receipt_topic(ROOT, SITE, node))
        assert wait_until(lambda: len(hub.payloads(topic)) == 300), len(hub.payloads(topic))
        assert "changed size during iteration" not in caplog.text
    finally:
        broker.shutdown()
