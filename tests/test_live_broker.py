"""Live view on both brokers: only the hub may lease a camera's stream, each node hears only
its own lease, and a node's live frames reach the hub and no other node.

A forged lease would make a gateway stream (and spend its uplink) for nobody; another node
reading a lease or a frame would see what a camera it does not own is showing. Negative
checks use a barrier: a later message the client *must* get, published after the one it
must not.
"""

from __future__ import annotations

from broker_kit import ROOT, BrokerUnderTest, broker_fixture
from conftest import SITE

from contract.live import live_topic, watch_topic

broker = broker_fixture("gw-a", "gw-b")
WATCH_A, WATCH_B = watch_topic(ROOT, SITE, "gw-a"), watch_topic(ROOT, SITE, "gw-b")
LIVE_A, LIVE_B = live_topic(ROOT, SITE, "gw-a", "cam"), live_topic(ROOT, SITE, "gw-b", "cam")


def test_the_hub_leases_a_stream_to_one_node_and_only_that_node_hears_it(
    broker: BrokerUnderTest,
) -> None:
    node_a, node_b = broker.probe("gw-a"), broker.probe("gw-b")
    node_a.subscribe(WATCH_A)
    node_b.subscribe(WATCH_B)
    node_b.subscribe(WATCH_A)  # another node's lease topic: refused or filtered
    node_b.subscribe(f"{ROOT}/{SITE}/+/watch")
    hub = broker.probe("hub")
    assert hub.publish(WATCH_A, b"lease for a")
    assert hub.publish(WATCH_B, b"barrier for b")
    assert node_a.wait_for(WATCH_A, b"lease for a")
    assert node_b.wait_for(WATCH_B, b"barrier for b")
    assert node_b.payloads(WATCH_A) == []


def test_a_node_cannot_forge_a_lease_for_itself_or_another_node(broker: BrokerUnderTest) -> None:
    node_a, node_b = broker.probe("gw-a"), broker.probe("gw-b")
    node_a.subscribe(WATCH_A)
    node_b.subscribe(WATCH_B)
    assert node_b.publish(WATCH_A, b"forged by b")
    assert node_a.publish(WATCH_A, b"forged by a itself")
    assert broker.probe("hub").publish(WATCH_A, b"barrier")
    assert node_a.wait_for(WATCH_A, b"barrier")
    assert node_a.payloads(WATCH_A) == [b"barrier"]


def test_live_frames_reach_the_hub_and_no_node(broker: BrokerUnderTest) -> None:
    hub = broker.probe("hub")
    hub.subscribe(f"{ROOT}/+/+/live/+", qos=0)
    node_a, node_b = broker.probe("gw-a"), broker.probe("gw-b")
    node_b.subscribe(LIVE_A, qos=0)
    node_b.subscribe(f"{ROOT}/{SITE}/gw-b/#", qos=0)
    node_a.subscribe(LIVE_A, qos=0)  # not even its own frames come back to it
    node_b.subscribe(WATCH_B)
    assert node_a.publish(LIVE_A, b"frame of a", qos=0)
    assert node_b.publish(LIVE_B, b"frame of b", qos=0)
    assert node_a.publish(LIVE_B, b"spoofed by a", qos=0)  # dropped: not its topic
    assert hub.wait_for(LIVE_A, b"frame of a")
    assert hub.wait_for(LIVE_B, b"frame of b")
    assert broker.probe("hub").publish(WATCH_B, b"barrier")
    assert node_b.wait_for(WATCH_B, b"barrier")
    assert node_b.payloads(LIVE_A) == [] and node_b.payloads(LIVE_B) == []
    assert node_a.payloads(LIVE_A) == []
    assert hub.payloads(LIVE_B) == [b"frame of b"]
