"""Sequence numbers and node clocks: loss detection that cannot be fooled or overflowed.

A node's ``seq`` grows by one per alert, so a jump means lost alerts. Issue 7 found a huge
``seq`` overflowing ``/api/stats`` and a later, real gap *lowering* the gap count (turning
loss detection off). Gaps are now remembered as ranges: only an alert that really was
missing gives one back. Alerts whose event time is far off are kept, counted, and listed by
when they came, so they never hide newer ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hub_helpers import hub_stats, make_alert

from contract.protocol import MAX_SEQ, alert_topic, encode
from hub.domain.alerts import AlertQuery
from hub.events import EventBus
from hub.ingest import Ingestor

SITE, NODE = "riverside", "gw-plaza"


@pytest.fixture
def ingestor(storage, clock) -> Ingestor:
    return Ingestor(storage, EventBus(), topic_root="vw", clock=clock)


def send(ingestor: Ingestor, *seqs: int, node: str = NODE, **fields) -> None:
    batch = [
        (alert_topic("vw", SITE, node), encode(make_alert(node=node, seq=s, **fields)))
        for s in seqs
    ]
    assert all(r.outcome == "stored" for r in ingestor.handle_batch(batch).results)


def test_a_huge_seq_is_a_jump_not_a_loss_and_real_gaps_after_it_are_still_counted(
    ingestor, storage
):
    send(ingestor, 0, 1, MAX_SEQ)
    stats = hub_stats(storage)
    assert stats["seq_gaps"] == 0 and stats["seq_gaps_seen"] == 0
    assert storage.counters.all()["seq_jumps"] == 1
    send(ingestor, 2, 3, 5)  # the node goes on from where it was; 4 is lost
    assert hub_stats(storage)["seq_gaps"] == 1
    assert storage.nodes.get(SITE, NODE).last_seq == 5


def test_a_lower_seq_that_fills_no_gap_never_lowers_the_gap_count(ingestor, storage):
    send(ingestor, 0, 1, 4)  # 2 and 3 lost
    assert hub_stats(storage)["seq_gaps"] == 2
    send(ingestor, 1)  # a replay of an old number (another id): no gap filled
    send(ingestor, 0)
    assert hub_stats(storage)["seq_gaps"] == 2
    send(ingestor, 3)  # a real late alert
    assert hub_stats(storage)["seq_gaps"] == 1
    send(ingestor, 3)  # the same number again fills nothing twice
    assert hub_stats(storage)["seq_gaps"] == 1
    send(ingestor, 8)  # a new real gap (5, 6, 7) raises the count
    assert hub_stats(storage)["seq_gaps"] == 4
    assert hub_stats(storage)["seq_gaps_seen"] == 5


def test_gaps_found_inside_one_batch_are_the_same_as_one_by_one(ingestor, storage):
    send(ingestor, 0, 3, 1, 7, 2)  # 1, 2, 4, 5, 6 missing after 7; 1 and 2 come late
    assert hub_stats(storage)["seq_gaps"] == 3
    assert storage.nodes.get(SITE, NODE).last_seq == 7


def test_stats_add_up_across_many_nodes_with_the_largest_gaps(ingestor, storage):
    for n in range(40):
        send(ingestor, 0, 1_000_000, node=f"gw-{n}")  # the largest gap counted as loss
    assert hub_stats(storage)["seq_gaps"] == 40 * 999_999


def test_an_alert_with_a_wrong_clock_is_kept_flagged_and_never_hides_newer_ones(
    ingestor, storage, clock
):
    send(ingestor, 0, ts=clock())  # a node with a right clock
    clock.advance(seconds=1)
    off = datetime(2190, 1, 1, tzinfo=UTC)  # a node whose clock says 2190
    send(ingestor, 1, ts=off)
    clock.advance(seconds=1)
    send(ingestor, 2, ts=clock() - timedelta(days=400))  # and one a year behind
    assert storage.counters.all()["clock_skewed"] == 2
    newest_first = [a.seq for a in storage.alerts.find(AlertQuery()).items]
    assert newest_first == [2, 1, 0]  # by when they came, not what they say
