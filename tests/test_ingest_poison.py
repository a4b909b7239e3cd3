"""Test 5 of issue 7: poison messages never stop other nodes' alerts.

Every message is *decided* — stored, a duplicate, a status or stats, or quarantined with a
reason — and none makes the hub stall. The issue's own poison (extreme timestamps, seq 2**63,
JSON nested 1,000 deep) and 10,000 messages hypothesis builds from the protocol's schema and
from outside it go straight into the ingest pipeline's batches (fast, in-process, real
SQLite); a few hundred more go through real mosquitto into a running hub.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import pytest
from hub_helpers import NodeClient, hub_stats, make_alert, start_hub, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_kit import REASONS, SITE, alert_json, messages, poison_from_the_issue

from contract.protocol import alert_topic, encode
from hub.domain.alerts import AlertRecord
from hub.events import EventBus
from hub.incidents.service import IncidentService
from hub.ingest import Ingestor
from hub.storage.sqlite import open_sqlite_storage

#: Outcomes other than quarantine; "empty" is an empty payload (a retained message cleared).
DECIDED = {
    "stored", "duplicate", "status", "stats", "snapshot_linked", "snapshot_pending",
    "snapshot_duplicate", "empty",
}  # fmt: skip


@pytest.fixture
def ingestor(storage) -> Ingestor:
    return Ingestor(storage, EventBus(), IncidentService(storage, EventBus()), topic_root="vw")


def quarantined_total(storage) -> int:
    return sum(hub_stats(storage)["quarantined"].values())


@pytest.mark.parametrize("kind", sorted(poison_from_the_issue("gw-bad")))
def test_each_poison_kind_from_the_issue_is_quarantined_with_a_reason(ingestor, storage, kind):
    payload = poison_from_the_issue("gw-bad")[kind]
    good = make_alert(node="gw-good")
    bad_topic, good_topic = alert_topic("vw", SITE, "gw-bad"), alert_topic("vw", SITE, "gw-good")
    outcome = ingestor.handle_batch([(bad_topic, payload), (good_topic, encode(good))])
    bad, ok = outcome.results
    assert bad.outcome == "quarantined" and bad.reason in REASONS - {"internal_error"}, bad
    assert ok.outcome == "stored"  # the good alert of the same batch is not held back
    [row] = storage.quarantine.entries()
    assert row.reason == bad.reason and row.detail


def test_ten_thousand_generated_messages_are_each_decided_and_good_alerts_keep_flowing(
    tmp_path: Path,
):
    storage = open_sqlite_storage(tmp_path / "hub")
    ingestor = Ingestor(storage, EventBus(), IncidentService(storage, EventBus()), topic_root="vw")
    good_seq = iter(range(10**6))
    seen = {"messages": 0, "quarantined": 0, "good": 0}

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        derandomize=True,  # the same 10,000 in every CI run
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(messages("gw-bad"), min_size=50, max_size=50))
    def one_batch(batch: list[tuple[str, bytes]]) -> None:
        good = [make_alert(node="gw-good", seq=next(good_seq)) for _ in range(2)]
        mixed = [batch[0], (alert_topic("vw", SITE, "gw-good"), encode(good[0])), *batch[1:]]
        mixed.append((alert_topic("vw", SITE, "gw-good"), encode(good[1])))
        before = quarantined_total(storage)
        results = ingestor.handle_batch(mixed).results
        assert len(results) == len(mixed)
        for (topic, payload), result in zip(mixed, results, strict=True):
            if result.outcome == "quarantined":
                assert result.reason in REASONS - {"internal_error"}, (topic, payload[:200])
            else:
                assert result.outcome in DECIDED, (result, topic, payload[:200])
        quarantined = sum(r.outcome == "quarantined" for r in results)
        assert quarantined_total(storage) - before == quarantined  # each has its row
        assert {a.id for a in good} <= set(storage.alerts.known_ids([a.id for a in good]))
        seen["messages"] += len(batch)
        seen["quarantined"] += quarantined
        seen["good"] += len(good)

    try:
        one_batch()
        assert seen["messages"] == 10_000
        assert seen["quarantined"] > 5_000  # most are bad (the rest happen to be valid)
        assert hub_stats(storage)["seq_gaps"] >= 0  # stats still add up (no overflow)
    finally:
        storage.close()


class BrokenCorrelator:
    """A correlator with a bug that only one kind of alert hits (stands for any bug in the
    hub's own code that a message can trigger)."""

    def correlate(self, alert: AlertRecord):
        if alert.kind == "trips_a_bug":
            raise ZeroDivisionError("the bug")
        return None

    def correlate_many(self, alerts: list[AlertRecord]):
        return [self.correlate(a) for a in alerts]


def test_a_message_that_makes_the_hub_raise_is_quarantined_alone_and_the_batch_is_stored(
    storage,
):
    ingestor = Ingestor(storage, EventBus(), BrokenCorrelator(), topic_root="vw")
    alerts = [make_alert(node="gw-good", seq=i) for i in range(5)]
    alerts[2] = make_alert(node="gw-good", seq=2, kind="trips_a_bug")
    topic = alert_topic("vw", SITE, "gw-good")
    results = ingestor.handle_batch([(topic, encode(a)) for a in alerts]).results
    assert [r.outcome for r in results] == ["stored"] * 2 + ["quarantined"] + ["stored"] * 2
    assert results[2].reason == "internal_error"
    assert set(storage.alerts.ids()) == {a.id for i, a in enumerate(alerts) if i != 2}
    [row] = storage.quarantine.entries()
    assert row.reason == "internal_error" and "ZeroDivisionError" in row.detail


def fuzzed(rng: random.Random, node: str, count: int) -> list[bytes]:
    """Alerts of ``node`` with one field set to something hostile, or bytes flipped."""
    hostile = [None, -1, 2**63, "", "x" * 500, [], {}, 1e308, "9999-12-31T23:59:59Z"]
    out = []
    for i in range(count):
        fields = alert_json(node, seq=i)
        if rng.random() < 0.5:
            fields[rng.choice(sorted(fields))] = rng.choice(hostile)
            out.append(json.dumps(fields).encode())
        else:
            raw = bytearray(json.dumps(fields).encode())
            for _ in range(rng.randint(1, 5)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            out.append(bytes(raw))
    return out


@pytest.mark.mosquitto
def test_poison_through_mosquitto_never_stalls_another_nodes_alerts(mosquitto, tmp_path):
    """Twice the issue's poison and 300 fuzzed alerts from one node, interleaved with 100
    good alerts from another: every good one is stored, every bad one quarantined."""
    hub = start_hub(mosquitto, tmp_path / "hub")
    bad = NodeClient(mosquitto.provision("gw-bad"), client_id="gw-bad")
    good = NodeClient(mosquitto.provision("gw-good"), client_id="gw-good")
    try:
        poison = [*poison_from_the_issue("gw-bad").values()] * 2
        poison += fuzzed(random.Random(7), "gw-bad", 300)
        wanted = [make_alert(node="gw-good", seq=i) for i in range(100)]
        for i, payload in enumerate(poison):
            bad.send(alert_topic("vw", SITE, "gw-bad"), payload)
            if i % 3 == 0 and wanted[i // 3 :]:
                good.send(alert_topic("vw", SITE, "gw-good"), encode(wanted[i // 3]))
        ids = {a.id for a in wanted}
        wait_for(lambda: ids <= set(hub.storage.alerts.ids()), 30, "the good alerts")

        def decided() -> bool:
            stored_bad = sum(a.node == "gw-bad" for a in _all_alerts(hub))
            return quarantined_total(hub.storage) + stored_bad >= len(poison)

        wait_for(decided, 30, "every poison message decided")
        reasons = {r.reason for r in hub.storage.quarantine.entries(limit=10_000)}
        assert reasons <= REASONS - {"internal_error"}
        assert {"invalid", "not_json"} <= reasons
        assert httpx.get(hub.url + "api/health", timeout=5).json() == {"status": "ok"}
        assert hub.ingest_health() == "ok"
    finally:
        bad.stop()
        good.stop()
        hub.stop()


def _all_alerts(hub) -> list[AlertRecord]:
    return [hub.storage.alerts.get(i) for i in hub.storage.alerts.ids()]
