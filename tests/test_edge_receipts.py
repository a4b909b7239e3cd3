"""End-to-end delivery on the edge (protocol v2), against a real mosquitto.

An alert leaves the outbox only when the hub's receipt names it, not on the broker's PUBACK;
what is not receipted is sent again after a time-out that doubles each time, and at once after
a reconnect. The publisher is driven by hand (``tick()``) on a manual clock: no sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from broker_kit import wait_until
from conftest import SITE
from hub_helpers import make_alert, snapshot_jpeg
from receipt_kit import ReceiptingHub, Seconds

from contract.protocol import (
    Alert,
    Receipt,
    alert_topic,
    encode,
    receipt_topic,
    snapshot_topic,
    status_topic,
)
from edge.outbox import Outbox
from edge.publisher import Publisher

NODE = "gw-plaza"
pytestmark = pytest.mark.mosquitto


def queue(outbox: Outbox, n: int, snapshot: bool = False) -> list[Alert]:
    """``n`` alerts (each with its JPEG if ``snapshot``), queued as the pipeline does."""
    made: list[Alert] = []
    for _ in range(n):

        def build(seq: int) -> list[tuple[str, bytes, int]]:
            alert = make_alert(NODE, seq, has_snapshot=snapshot)
            made.append(alert)
            out = [(alert_topic("vw", SITE, NODE), encode(alert), 1)]
            if snapshot:
                out.append((snapshot_topic("vw", SITE, NODE, alert.id), snapshot_jpeg(), 1))
            return out

        outbox.put_numbered(build)
    return made


class Edge:
    """An outbox and its publisher, connected, whose loop the test turns by hand."""

    def __init__(self, mosquitto, tmp_path: Path) -> None:
        self.clock = Seconds()
        self.outbox = Outbox(tmp_path / "outbox.sqlite")
        self.publisher = Publisher(
            mosquitto.provision(NODE), self.outbox, clock=self.clock, max_inflight=4
        )
        self.publisher.link.start()  # no worker thread: the test calls tick()
        assert self.publisher.link.wait_connected(10)

    def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Turn the loop until ``condition`` holds."""

        def step() -> bool:
            self.publisher.tick()
            return condition()

        return wait_until(step, timeout)

    def close(self) -> None:
        self.publisher.link.stop()
        self.outbox.close()


@pytest.fixture
def edge(mosquitto, tmp_path):
    e = Edge(mosquitto, tmp_path)
    yield e
    e.close()


