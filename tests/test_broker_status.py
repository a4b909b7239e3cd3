"""The node status protocol on both brokers: retained online/offline, wills, takeover,
persistent hub sessions, restarts and credential reloads."""

from __future__ import annotations

from broker_kit import ROOT, BrokerUnderTest, broker_fixture, wait_until
from conftest import SITE

from contract.mqtt import MqttLink
from contract.protocol import alert_topic, status_topic

STATUS = status_topic(ROOT, SITE, "gw-a")
ALERT = alert_topic(ROOT, SITE, "gw-a")


broker = broker_fixture("gw-a")


def retained_status(broker: BrokerUnderTest, client_id: str) -> list[bytes]:
    """What a subscriber arriving now is told about gw-a (the retained status)."""
    late = broker.probe("hub", client_id=client_id)
    late.subscribe(STATUS)
    wait_until(lambda: late.payloads(STATUS) != [], timeout=2)
    return late.payloads(STATUS)


def test_will_marks_a_vanished_node_offline_for_live_and_late_subscribers(
    broker: BrokerUnderTest,
) -> None:
    hub = broker.probe("hub")
    hub.subscribe(f"{ROOT}/+/+/status")
    link = MqttLink(broker.link_settings("gw-a"))
    link.start()
    try:
        assert link.wait_connected(10)
        assert hub.wait_for(STATUS, b"online")
        assert retained_status(broker, "late-1") == [b"online"]
        # Power cut: the socket dies without DISCONNECT.
        link._client.loop_stop()
        link._client.socket().close()
        assert hub.wait_for(STATUS, b"offline")
        assert retained_status(broker, "late-2") == [b"offline"]
    finally:
        link.stop()


def test_silent_node_is_marked_offline_once_its_keepalive_expires(broker: BrokerUnderTest) -> None:
    hub = broker.probe("hub")
    hub.subscribe(STATUS)
    node = broker.probe("gw-a", will=(STATUS, b"offline"), keepalive=1)
    assert node.publish(STATUS, b"online", retain=True)
    assert hub.wait_for(STATUS, b"online")
    node.go_silent()  # socket open, no PINGREQ: a node whose network vanished
    assert hub.wait_for(STATUS, b"offline", timeout=10)


def test_second_connection_with_same_client_id_takes_over(broker: BrokerUnderTest) -> None:
    hub = broker.probe("hub")
    hub.subscribe(f"{ROOT}/#")
    first = broker.probe("gw-a", client_id="gw-a", will=(STATUS, b"offline"))
    assert first.publish(STATUS, b"online", retain=True)
    second = broker.probe("gw-a", client_id="gw-a", will=(STATUS, b"offline"))
    assert second.accepted
    assert first.disconnected.wait(10), "the first connection was left open"
    assert second.publish(STATUS, b"online", retain=True)
    assert second.publish(ALERT, b"from the second connection")
    assert hub.wait_for(ALERT, b"from the second connection")
    assert not second.disconnected.is_set()
    # Whatever the old connection's will said, it came before the new "online".
    assert hub.payloads(STATUS)[-1] == b"online"
    assert retained_status(broker, "late") == [b"online"]


def test_persistent_hub_session_gets_alerts_sent_while_it_was_away(broker: BrokerUnderTest) -> None:
    hub = broker.probe("hub", client_id="hub-main", clean_session=False)
    hub.subscribe(f"{ROOT}/+/+/alert")
    hub.close()
    node = broker.probe("gw-a")
    assert node.publish(ALERT, b"while the hub was away")
    back = broker.probe("hub", client_id="hub-main", clean_session=False)
    assert back.accepted
    assert back.wait_for(ALERT, b"while the hub was away")


def test_retained_status_survives_a_broker_restart(broker: BrokerUnderTest) -> None:
    node = broker.probe("gw-a")
    assert node.publish(STATUS, b"online", retain=True)
    node.close()
    broker.broker.stop()
    broker.broker.start()  # same port, same data folder
    assert retained_status(broker, "after-restart") == [b"online"]


def test_node_provisioned_after_start_connects_once_the_broker_reloads(
    broker: BrokerUnderTest,
) -> None:
    broker.add("gw-late")  # store.add + broker.reload(), as run_broker does on file change
    node = broker.probe("gw-late")
    assert node.accepted


def test_rotated_password_stops_working_after_reload(broker: BrokerUnderTest) -> None:
    old = broker.passwords["gw-a"]
    new = broker.add("gw-a")
    assert new != old
    assert broker.probe("gw-a", password=old, client_id="old").connack.is_failure
    assert broker.probe("gw-a", password=new, client_id="new").accepted


def test_restarted_hub_takes_over_its_persistent_session_and_keeps_receiving(
    broker: BrokerUnderTest,
) -> None:
    old = broker.probe("hub", client_id="hub-main", clean_session=False)
    old.subscribe(f"{ROOT}/+/+/alert")
    old.go_silent()  # the old hub process hung; the broker still thinks it is connected
    new = broker.probe("hub", client_id="hub-main", clean_session=False)
    assert new.accepted
    node = broker.probe("gw-a")
    assert node.publish(ALERT, b"after the takeover")
    assert new.wait_for(ALERT, b"after the takeover")  # subscription kept by the session
