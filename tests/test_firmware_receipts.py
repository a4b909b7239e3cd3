"""A sensor node's end-to-end delivery (protocol v2) and keepalive, on a real mosquitto.

The firmware keeps an alert in its flash queue until the hub's receipt names it, sends it
again after 30 s, 60 s, ... without one (and at once after a reconnect), and pings while idle
so the broker does not drop it. Its clock is injected: the tests move it, except where the
broker's own keepalive timer is what is being tested.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from broker_kit import wait_until
from firmware_kit import Listener, Millis, Rig, node_config
from hub_helpers import start_hub
from receipt_kit import ReceiptingHub

from contract.protocol import Alert, NodeRole, Receipt, encode, receipt_topic
from firmware_stubs.node_types import ContactNode

NODE = "gate-door"
pytestmark = pytest.mark.mosquitto


def door_node(
    mosquitto, tmp_path: Path, clock=None, node: str = NODE, **options
) -> tuple[ContactNode, Rig]:
    """A door node; ``options`` (keepalive_s) go to the node, ``clock`` is a Millis."""
    conn = mosquitto.provision(node, NodeRole.SENSOR)
    rig = Rig("door", node_config(conn), tmp_path, clock)
    if options:  # the same node, booted again with these options
        rig.node = ContactNode(rig.cfg, rig.pin, rig.tamper, str(tmp_path), **options)
    return rig.node, rig


def flush_until(node: ContactNode, condition, timeout: float = 10.0, between=None) -> bool:
    """Run the node's loop until ``condition`` holds, calling ``between()`` each round."""

    def step() -> bool:
        node.flush()
        if between is not None:
            between()
        return condition()

    return wait_until(step, timeout)


def test_a_door_alert_stays_in_flash_until_the_real_hub_has_stored_it(mosquitto, tmp_path):
    node, rig = door_node(mosquitto, tmp_path / "node")
    hub = start_hub(mosquitto, tmp_path / "hub")
    try:
        rig.trip()
        alert = Alert.model_validate_json(node.queued()[0])
        assert alert.v == 2
        assert flush_until(node, lambda: node.queued() == [])
        assert node.receipted == 1
        stored = hub.storage.alerts.get(alert.id)
        assert stored is not None and (stored.node, stored.kind) == (NODE, "door")
    finally:
        node.shutdown()
        hub.stop()


def test_an_alert_the_broker_took_is_sent_again_after_30_s_then_60_s_until_receipted(
    mosquitto, tmp_path
):
    clock = Millis()
    node, _ = door_node(mosquitto, tmp_path, clock=clock)
    hub = ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"], receipting=False)
    try:
        node.raise_alert()
        alert_id = Alert.model_validate_json(node.queued()[0]).id
        assert node.flush() == 1  # PUBACKed by the broker...
        assert wait_until(lambda: hub.copies[alert_id] == 1)
        clock.advance(29_900)
        assert node.flush() == 0 and len(node.queued()) == 1  # ...but kept: no receipt yet
        clock.advance(100)
        assert node.flush() == 1
        clock.advance(59_900)
        assert node.flush() == 0
        clock.advance(100)
        hub.receipting = True
        assert node.flush() == 1
        assert flush_until(node, lambda: node.queued() == [])
        assert hub.copies[alert_id] == 3  # three copies, one alert stored by id
    finally:
        node.shutdown()
        hub.close()


def test_after_a_broker_restart_unreceipted_alerts_are_sent_again_at_once(mosquitto, tmp_path):
    clock = Millis()
    node, _ = door_node(mosquitto, tmp_path, clock=clock)
    hub = ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"], receipting=False)
    try:
        node.raise_alert()
        node.raise_alert()
        assert node.flush() == 2
        assert wait_until(lambda: len(hub.ids()) == 2)
        hub.receipting = True
        mosquitto.stop()
        mosquitto.start()
        start = clock()
        # The clock moves only by the reconnect backoff (0.5 s, 1 s, ...), never to the 30 s
        # receipt time-out: the reconnect itself makes both alerts due again.
        assert flush_until(node, lambda: node.queued() == [], 20, lambda: clock.advance(100))
        assert node.receipted == 2 and clock() - start < 30_000
    finally:
        node.shutdown()
        hub.close()


def test_receipts_for_another_node_or_that_are_not_json_release_nothing(mosquitto, tmp_path):
    node, _ = door_node(mosquitto, tmp_path, clock=Millis())
    hub = ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"], receipting=False)
    try:
        node.raise_alert()
        node.raise_alert()
        ids = [Alert.model_validate_json(line).id for line in node.queued()]
        assert node.flush() == 2
        topic = receipt_topic("vw", "riverside", NODE)
        other = Receipt(site="riverside", node="plaza-door", ids=ids)
        for payload in (b"\xff not json", b"[1, 2]", encode(other)):
            hub.client.publish(topic, payload, qos=1)
        hub.client.publish(topic, encode(Receipt(site="riverside", node=NODE, ids=ids[1:])), 1)
        assert flush_until(node, lambda: node.receipted == 1)
        assert [Alert.model_validate_json(q).id for q in node.queued()] == ids[:1]
    finally:
        node.shutdown()
        hub.close()


def run_in_background(node: ContactNode) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=node.run, args=(stop.is_set,), daemon=True)
    thread.start()
    return thread, stop


def test_an_idle_node_pings_and_stays_online_while_a_silent_one_is_dropped(mosquitto, tmp_path):
    """Keepalive of 1 s: mosquitto drops a client silent for 1.5 s and fires its will.
    Two idle nodes side by side: one runs its loop, the other was connected and then left
    silent. Real seconds here: the broker's timer is the thing under test."""
    listener = Listener(mosquitto.hub_port, mosquitto.passwords["hub"])

    def states(node: str) -> list[str]:
        return [s.state for s in listener.decoded("status") if s.node == node]

    idle, _ = door_node(mosquitto, tmp_path / "idle", keepalive_s=1)
    silent, _ = door_node(mosquitto, tmp_path / "silent", node="plaza-door", keepalive_s=1)
    thread, stop = run_in_background(idle)
    try:
        silent.flush()  # connects and says online, then never talks again
        assert wait_until(lambda: states("plaza-door") == ["online", "offline"], 10)
        assert states(NODE) == ["online"]  # idle as long, never dropped: its loop pinged
        assert idle.client is not None
    finally:
        stop.set()
        thread.join(5)
        silent.client.close()
    assert wait_until(lambda: states(NODE) == ["online", "offline"])  # its clean shutdown
    listener.close()
