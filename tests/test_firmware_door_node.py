"""The door/window contact node: debounce, rate limit and last will, on a real mosquitto and
an injected millisecond clock (nothing here sleeps through a debounce time).

It runs on the host exactly as written for MicroPython. What every node type shares (alert,
heartbeat, tamper, power cut, broker outage) is in test_firmware_nodes.py."""

from __future__ import annotations

from firmware_kit import Listener, Rig, offline_config, provisioned_rig

from contract.protocol import Alert, NodeStatus


def test_door_opening_reaches_subscribers_as_a_valid_protocol_alert(mosquitto, tmp_path):
    rig = provisioned_rig(mosquitto, "door", tmp_path)
    listener = Listener(mosquitto.hub_port, mosquitto.passwords["hub"])
    try:
        rig.trip()
        assert rig.node.flush() == 1
        (alert,) = listener.wait_for("alert", 1)
        assert isinstance(alert, Alert)
        assert (alert.kind, alert.area, alert.seq, alert.message) == (
            "door",
            "north-gate",
            0,
            "door opened",
        )
        statuses = listener.wait_for("status", 1)
        assert isinstance(statuses[0], NodeStatus) and statuses[0].state == "online"
    finally:
        rig.node.shutdown()
        listener.close()


def test_contact_bounce_shorter_than_debounce_raises_nothing(tmp_path):
    rig = Rig("door", offline_config(), tmp_path)
    rig.pin.value(1)
    rig.node.poll()
    rig.clock.advance(49)  # open for 49 ms: the debounce is 50
    rig.pin.value(0)
    rig.node.poll()
    rig.clock.advance(80)
    rig.node.poll()
    assert rig.node.queued() == [] and rig.node.state == "closed"


def test_a_contact_that_holds_past_the_debounce_opens_and_closes(tmp_path):
    rig = Rig("door", offline_config(), tmp_path)
    rig.pin.value(1)
    rig.node.poll()
    rig.clock.advance(50)
    assert rig.node.poll()["kind"] == "door"
    assert rig.node.state == "open"
    rig.settle(0, rig.pin, 50)
    assert rig.node.state == "closed" and len(rig.node.queued()) == 1


def test_a_flapping_contact_is_rate_limited_to_a_burst_of_five_then_one_per_10_s(tmp_path):
    rig = Rig("door", offline_config(), tmp_path)
    for _ in range(10):  # ten openings within about two seconds: a loose magnet
        rig.trip()
    assert len(rig.node.queued()) == 5 and rig.node.suppressed == 5
    rig.clock.advance(10_000)
    rig.trip()
    assert len(rig.node.queued()) == 6


def test_a_window_contact_is_the_same_node_reporting_its_own_kind(tmp_path):
    rig = Rig("window", offline_config("hall-window"), tmp_path)
    rig.trip()
    alert = Alert.model_validate_json(rig.node.queued()[0])
    assert (alert.kind, alert.message) == ("window", "window opened")


def test_node_that_vanishes_is_reported_offline_by_its_last_will(mosquitto, tmp_path):
    rig = provisioned_rig(mosquitto, "door", tmp_path)
    listener = Listener(mosquitto.hub_port, mosquitto.passwords["hub"])
    try:
        rig.node.flush()  # connects and announces online
        assert listener.wait_for("status", 1)[-1].state == "online"
        rig.node.client.close()  # power cut: no DISCONNECT packet
        statuses = listener.wait_for("status", 2)
        assert [s.state for s in statuses][-1] == "offline"
    finally:
        listener.close()