@pytest.fixture
def hub(mosquitto):
    hubs: list[ReceiptingHub] = []

    def make(**options) -> ReceiptingHub:
        hubs.append(ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"], **options))
        return hubs[-1]

    yield make
    for h in hubs:
        h.close()


def test_alerts_the_broker_acknowledged_stay_queued_until_the_hub_receipts_them(edge, hub):
    silent = hub(receipting=False)  # stores, but its receipts never come
    made = queue(edge.outbox, 5)
    ids = {a.id for a in made}
    assert edge.until(lambda: edge.publisher.acked == 5 and silent.ids() == ids)
    assert edge.outbox.pending_count() == 5  # PUBACKed is not delivered

    silent.receipting = True  # the hub's receipts flow again
    edge.clock.advance(30)
    assert edge.until(lambda: edge.outbox.pending_count() == 0)
    assert edge.publisher.resent == 5 and edge.publisher.receipted == 5
    assert all(silent.copies[i] == 2 for i in ids)  # each sent twice, stored once by id


def test_unreceipted_alerts_are_sent_again_after_30_s_then_60_s_then_120_s(edge, hub):
    silent = hub(receipting=False)
    made = queue(edge.outbox, 3)
    ids = [a.id for a in made]
    assert edge.until(lambda: edge.publisher.acked == 3)

    def copies() -> list[int]:
        return [silent.copies[i] for i in ids]

    for wait_s, expected in ((30, 2), (60, 3), (120, 4)):
        edge.clock.advance(wait_s - 0.1)
        edge.publisher.tick()
        assert edge.publisher.resent == 3 * (expected - 2)  # not yet
        edge.clock.advance(0.1)
        assert edge.until(lambda e=expected: copies() == [e] * 3)
        assert edge.until(lambda e=expected: edge.publisher.acked == 3 * e)
    assert edge.outbox.pending_count() == 3


def test_receipts_that_take_20_s_stretch_the_time_out_so_a_slow_hub_gets_no_copies(edge, hub):
    """A hub working through a backlog receipts late; re-sending at 30 s would only add to
    its backlog. The time-out follows the receipts: latency + 4 x deviation = 20 + 40 s."""
    slow = hub(receipting=False)
    first = queue(edge.outbox, 1)[0]
    assert edge.until(lambda: edge.publisher.acked == 1 and slow.ids() == {first.id})
    edge.clock.advance(20)
    receipt = Receipt(site=SITE, node=NODE, ids=[first.id])
    slow.client.publish(receipt_topic("vw", SITE, NODE), encode(receipt), qos=1)
    assert edge.until(lambda: edge.publisher.receipted == 1)
    assert edge.publisher.receipt_timeout == 60

    second = queue(edge.outbox, 1)[0]
    assert edge.until(lambda: edge.publisher.acked == 2 and second.id in slow.ids())
    edge.clock.advance(59.9)
    edge.publisher.tick()
    assert edge.publisher.resent == 0  # 30 s would have sent a copy already
    edge.clock.advance(0.1)
    assert edge.until(lambda: slow.copies[second.id] == 2)


def test_an_alert_and_its_snapshot_leave_together_once_the_hub_has_both(edge, hub):
    stand_in = hub()  # receipts an alert only once its promised JPEG is stored too
    made = queue(edge.outbox, 3, snapshot=True)
    assert edge.until(lambda: edge.outbox.pending_count() == 0)
    assert {a.id for a in made} == stand_in.ids()
    assert all(stand_in.snapshots[a.id] == snapshot_jpeg() for a in made)


def test_a_snapshot_waits_for_the_brokers_puback_even_when_its_alert_is_receipted_first(edge, hub):
    """A hub that receipts the alert before it has the JPEG: the snapshot row still stays
    until the broker took it, then leaves (its alert is receipted). A window of one row
    makes the order certain: a snapshot is sent only once its alert's receipt is in."""
    hasty = hub(snapshots_needed=False)
    edge.publisher.window = 1
    made = queue(edge.outbox, 4, snapshot=True)
    for n in range(1, 5):
        assert edge.until(lambda n=n: edge.publisher.receipted == n)
        # The round that took alert n's receipt only then sent its JPEG: not PUBACKed yet.
        rest = ["alert", "snapshot"] * (4 - n)
        assert [r.kind for r in edge.outbox.pending()] == ["snapshot", *rest]
    assert edge.until(lambda: edge.outbox.pending_count() == 0)
    assert edge.publisher.acked == 8 and edge.publisher.receipted == 4
    assert wait_until(lambda: len(hasty.snapshots) == 4)
    assert set(hasty.snapshots) == {a.id for a in made}


def test_receipts_that_are_garbage_or_for_another_node_release_nothing(edge, hub, mosquitto):
    silent = hub(receipting=False)
    made = queue(edge.outbox, 2)
    assert edge.until(lambda: edge.publisher.acked == 2)
    topic = receipt_topic("vw", SITE, NODE)
    other = Receipt(site=SITE, node="gw-other", ids=[made[0].id])
    for payload in (b"not json", b'{"v": 2}', encode(other), b'{"v": 9, "type": "receipt"}'):
        silent.client.publish(topic, payload, qos=1)
    # Published after the bad ones on the same topic, so it arrives after them.
    good = Receipt(site=SITE, node=NODE, ids=[made[1].id, "f" * 32])
    silent.client.publish(topic, encode(good), qos=1)
    assert edge.until(lambda: edge.publisher.receipted == 1)
    assert [r.alert_id for r in edge.outbox.pending()] == [made[0].id]


def test_after_a_broker_restart_everything_unreceipted_is_sent_again_at_once(edge, hub, mosquitto):
    """The broker took the alerts and may have lost them: the edge does not wait 30 s."""
    silent = hub(receipting=False)
    made = queue(edge.outbox, 3)
    assert edge.until(lambda: edge.publisher.acked == 3 and len(silent.ids()) == 3)
    silent.receipting = True
    mosquitto.stop()
    assert edge.until(lambda: not edge.publisher.connected)
    mosquitto.start()
    assert edge.until(lambda: edge.outbox.pending_count() == 0, timeout=20)
    assert edge.publisher.resent == 3  # the clock never moved: the reconnect re-sent them
    assert {a.id for a in made} == silent.ids()


def test_a_row_of_no_alert_leaves_on_its_puback_alone(edge):
    """Only alerts wait for the hub: anything else queued (here a status, at QoS 1) has no
    receipt to wait for and goes once the broker has it — with no hub running at all."""
    edge.outbox.put(status_topic("vw", SITE, NODE), b'{"v":2,"type":"status"}', qos=1)
    assert edge.outbox.pending_count() == 1
    assert edge.until(lambda: edge.outbox.pending_count() == 0)
    assert edge.publisher.acked == 1 and edge.publisher.receipted == 0
