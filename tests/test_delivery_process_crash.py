"""Issue 7, test 3: kill -9 of the hub, and of an edge, mid-burst.

A hub killed between receiving alerts and committing them never acknowledged them (PUBACK
follows the commit) nor receipted them; the broker redelivers them to its persistent
session and the edges re-send them after their time-out. An edge killed mid-burst finds its
outbox on disk at the next start and carries on with the next sequence number. Real
mosquitto, real processes: 0 lost, 0 duplicated.
"""

from __future__ import annotations

import time

import pytest
from broker_kit import wait_until
from delivery_kit import (
    Fleet,
    assert_heals,
    kill9_hub,
    kill_mid_burst,
    start_hub,
    stop_all,
)

pytestmark = pytest.mark.mosquitto
NODES, PER_NODE = 4, 2500


def test_kill_9_of_the_hub_mid_burst_loses_nothing(mosquitto, tmp_path):
    fleet = Fleet.provision(mosquitto, tmp_path / "edges", NODES, PER_NODE)
    hub = start_hub(mosquitto, tmp_path)
    try:
        at_kill, t0 = kill_mid_burst(fleet, tmp_path, lambda: kill9_hub(hub))
        hub = start_hub(mosquitto, tmp_path, ready=False)
        assert_heals(fleet, tmp_path, f"hub kill -9 at {at_kill}/{fleet.total} stored", t0)
    finally:
        stop_all(fleet, hub)


def test_kill_9_of_an_edge_mid_burst_loses_nothing(mosquitto, tmp_path):
    fleet = Fleet.provision(mosquitto, tmp_path / "edges", NODES, PER_NODE)
    hub = start_hub(mosquitto, tmp_path)
    victim = fleet.nodes[0]
    try:
        fleet.start()
        node = fleet.processes[victim]
        assert wait_until(lambda: node.figures.get("receipted", 0) >= PER_NODE // 4, 60)
        fleet.kill9(victim)
        at_kill, t0 = node.figures.get("receipted", 0), time.monotonic()
        fleet.start(victim)  # the gateway reboots: same outbox file, same identity
        assert at_kill < PER_NODE, "the kill came after the burst: not mid-burst"
        what = f"edge kill -9 after {at_kill}/{PER_NODE} of its alerts were receipted"
        assert_heals(fleet, tmp_path, what, t0)
    finally:
        stop_all(fleet, hub)
