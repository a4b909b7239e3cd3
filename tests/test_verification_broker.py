"""Video verification on both brokers (mosquitto and the embedded one): only the hub may ask
a gateway to verify, only that gateway reads the request, and its evidence (snapshots and
clips of people) reaches the hub and no other node — not even a sensor of the same site.

Negative checks use a barrier: a later message the client *must* get, published after the
ones it must not.
"""

from __future__ import annotations

from broker_kit import ROOT, BrokerUnderTest, broker_fixture
from conftest import SITE

from contract.protocol import NodeRole
from contract.verification import evidence_topic, verify_topic

broker = broker_fixture("gw-a", "gw-b", "door-1", roles={"door-1": NodeRole.SENSOR})
VERIFY_A, VERIFY_B = verify_topic(ROOT, SITE, "gw-a"), verify_topic(ROOT, SITE, "gw-b")
REQ = "d" * 32
EVIDENCE_A = evidence_topic(ROOT, SITE, "gw-a", REQ)
EVIDENCE_B = evidence_topic(ROOT, SITE, "gw-b", REQ)


def test_only_the_gateway_reads_the_hubs_verify_requests(broker: BrokerUnderTest) -> None:
    node_a, node_b, door = broker.probe("gw-a"), broker.probe("gw-b"), broker.probe("door-1")
    node_a.subscribe(VERIFY_A)
    node_b.subscribe(VERIFY_B)
    for other in (node_b, door):  # another node's request topic: refused or filtered
        other.subscribe(VERIFY_A)
        other.subscribe(f"{ROOT}/{SITE}/+/verify")
    door_verify = verify_topic(ROOT, SITE, "door-1")
    door.subscribe(door_verify)
    hub = broker.probe("hub")
    assert hub.publish(VERIFY_A, b"verify plaza")
    assert hub.publish(VERIFY_B, b"barrier for b")
    assert hub.publish(door_verify, b"barrier for the door")
    assert node_a.wait_for(VERIFY_A, b"verify plaza")
    assert node_b.wait_for(VERIFY_B, b"barrier for b")
    assert door.wait_for(door_verify, b"barrier for the door")
    assert node_b.payloads(VERIFY_A) == [] and door.payloads(VERIFY_A) == []


def test_no_node_can_forge_a_verify_request(broker: BrokerUnderTest) -> None:
    node_a, node_b, door = broker.probe("gw-a"), broker.probe("gw-b"), broker.probe("door-1")
    node_a.subscribe(VERIFY_A)
    assert node_b.publish(VERIFY_A, b"forged by b")
    assert door.publish(VERIFY_A, b"forged by a sensor")
    assert node_a.publish(VERIFY_A, b"forged by a itself")
    assert broker.probe("hub").publish(VERIFY_A, b"barrier")
    assert node_a.wait_for(VERIFY_A, b"barrier")
    assert node_a.payloads(VERIFY_A) == [b"barrier"]


def test_evidence_reaches_the_hub_and_no_node(broker: BrokerUnderTest) -> None:
    hub = broker.probe("hub")
    hub.subscribe(f"{ROOT}/+/+/evidence/+")
    node_a, node_b, door = broker.probe("gw-a"), broker.probe("gw-b"), broker.probe("door-1")
    for name, other in (("gw-b", node_b), ("door-1", door)):
        other.subscribe(EVIDENCE_A)
        other.subscribe(f"{ROOT}/{SITE}/{name}/#")
    node_a.subscribe(EVIDENCE_A)  # not even its own evidence comes back to it
    node_b.subscribe(VERIFY_B)
    door.subscribe(verify_topic(ROOT, SITE, "door-1"))
    assert node_a.publish(EVIDENCE_A, b"snapshot of a")
    assert node_b.publish(EVIDENCE_B, b"snapshot of b")
    assert node_a.publish(EVIDENCE_B, b"spoofed by a")  # dropped: not its topic
    assert door.publish(EVIDENCE_A, b"spoofed by the door")
    assert hub.wait_for(EVIDENCE_A, b"snapshot of a")
    assert hub.wait_for(EVIDENCE_B, b"snapshot of b")
    assert broker.probe("hub").publish(VERIFY_B, b"barrier")
    assert broker.probe("hub").publish(verify_topic(ROOT, SITE, "door-1"), b"barrier")
    assert node_b.wait_for(VERIFY_B, b"barrier")
    assert door.wait_for(verify_topic(ROOT, SITE, "door-1"), b"barrier")
    assert node_b.payloads(EVIDENCE_A) == [] and door.payloads(EVIDENCE_A) == []
    assert node_a.payloads(EVIDENCE_A) == []
    assert hub.payloads(EVIDENCE_A) == [b"snapshot of a"]
    assert hub.payloads(EVIDENCE_B) == [b"snapshot of b"]
