"""Who may connect, publish and read: the same rules on mosquitto and the embedded broker.

Every scenario runs against both brokers. Negative checks ("never reaches the hub") use a
barrier: a later message the hub *must* get, published after the one it must not.
"""

from __future__ import annotations

import pytest
from broker_kit import ROOT, BrokerUnderTest, broker_fixture
from conftest import SITE

from contract.protocol import MAX_SNAPSHOT_BYTES, alert_topic, snapshot_topic, status_topic

ALERT_A = alert_topic(ROOT, SITE, "gw-a")
ALERT_B = alert_topic(ROOT, SITE, "gw-b")


broker = broker_fixture("gw-a", "gw-b")


def hub_listening(broker: BrokerUnderTest):
    hub = broker.probe("hub")
    assert hub.accepted
    hub.subscribe(f"{ROOT}/#")
    return hub


def test_anonymous_client_is_refused(broker: BrokerUnderTest) -> None:
    anon = broker.probe(None, client_id="anon")
    assert anon.connack is not None and anon.connack.is_failure


@pytest.mark.parametrize("user", ["gw-a", "nobody"])
def test_wrong_password_or_unknown_user_is_refused(broker: BrokerUnderTest, user: str) -> None:
    probe = broker.probe(user, password="not-the-password-at-all")
    assert probe.connack is not None and probe.connack.is_failure


def test_provisioned_node_connects_and_its_alert_reaches_the_hub(broker: BrokerUnderTest) -> None:
    hub = hub_listening(broker)
    node = broker.probe("gw-a")
    assert node.accepted
    assert node.publish(ALERT_A, b'{"alert": 1}')
    assert hub.wait_for(ALERT_A, b'{"alert": 1}')


def test_node_cannot_publish_under_another_nodes_topics(broker: BrokerUnderTest) -> None:
    hub = hub_listening(broker)
    node_a = broker.probe("gw-a")
    # Both brokers acknowledge the denied publish and keep the client connected (dropped).
    assert node_a.publish(ALERT_B, b"spoofed by gw-a")
    assert node_a.publish(status_topic(ROOT, SITE, "gw-b"), b"offline", retain=True)
    assert node_a.publish(ALERT_A, b"barrier")
    assert hub.wait_for(ALERT_A, b"barrier")
    assert hub.payloads(ALERT_B) == []
    assert hub.payloads(status_topic(ROOT, SITE, "gw-b")) == []
    assert not node_a.disconnected.is_set()


def test_node_cannot_read_other_nodes_topics(broker: BrokerUnderTest) -> None:
    hub_listening(broker)  # others' subscriptions must not leak retained messages to gw-a
    node_a = broker.probe("gw-a")
    node_a.subscribe(f"{ROOT}/#")  # mosquitto grants it but filters delivery; amqtt refuses it
    node_a.subscribe(f"{ROOT}/{SITE}/gw-a/#")
    node_b = broker.probe("gw-b")
    assert node_b.publish(ALERT_B, b"for the hub only", retain=True)
    assert node_a.publish(ALERT_A, b"barrier")
    assert node_a.wait_for(ALERT_A, b"barrier")
    assert node_a.payloads(ALERT_B) == []
    late = broker.probe("gw-a", client_id="gw-a-late")
    late.subscribe(f"{ROOT}/#")
    late.subscribe(f"{ROOT}/{SITE}/gw-a/#")
    assert late.payloads(ALERT_B) == []


def test_unauthenticated_connect_cannot_hijack_a_connected_client_id(
    broker: BrokerUnderTest,
) -> None:
    hub = hub_listening(broker)
    intruder = broker.probe(None, client_id=hub.client._client_id.decode())
    assert intruder.connack is not None and intruder.connack.is_failure
    wrong = broker.probe("hub", client_id=hub.client._client_id.decode(), password="x" * 24)
    assert wrong.connack is not None and wrong.connack.is_failure
    node = broker.probe("gw-a")
    assert node.publish(ALERT_A, b"still delivered")
    assert hub.wait_for(ALERT_A, b"still delivered")
    assert not hub.disconnected.is_set()


def test_last_will_on_another_nodes_topic_is_never_published(broker: BrokerUnderTest) -> None:
    hub = hub_listening(broker)
    victim_status = status_topic(ROOT, SITE, "gw-b")
    liar = broker.probe("gw-a", will=(victim_status, b"offline"))
    assert liar.accepted  # mosquitto 2.0 accepts the client and drops the will when it fires
    liar.vanish()
    barrier = broker.probe("gw-a", client_id="gw-a-barrier")
    assert barrier.publish(ALERT_A, b"barrier")
    assert hub.wait_for(ALERT_A, b"barrier")
    late = broker.probe("hub", client_id="hub-late")
    late.subscribe(f"{ROOT}/#")
    assert hub.payloads(victim_status) == [] and late.payloads(victim_status) == []


def test_oversized_publish_is_refused_and_reaches_no_subscriber(broker: BrokerUnderTest) -> None:
    hub = hub_listening(broker)
    sender = broker.probe("gw-a")
    huge_topic = snapshot_topic(ROOT, SITE, "gw-a", "a" * 32)
    sender.client.publish(huge_topic, b"\xff" * (10 * 1024 * 1024), qos=1)
    assert sender.disconnected.wait(10), "the broker kept a client sending a 10 MB packet"
    barrier = broker.probe("gw-a", client_id="gw-a-barrier")
    assert barrier.publish(ALERT_A, b"barrier")
    assert hub.wait_for(ALERT_A, b"barrier")
    assert hub.payloads(huge_topic) == []


def test_snapshot_of_the_largest_allowed_size_is_delivered(broker: BrokerUnderTest) -> None:
    hub = hub_listening(broker)
    sender = broker.probe("gw-a")
    topic = snapshot_topic(ROOT, SITE, "gw-a", "b" * 32)
    jpeg = b"\xff\xd8" + b"\x00" * (MAX_SNAPSHOT_BYTES - 4) + b"\xff\xd9"
    assert sender.publish(topic, jpeg)
    assert hub.wait_for(topic, jpeg)
