"""Every sensor node type on the shared runtime, against a real mosquitto, on simulated pins
and an injected millisecond clock (no test sleeps through a debounce or a hold-off).

For each type: its event arrives as a valid protocol alert of its kind and default severity;
its heartbeat is a valid protocol Heartbeat with its state; opening the enclosure raises a
``tamper`` alert and shows in the heartbeat; a power cut between the event and the send loses
nothing; alerts raised while the broker is down are delivered, in order, once it is back."""

from __future__ import annotations

import pytest
from firmware_kit import KINDS, Listener, Rig, flush_until, offline_config, provisioned_rig
from receipt_kit import ReceiptingHub

from contract.protocol import Alert, Heartbeat
from contract.siteconfig import SensorNode
from firmware_stubs.node_types import NODE_TYPES

pytestmark = pytest.mark.mosquitto

#: The state each type reports once it has tripped and gone quiet again, and while tripped.
STATES = {
    "door": ("closed", "open"),
    "window": ("closed", "open"),
    "pir": ("clear", "motion"),
    "panic_button": ("idle", "pressed"),
    "smoke": ("normal", "alarm"),
    "heat": ("normal", "alarm"),
    "glass_break": ("normal", "alarm"),
    "water_leak": ("dry", "wet"),
    "vibration": ("still", "shaking"),
}


def default_severity(kind: str) -> str:
    return NODE_TYPES[kind].SEVERITY


def test_every_configurable_sensor_kind_has_a_node_type_with_the_same_default_severity():
    assert set(KINDS) == set(SensorNode.model_fields["kind"].annotation.__args__)
    for kind in KINDS:
        assert default_severity(kind) == SensorNode(node="n", area="a", kind=kind).severity


@pytest.mark.parametrize("kind", KINDS)
def test_a_tripped_sensor_sends_a_valid_alert_of_its_kind_and_a_heartbeat_with_its_state(
    mosquitto, tmp_path, kind
):
    rig = provisioned_rig(mosquitto, kind, tmp_path)
    listener = Listener(mosquitto.hub_port, mosquitto.passwords["hub"])
    try:
        rig.trip()
        assert len(rig.node.queued()) == 1
        assert rig.node.flush() == 1
        (alert,) = listener.wait_for("alert", 1)
        assert isinstance(alert, Alert)
        assert (alert.kind, alert.severity, alert.area, alert.seq) == (
            kind,
            default_severity(kind),
            "north-gate",
            0,
        )
        heartbeats = listener.wait_for("heartbeat", 1)
        assert heartbeats and isinstance(heartbeats[0], Heartbeat)
        assert (heartbeats[0].state, heartbeats[0].tamper) == (STATES[kind][0], False)
        assert heartbeats[0].interval_s == 60 and heartbeats[0].queued == 1  # no hub: unreceipted
        assert listener.wait_for("status", 1)[0].state == "online"
    finally:
        rig.node.shutdown()
        listener.close()


@pytest.mark.parametrize("kind", KINDS)
def test_opening_the_enclosure_raises_a_tamper_alert_and_shows_in_the_heartbeat(
    mosquitto, tmp_path, kind
):
    rig = provisioned_rig(mosquitto, kind, tmp_path)
    listener = Listener(mosquitto.hub_port, mosquitto.passwords["hub"])
    try:
        rig.node.flush()  # connected; the first heartbeat says the lid is shut
        assert listener.wait_for("heartbeat", 1)[0].tamper is False
        rig.open_enclosure()
        rig.node.flush()  # the alert, and a heartbeat at once (not a minute later)
        (alert,) = listener.wait_for("alert", 1)
        assert (alert.kind, alert.severity) == ("tamper", "critical")
        heartbeats = listener.wait_for("heartbeat", 2)
        assert [h.tamper for h in heartbeats] == [False, True]
    finally:
        rig.node.shutdown()
        listener.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_power_cut_between_the_event_and_the_send_loses_nothing(mosquitto, tmp_path, kind):
    rig = provisioned_rig(mosquitto, kind, tmp_path)
    rig.trip()
    rig.open_enclosure()
    written = rig.node.queued()
    assert len(written) == 2  # in flash, never sent: the power goes now
    node = rig.boot()  # a new node object from the same state dir
    assert node.queued() == written
    hub = ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"])
    try:
        assert flush_until(node, lambda: node.queued() == [], rig.clock)
        assert node.receipted == 2
        kinds = {a["kind"]: a["seq"] for a in hub.alerts.values()}
        assert kinds == {kind: 0, "tamper": 1}
        rig.trip()  # the sequence number survived the power cut too
        assert Alert.model_validate_json(node.queued()[0]).seq == 2
    finally:
        node.shutdown()
        hub.close()


