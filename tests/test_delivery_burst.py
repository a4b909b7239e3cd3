"""Issue 7, test 1: a burst of 20,000 alerts from 4 edge nodes while the hub is stopped.

Real mosquitto, a real ``villagewatch hub`` process, four real edge processes (Outbox +
Publisher) that each find 5,000 alerts in their outbox as they connect. The broker keeps at
most 2,000 messages for the absent hub, as any finite broker queue eventually must, so it
drops most of the burst after acknowledging it to the edges — exactly how v1 lost 5,550 of
16,000. With receipts the edges keep every alert until the hub has committed it and send the
dropped ones again: 0 lost, 0 duplicated.
"""

from __future__ import annotations

import time

import pytest
from broker_kit import wait_until
from delivery_kit import (
    Fleet,
    assert_heals,
    small_queue_broker,
    start_hub,
    stop_all,
    stored_count,
)

pytestmark = pytest.mark.mosquitto
NODES, PER_NODE = 4, 5000
DROPPED = "Outgoing messages are being dropped"


def test_a_20000_alert_burst_while_the_hub_is_stopped_and_the_broker_drops_its_backlog_loses_nothing(  # noqa: E501
    tmp_path,
):
    broker = small_queue_broker(tmp_path / "broker", max_queued=2000)
    fleet = Fleet.provision(broker, tmp_path / "edges", NODES, PER_NODE, prefill=True)
    hub = start_hub(broker, tmp_path)  # its persistent session now exists in the broker
    try:
        hub.stop()
        fleet.start()
        fleet.wait_queued()
        # The edges sent the burst and the broker acknowledged it, then dropped all but 2,000.
        log = broker.broker.data_dir / "mosquitto.log"
        assert wait_until(lambda: DROPPED in log.read_text(), 60), "the broker dropped nothing"
        t0 = time.monotonic()
        hub = start_hub(broker, tmp_path, ready=False)
        print(f"hub up in {time.monotonic() - t0:.1f} s")
        what = f"burst of {fleet.total} with the hub stopped, from the hub restart"
        result = assert_heals(fleet, tmp_path, what, t0, timeout=120)
        assert result.stored == stored_count(tmp_path) == NODES * PER_NODE
    finally:
        stop_all(fleet, hub, broker)
    print(f"re-sent copies (dropped by id at the hub): {fleet.resent()}")
    assert fleet.resent() > 0, "the broker should have dropped part of the burst"
