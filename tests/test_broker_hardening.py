"""Issue 7, test 7: client-id takeover, a wiped hub session and retained abuse are refused,
on mosquitto and on the embedded broker alike.

Both brokers have two listeners. On the node listener every client's id *becomes its
username*, whatever it asked for, so a node can only ever replace its own connection. The
hub listener admits hub identities only. Negative checks use a barrier: a later message the
subscriber *must* get, published after the one it must not.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from broker_kit import ROOT, BrokerUnderTest, broker_fixture, start_broker, wait_until
from conftest import SITE

from broker.mosquitto import MosquittoBroker
from broker.retained import MAX_RETAINED_STATUS_BYTES
from contract.protocol import NodeRole, alert_topic, snapshot_topic, stats_topic, status_topic

ALERT_A = alert_topic(ROOT, SITE, "gw-a")
ALERT_B = alert_topic(ROOT, SITE, "gw-b")
STATUS_A = status_topic(ROOT, SITE, "gw-a")
HUB_ID = "vw-hub-riverside-3f9c2a7d41b06e85"  # as provisioning makes it: random


broker = broker_fixture("gw-a", "gw-b")


# --- client ids -------------------------------------------------------------------------------


def test_a_node_using_another_nodes_client_id_does_not_disconnect_it(
    broker: BrokerUnderTest,
) -> None:
    hub = broker.probe("hub")
    hub.subscribe(f"{ROOT}/#")
    victim = broker.probe("gw-b", client_id="gw-b")
    assert victim.accepted
    intruder = broker.probe("gw-a", client_id="gw-b")
    assert intruder.accepted  # admitted, but as client "gw-a"
    assert victim.publish(ALERT_B, b"still connected")
    assert hub.wait_for(ALERT_B, b"still connected")
    assert not victim.disconnected.is_set()


def test_a_nodes_second_connection_replaces_only_its_own_first(broker: BrokerUnderTest) -> None:
    first = broker.probe("gw-a", client_id="anything")
    other = broker.probe("gw-b", client_id="something-else")
    second = broker.probe("gw-a", client_id="whatever")  # same username, so same client id
    assert second.accepted
    assert first.disconnected.wait(10), "a node's id is its username: the first is replaced"
    assert not other.disconnected.is_set()


def test_a_node_cannot_log_in_on_the_hub_listener(broker: BrokerUnderTest) -> None:
    on_hub_port = broker.probe("gw-a", client_id=HUB_ID, port=broker.hub_port)
    assert on_hub_port.connack is not None and on_hub_port.connack.is_failure


def test_a_node_cannot_kick_the_hub_off(broker: BrokerUnderTest) -> None:
    hub = broker.probe("hub", client_id=HUB_ID, clean_session=False)
    hub.subscribe(f"{ROOT}/+/+/alert")
    for port in (broker.port, broker.hub_port):
        broker.probe("gw-a", client_id=HUB_ID, port=port)
    node = broker.probe("gw-b")
    assert node.publish(ALERT_B, b"barrier")
    assert hub.wait_for(ALERT_B, b"barrier")
    assert not hub.disconnected.is_set()


def test_a_clean_session_connect_with_the_hubs_id_cannot_wipe_its_queued_alerts(
    broker: BrokerUnderTest,
) -> None:
    hub = broker.probe("hub", client_id=HUB_ID, clean_session=False)
    hub.subscribe(f"{ROOT}/+/+/alert")
    hub.close()  # the hub restarts: the broker queues alerts for its session meanwhile
    node = broker.probe("gw-b")
    assert node.publish(ALERT_B, b"queued for the hub")
    # The attack: clean-session connects with the hub's id on both listeners.
    for port in (broker.port, broker.hub_port):
        wiper = broker.probe("gw-a", client_id=HUB_ID, clean_session=True, port=port)
        wiper.close()
    back = broker.probe("hub", client_id=HUB_ID, clean_session=False)
    assert back.accepted
    assert back.wait_for(ALERT_B, b"queued for the hub")


# --- retained messages ------------------------------------------------------------------------


def abuse_retained(broker: BrokerUnderTest, count: int = 30) -> list[str]:
    """gw-a stores 100 KB retained messages on every topic it may write; returns them."""
    node = broker.probe("gw-a")
    assert node.publish(STATUS_A, b'{"state": "online"}', retain=True)  # the legitimate one
    big = b"\x00" * 100_000
    topics = [snapshot_topic(ROOT, SITE, "gw-a", f"{i:032x}") for i in range(count)]
    topics += [ALERT_A, stats_topic(ROOT, SITE, "gw-a")]
    for topic in topics:
        assert node.publish(topic, big, retain=True)
    node.close()
    return topics


def retained_now(broker: BrokerUnderTest, client_id: str) -> dict[str, int]:
    """Topic -> size of every retained message a subscriber arriving now is sent."""
    late = broker.probe("hub", client_id=client_id)
    late.subscribe(f"{ROOT}/#")
    assert late.publish(f"{ROOT}/{SITE}/hub/status", b"barrier")  # after every retained one
    assert late.wait_for(f"{ROOT}/{SITE}/hub/status", b"barrier")
    with late._lock:
        return {t: len(p) for t, p, retained in late.messages if retained and p}


def sweep(broker: BrokerUnderTest) -> None:
    """Mosquitto: run the sweeper now, as it runs every 10 s (the embedded broker never
    stores a stray retained message in the first place)."""
    if isinstance(broker.broker, MosquittoBroker):
        broker.broker.sweeper.sweep()


def test_a_node_keeps_only_its_small_status_retained(broker: BrokerUnderTest) -> None:
    abuse_retained(broker)
    sweep(broker)
    assert retained_now(broker, "late") == {STATUS_A: len(b'{"state": "online"}')}


def test_retained_abuse_does_not_survive_a_broker_restart(broker: BrokerUnderTest) -> None:
    abuse_retained(broker)
    broker.broker.stop()  # mosquitto saves its database, strays included, on the way out
    broker.broker.start()  # ... and sweeps them at start
    assert retained_now(broker, "after-restart") == {STATUS_A: len(b'{"state": "online"}')}


def test_an_oversized_status_is_not_kept(broker: BrokerUnderTest) -> None:
    node = broker.probe("gw-a")
    assert node.publish(STATUS_A, b"x" * (MAX_RETAINED_STATUS_BYTES + 1), retain=True)
    sweep(broker)
    assert STATUS_A not in retained_now(broker, "late")


def test_stray_retained_messages_are_still_delivered_live(broker: BrokerUnderTest) -> None:
    """The retain flag is refused, not the message: a live subscriber still gets it."""
    hub = broker.probe("hub")
    hub.subscribe(ALERT_A)
    node = broker.probe("gw-a")
    assert node.publish(ALERT_A, b"an alert sent with retain", retain=True)
    assert hub.wait_for(ALERT_A, b"an alert sent with retain")


def test_the_embedded_broker_drops_strays_an_older_version_kept_on_disk(tmp_path: Path) -> None:
    """Before issue 7 the embedded broker stored any retained message: at start, the ones
    the rule refuses are deleted from its file and not restored; the statuses are."""
    running = start_broker("embedded", tmp_path / "broker")
    running.add("gw-a")
    status = b'{"state": "online"}'
    assert running.probe("gw-a").publish(STATUS_A, status, retain=True)
    running.shutdown()
    store = tmp_path / "broker" / "retained.sqlite"
    with sqlite3.connect(store) as db:  # what an older version left behind
        db.execute("INSERT INTO retained VALUES (?, 1, ?)", (ALERT_A, b"\x00" * 100_000))
    try:
        running.broker.start()
        assert retained_now(running, "after-upgrade") == {STATUS_A: len(status)}
    finally:
        running.shutdown()
    with sqlite3.connect(store) as db:
        assert [t for (t,) in db.execute("SELECT topic FROM retained")] == [STATUS_A]


def test_the_sweeper_runs_by_itself(tmp_path: Path) -> None:
    running = start_broker("mosquitto", tmp_path / "broker")
    try:
        running.broker.sweeper.interval_s = 0.2  # a site sweeps every 10 s
        running.broker.sweeper.stop()
        running.broker.sweeper.start()
        running.add("gw-a")
        node = running.probe("gw-a")
        assert node.publish(ALERT_A, b"\x00" * 1000, retain=True)
        looks = iter(range(1000))
        assert wait_until(lambda: ALERT_A not in retained_now(running, f"look-{next(looks)}"))
    finally:
        running.shutdown()


def test_hub_identity_on_the_node_listener_is_bound_to_its_username_too(
    broker: BrokerUnderTest,
) -> None:
    """The hub may use the node listener, as client "hub"; its real sessions live on its
    own listener under their own ids and are untouched by that."""
    hub = broker.probe("hub", client_id=HUB_ID, clean_session=False)
    hub.subscribe(ALERT_B)
    on_node_port = broker.probe("hub", client_id=HUB_ID, port=broker.port)
    assert on_node_port.accepted
    assert broker.store.load()["hub"].role is NodeRole.HUB
    node = broker.probe("gw-b")
    assert node.publish(ALERT_B, b"barrier")
    assert hub.wait_for(ALERT_B, b"barrier")
    assert not hub.disconnected.is_set()


def test_the_generated_mosquitto_config_says_why_it_saves_and_queues_as_it_does(
    tmp_path: Path,
) -> None:
    running = start_broker("mosquitto", tmp_path / "broker")  # mosquitto accepted it
    try:
        running.add("gw-a")
        conf = running.broker.conf_path.read_text()
        settings = {
            line.split()[0]: line.split(maxsplit=1)[1]
            for line in conf.splitlines()
            if line and not line.startswith("#") and " " in line
        }
        assert settings["autosave_on_changes"] == "false"
        assert settings["autosave_interval"] == "30"
        assert int(settings["max_queued_messages"]) >= 100_000
        assert int(settings["max_inflight_messages"]) >= 1000
        assert settings["persistent_client_expiration"] == "14d"
        for reason in ("receipt", "re-sends", "whole database", "stall"):
            assert reason in conf, f"the config does not explain: {reason}"
        # Each listener's own rules: ids bound to usernames for nodes, hub identities only
        # on the hub's listener.
        node_block, hub_block = conf.split(f"listener {running.port} ")[1].split("listener ")
        assert "use_username_as_clientid true" in node_block
        assert "use_username_as_clientid" not in hub_block
        hub_users = (tmp_path / "broker" / "passwd-hub").read_text()
        assert "gw-a:" not in hub_users and "hub:" in hub_users
    finally:
        running.shutdown()
