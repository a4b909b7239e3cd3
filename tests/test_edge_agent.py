"""The edge agent against a real mosquitto: broker late, broker restarting, nothing lost.

A stand-in hub receipts what it hears, so the outbox empties as it does with the real hub."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from broker_kit import Probe, wait_until
from conftest import REPO, SITE
from hub_helpers import make_alert
from receipt_kit import ReceiptingHub

from contract.protocol import (
    Alert,
    Channel,
    NodeStats,
    NodeStatus,
    alert_topic,
    check_snapshot,
    decode,
    encode,
    parse_topic,
)
from contract.siteconfig import SiteConfig, parse_site_config
from edge.agent import EdgeAgent

NODE = "gw-plaza"
EXAMPLE = REPO / "config" / "site.example.yaml"
pytestmark = pytest.mark.mosquitto


def site_config(cameras: bool = True) -> SiteConfig:
    """The example site with its camera unpaced and not looping, so a test plays it once."""
    data = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
    gateway = data["gateways"][0]
    if cameras:
        gateway["cameras"][0].update(realtime=False, loop=False)
    else:
        gateway["cameras"] = []
    return parse_site_config(data, EXAMPLE)


def hub_session(mosquitto, client_id: str) -> Probe:
    """A persistent hub session: the broker queues QoS 1 messages for it while it is away."""
    return Probe(
        mosquitto.hub_port, "hub", mosquitto.passwords["hub"], client_id, clean_session=False
    )


def received(hub: Probe, channel: Channel) -> list[tuple[str, bytes]]:
    with hub._lock:
        return [(t, p) for t, p, _ in hub.messages if parse_topic(t).channel is channel]


def test_agent_started_before_the_broker_delivers_every_alert_once_it_appears(
    mosquitto, tmp_path: Path
):
    connection = mosquitto.provision(NODE)
    hub = hub_session(mosquitto, "hub-late-broker")
    hub.subscribe("vw/#", qos=1)
    hub.close()
    # The hub's receipts: the outbox forgets an alert only once the hub has stored it.
    receipts = ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"], "hub-late-receipts")
    mosquitto.stop()

    raised: list[Alert] = []
    agent = EdgeAgent(site_config(), NODE, connection, tmp_path / "edge", on_alert=raised.append)
    agent.start()
    try:
        # The broker does not exist: alerts pile up in the outbox, nothing crashes.
        assert wait_until(lambda: len(raised) >= 1, timeout=60)
        assert not agent.publisher.connected
        assert agent.outbox.pending_count() >= 2  # alert + snapshot

        mosquitto.start()
        assert agent.pipelines[0].finished.wait(120)
        assert wait_until(lambda: agent.outbox.pending_count() == 0, timeout=30)
        stats = agent.stats()
        assert stats.outbox_pending == 0
        cam = stats.cameras["plaza"]
        assert cam.inference_ms > 0 and cam.skipped_frames == 0
    finally:
        agent.stop()
        receipts.close()

    hub = hub_session(mosquitto, "hub-late-broker")
    ids = {a.id for a in raised}
    assert wait_until(lambda: len(received(hub, Channel.SNAPSHOT)) >= len(ids), timeout=15)
    got = {}
    for topic, payload in received(hub, Channel.ALERT):
        alert = decode(parse_topic(topic), payload)
        got[alert.id] = alert
    assert set(got) == ids
    assert sorted(a.seq for a in got.values()) == list(range(len(ids)))
    assert all(a.zone == "lawn" and a.has_snapshot and a.objects for a in got.values())
    for topic, payload in received(hub, Channel.SNAPSHOT):
        assert parse_topic(topic).alert_id in ids
        check_snapshot(payload)
    # Stopping said goodbye: the retained status is now "offline".
    statuses = [json.loads(p) for _, p in received(hub, Channel.STATUS)]
    assert statuses and statuses[-1]["state"] == "offline"
    hub.close()


def test_agent_survives_a_broker_restart_and_keeps_publishing(mosquitto, tmp_path: Path):
    connection = mosquitto.provision(NODE)
    hub = hub_session(mosquitto, "hub-restart")
    hub.subscribe("vw/#", qos=1)
    receipts = ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"], "hub-restart-receipts")
    agent = EdgeAgent(site_config(cameras=False), NODE, connection, tmp_path, stats_interval_s=0.3)
    agent.start()
    try:
        assert wait_until(lambda: agent.publisher.connected, timeout=15)
        assert wait_until(lambda: received(hub, Channel.STATS), timeout=10)
        status = decode(
            parse_topic(received(hub, Channel.STATUS)[0][0]), received(hub, Channel.STATUS)[0][1]
        )
        assert isinstance(status, NodeStatus) and status.state == "online"

        hub.close()
        mosquitto.stop()
        assert wait_until(lambda: not agent.publisher.connected, timeout=15)
        before = queue_alert(agent)  # raised while the broker is down
        mosquitto.start()
        assert wait_until(lambda: agent.publisher.connected, timeout=30)
        after = queue_alert(agent)
        assert wait_until(lambda: agent.outbox.pending_count() == 0, timeout=15)
    finally:
        agent.stop()
        receipts.close()

    hub = hub_session(mosquitto, "hub-restart")
    topic = alert_topic("vw", SITE, NODE)
    assert wait_until(lambda: len(hub.payloads(topic)) >= 2, timeout=15)
    ids = [json.loads(p)["id"] for p in hub.payloads(topic)]
    assert before.id in ids and after.id in ids
    stats = [decode(parse_topic(t), p) for t, p in received(hub, Channel.STATS)]
    assert all(isinstance(s, NodeStats) for s in stats)
    hub.close()


def queue_alert(agent: EdgeAgent) -> Alert:
    made: list[Alert] = []

    def build(seq: int):
        made.append(make_alert(NODE, seq, has_snapshot=False))
        return [(alert_topic("vw", SITE, NODE), encode(made[0]), 1)]

    agent.outbox.put_numbered(build)
    agent.publisher.kick()
    return made[0]


def test_cameras_of_one_gateway_share_the_network_and_the_face_model_is_ready_at_start(
    mosquitto, tmp_path: Path
):
    """Two cameras on one model: one session, run by the gateway's one inference worker;
    the face model is loaded by start(), not by the first alert's snapshot."""
    data = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
    plaza = data["gateways"][0]["cameras"][0]
    plaza.update(realtime=False, loop=False)
    data["gateways"][0]["cameras"].append(dict(copy.deepcopy(plaza), name="plaza2"))
    config = parse_site_config(data, EXAMPLE)
    agent = EdgeAgent(config, NODE, mosquitto.provision(NODE), tmp_path / "edge")
    inner = [p.processor.detector.inner for p in agent.pipelines]
    assert inner[0] is not inner[1] and inner[0]._session is inner[1]._session
    assert len(agent.sessions) == 1
    agent.start()
    try:
        assert agent.blurrer._session is not None
        assert agent.wait_played(timeout=180)
        served = {k: s.served for k, s in agent.inference.service.items()}
        assert set(served) == {"plaza", "plaza2"} and min(served.values()) > 0
    finally:
        agent.stop()