@pytest.mark.parametrize("kind", KINDS)
def test_alerts_raised_while_the_broker_is_down_are_delivered_in_order_when_it_returns(
    mosquitto, tmp_path, kind
):
    rig = provisioned_rig(mosquitto, kind, tmp_path)
    mosquitto.stop()
    for _ in range(3):
        rig.trip()
        assert rig.node.flush() == 0  # broker away: nothing sent, nothing lost
        rig.clock.advance(60_000)  # past any hold-off
    assert len(rig.node.queued()) == 3
    assert Heartbeat.model_validate(rig.node.heartbeat()).queued == 3
    mosquitto.start()
    listener = Listener(mosquitto.hub_port, mosquitto.passwords["hub"])
    hub = ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"])
    try:
        assert flush_until(rig.node, lambda: rig.node.queued() == [], rig.clock)
        alerts = listener.wait_for("alert", 3)
        assert [(a.kind, a.seq) for a in alerts] == [(kind, 0), (kind, 1), (kind, 2)]
    finally:
        rig.node.shutdown()
        hub.close()
        listener.close()


def test_a_heartbeat_goes_out_every_interval_on_the_injected_clock(mosquitto, tmp_path):
    rig = provisioned_rig(mosquitto, "water_leak", tmp_path, heartbeat_s=30)
    listener = Listener(mosquitto.hub_port, mosquitto.passwords["hub"])
    try:
        rig.node.flush()
        assert len(listener.wait_for("heartbeat", 1)) == 1
        rig.clock.advance(29_999)
        rig.node.flush()
        rig.clock.advance(1)
        rig.node.flush()
        heartbeats = listener.wait_for("heartbeat", 2)
        assert len(heartbeats) == 2
        assert heartbeats[1].uptime_s - heartbeats[0].uptime_s == pytest.approx(30.0)
        assert heartbeats[1].interval_s == 30 and heartbeats[1].state == "dry"
    finally:
        rig.node.shutdown()
        listener.close()


def test_one_loop_step_is_bounded_twenty_alerts_in_flight_however_long_the_queue(
    mosquitto, tmp_path
):
    """A watchdog needs every step of the loop short: a node back after a long outage sends
    its window of 20, not its whole queue, per round."""
    rig = provisioned_rig(mosquitto, "door", tmp_path)
    for _ in range(60):
        rig.node.raise_alert("door opened")
    try:
        assert rig.node.flush() == 20  # no hub here: nothing receipted, the window is full
        assert rig.node.flush() == 0 and len(rig.node.queued()) == 60
    finally:
        rig.node.shutdown()


def test_the_main_loop_feeds_the_watchdog_once_a_round(tmp_path):
    """``feed()`` is where a board's machine.WDT is fed (a no-op on the host); here the node
    counts the rounds it was called in."""
    rig = Rig("pir", offline_config("lawn-pir"), tmp_path)
    fed: list[bool] = []
    rig.node.feed = lambda: fed.append(True)
    rounds = iter(range(3))
    rig.node.run(lambda: next(rounds, None) is None, period_ms=0)
    assert len(fed) == 3
