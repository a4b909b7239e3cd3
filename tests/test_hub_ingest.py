"""The ingestor against a real SQLite file: dedupe, snapshots, quarantine, gaps, retention."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hub_helpers import hub_stats, make_alert, snapshot_jpeg

from contract.protocol import (
    MAX_JSON_BYTES,
    NodeRole,
    NodeStats,
    NodeStatus,
    alert_topic,
    encode,
    snapshot_topic,
    stats_topic,
    status_topic,
)
from hub.api.views import event_data
from hub.clock import ManualClock
from hub.events import AlertStored, EventBus, HubEvent, NodeChanged, SnapshotArrived
from hub.ingest import Ingestor
from hub.retention import purge
from hub.storage.repositories import Storage
from hub.storage.sqlite import open_sqlite_storage
from hub.storage.sqlite.quarantine import EXCERPT_BYTES

SITE, NODE = "riverside", "gw-plaza"


@pytest.fixture
def store(tmp_path: Path):
    s = open_sqlite_storage(tmp_path / "hub")
    yield s
    s.close()


@pytest.fixture
def events() -> list[HubEvent]:
    return []


@pytest.fixture
def ingestor(store: Storage, events: list[HubEvent]) -> Ingestor:
    bus = EventBus()
    bus.on(events.append)  # every event ingest publishes, in order
    return Ingestor(store, bus, topic_root="vw")


def database_path(store: Storage) -> Path:
    return store.alerts.database.path


def publish_alert(ingestor: Ingestor, alert, node: str = NODE):
    return ingestor.handle(alert_topic("vw", SITE, node), encode(alert))


def test_alert_is_committed_before_handle_returns(ingestor, store):
    alert = make_alert()
    result = publish_alert(ingestor, alert)
    assert result.outcome == "stored"
    # A separate connection sees it at once: it was committed, not just buffered.
    with sqlite3.connect(database_path(store)) as other:
        row = other.execute("SELECT node, seq, area, zone FROM alerts WHERE id = ?", [alert.id])
        assert row.fetchone() == (NODE, 0, "plaza", "lawn")


def test_duplicate_alert_is_stored_once_and_counted_without_a_write_of_its_own(
    ingestor, store, events
):
    alert = make_alert()
    assert publish_alert(ingestor, alert).outcome == "stored"
    changes = store.alerts.database.db.conn.total_changes
    assert publish_alert(ingestor, alert).outcome == "duplicate"
    assert publish_alert(ingestor, alert).outcome == "duplicate"
    assert store.alerts.database.db.conn.total_changes == changes  # no write, no fsync
    assert store.alerts.ids() == [alert.id]
    assert [e.name for e in events] == ["alert"]  # officers are told once
    # Not written yet, yet the hub's figures count them already...
    assert hub_stats(store)["duplicates"] == 0
    assert hub_stats(store, ingestor)["duplicates"] == 2
    # ...and the count rides along with the next commit.
    publish_alert(ingestor, make_alert(seq=1))
    assert hub_stats(store)["duplicates"] == 2
    assert hub_stats(store, ingestor)["duplicates"] == 2


def test_snapshot_after_alert_is_linked(ingestor, store, events):
    alert = make_alert()
    publish_alert(ingestor, alert)
    result = ingestor.handle(snapshot_topic("vw", SITE, NODE, alert.id), snapshot_jpeg())
    assert result.outcome == "snapshot_linked"
    path = store.alerts.snapshot_file(alert.id)
    day = alert.ts.astimezone(UTC).strftime("%Y-%m-%d")
    assert path == (store.data_dir / "snapshots" / SITE / day / f"{alert.id}.jpg").resolve()
    assert path.read_bytes() == snapshot_jpeg()
    assert events[-1] == SnapshotArrived(alert_id=alert.id)
    assert event_data(events[-1]) == {  # what the live feed sends
        "alert_id": alert.id,
        "snapshot_url": f"/api/alerts/{alert.id}/snapshot",
    }


def test_snapshot_before_alert_is_linked_when_the_alert_arrives(ingestor, store, events):
    alert = make_alert()
    result = ingestor.handle(snapshot_topic("vw", SITE, NODE, alert.id), snapshot_jpeg())
    assert result.outcome == "snapshot_pending"
    assert store.alerts.pending_snapshot_ids() == [alert.id]
    assert store.alerts.snapshot_file(alert.id) is None  # no alert yet: nothing to serve
    publish_alert(ingestor, alert)
    assert store.alerts.pending_snapshot_ids() == []
    assert store.alerts.snapshot_file(alert.id).read_bytes() == snapshot_jpeg()
    assert isinstance(events[-1], AlertStored) and events[-1].alert.snapshot_ready
    assert event_data(events[-1])["snapshot_url"] == f"/api/alerts/{alert.id}/snapshot"


def test_second_copy_of_a_snapshot_is_a_duplicate(ingestor, store):
    alert = make_alert()
    publish_alert(ingestor, alert)
    topic = snapshot_topic("vw", SITE, NODE, alert.id)
    assert ingestor.handle(topic, snapshot_jpeg()).outcome == "snapshot_linked"
    assert ingestor.handle(topic, snapshot_jpeg()).outcome == "snapshot_duplicate"
    assert hub_stats(store)["snapshot_duplicates"] == 1


def test_an_alert_is_receipted_only_once_the_jpeg_it_announced_is_stored_too(ingestor):
    """A receipt lets the node forget the alert *and* its snapshot: it must not come while
    the broker may still lose the JPEG."""
    alert = make_alert(has_snapshot=True)
    first = publish_alert(ingestor, alert)
    assert first.outcome == "stored" and not first.receipted
    assert not publish_alert(ingestor, alert).receipted  # a re-send, still no JPEG
    topic = snapshot_topic("vw", SITE, NODE, alert.id)
    linked = ingestor.handle(topic, snapshot_jpeg())
    assert linked.receipted and (linked.node, linked.alert_id) == (NODE, alert.id)
    assert publish_alert(ingestor, alert).receipted  # complete now: re-sends are receipted
    assert ingestor.handle(topic, snapshot_jpeg()).receipted


def test_a_jpeg_before_its_alert_is_not_a_receipt_for_an_alert_the_hub_lacks(ingestor):
    alert = make_alert(has_snapshot=True)
    topic = snapshot_topic("vw", SITE, NODE, alert.id)
    assert not ingestor.handle(topic, snapshot_jpeg()).receipted
    assert not ingestor.handle(topic, snapshot_jpeg()).receipted  # pending, not stored
    assert publish_alert(ingestor, alert).receipted  # the alert finds its JPEG waiting


def test_a_quarantined_alert_is_receipted_so_its_node_stops_resending_it(ingestor, store):
    """Decided is decided: the hub keeps it in quarantine with its reason, and a node that
    re-sent it forever would only fill its window with copies refused again."""
    bad = json.loads(encode(make_alert(has_snapshot=False)))
    bad["seq"] = 2**63
    result = ingestor.handle(alert_topic("vw", SITE, NODE), json.dumps(bad).encode())
    assert (result.outcome, result.reason) == ("quarantined", "invalid")
    assert result.receipted and (result.node, result.alert_id) == (NODE, bad["id"])
    garbage = ingestor.handle(alert_topic("vw", SITE, NODE), b"\xff not json")
    assert garbage.outcome == "quarantined" and not garbage.receipted  # no id to receipt


HOSTILE = {
    "not_json": (alert_topic("vw", SITE, NODE), b"\xff\xfe<html>not json"),
    "wrong_version": (
        alert_topic("vw", SITE, NODE),
        json.dumps({**json.loads(encode(make_alert())), "v": 3}).encode(),
    ),
    "too_large": (
        alert_topic("vw", SITE, NODE),
        json.dumps({"v": 1, "pad": "x" * 100_000}).encode(),
    ),
    "invalid": (
        alert_topic("vw", SITE, NODE),
        json.dumps({**json.loads(encode(make_alert())), "severity": "apocalyptic"}).encode(),
    ),
    "node_mismatch": (alert_topic("vw", SITE, NODE), encode(make_alert(node="gate-door"))),
    "not_jpeg": (snapshot_topic("vw", SITE, NODE, "ab" * 16), b"GIF89a this is no jpeg"),
    "bad_topic": ("vw/Riverside/gw-plaza/alert", encode(make_alert())),
}


@pytest.mark.parametrize("reason", sorted(HOSTILE))
def test_hostile_message_is_quarantined_not_stored(ingestor, store, events, reason):
    topic, payload = HOSTILE[reason]
    result = ingestor.handle(topic, payload)
    assert (result.outcome, result.reason) == ("quarantined", reason)
    assert store.alerts.ids() == [] and events == []
    [row] = store.quarantine.entries()
    assert row.reason == reason and row.topic == topic and row.size == len(payload)
    assert len(row.excerpt.encode()) <= EXCERPT_BYTES * 4  # escaped, at most 1 KiB of input
    assert hub_stats(store)["quarantined"] == {reason: 1}
    # The hub goes on: the next good alert is stored.
    assert publish_alert(ingestor, make_alert()).outcome == "stored"


def test_oversized_payload_keeps_only_a_one_kib_excerpt(ingestor, store):
    payload = json.dumps({"v": 1, "pad": "y" * (MAX_JSON_BYTES * 2)}).encode()
    ingestor.handle(alert_topic("vw", SITE, NODE), payload)
    with sqlite3.connect(database_path(store)) as db:
        size, excerpt = db.execute("SELECT size, excerpt FROM quarantine").fetchone()
    assert size == len(payload) and len(excerpt) == EXCERPT_BYTES


def test_snapshot_from_another_node_than_its_alert_is_refused(ingestor, store):
    alert = make_alert(node=NODE)
    publish_alert(ingestor, alert)
    result = ingestor.handle(snapshot_topic("vw", SITE, "gate-door", alert.id), snapshot_jpeg())
    assert (result.outcome, result.reason) == ("quarantined", "node_mismatch")
    assert store.alerts.snapshot_file(alert.id) is None
    # The rightful owner can still deliver it.
    ingestor.handle(snapshot_topic("vw", SITE, NODE, alert.id), snapshot_jpeg())
    assert store.alerts.snapshot_file(alert.id) is not None


def test_early_snapshot_from_another_node_is_dropped_when_the_alert_arrives(ingestor, store):
    alert = make_alert(node=NODE)
    ingestor.handle(snapshot_topic("vw", SITE, "gate-door", alert.id), snapshot_jpeg())
    assert store.alerts.pending_snapshot_ids() == [alert.id]
    publish_alert(ingestor, alert)
    assert store.alerts.snapshot_file(alert.id) is None
    assert [r.reason for r in store.quarantine.entries()] == ["node_mismatch"]
    assert not list((store.data_dir / "snapshots").rglob("*.jpg"))  # the file went too


def test_sequence_gaps_are_counted_and_late_alerts_fill_them(ingestor, store):
    for seq in (0, 1, 4):  # 2 and 3 lost
        publish_alert(ingestor, make_alert(seq=seq))
    assert hub_stats(store)["seq_gaps"] == 2
    [node] = store.nodes.all()
    assert (node.node, node.last_seq, node.seq_gaps) == (NODE, 4, 2)
    publish_alert(ingestor, make_alert(seq=2))  # late, from a retransmission
    assert hub_stats(store)["seq_gaps"] == 1
    assert hub_stats(store)["seq_gaps_seen"] == 2
    first_of_another_node = make_alert(node="gate-door", seq=10)
    assert publish_alert(ingestor, first_of_another_node, node="gate-door").outcome == "stored"
    assert hub_stats(store)["seq_gaps"] == 1


def test_node_status_history_records_changes_only(ingestor, store, events):
    topic = status_topic("vw", SITE, NODE)

    def status(state: str) -> bytes:
        return encode(
            NodeStatus(
                site=SITE,
                node=NODE,
                state=state,
                role=NodeRole.CAMERA_GATEWAY,
                ts=datetime.now(UTC) if state == "online" else None,
            )
        )

    for state in ("online", "online", "offline", "online"):
        assert ingestor.handle(topic, status(state)).outcome == "status"
    history = [h.state for h in store.nodes.status_history(SITE, NODE)]
    assert history == ["online", "offline", "online"]
    changes = [e.node.state for e in events if isinstance(e, NodeChanged)]
    assert changes == ["online", "offline", "online"]
    assert store.nodes.get(SITE, NODE).state == "online"


def test_latest_stats_are_kept_per_node(ingestor, store):
    for uptime in (10.0, 70.0):
        stats = NodeStats(
            site=SITE, node=NODE, ts=datetime.now(UTC), uptime_s=uptime, outbox_pending=3
        )
        assert ingestor.handle(stats_topic("vw", SITE, NODE), encode(stats)).outcome == "stats"
    node = store.nodes.get(SITE, NODE)
    assert node.stats.uptime_s == 70.0 and node.stats.outbox_pending == 3


def test_purge_removes_old_alerts_their_files_and_stale_pending_snapshots(store):
    # Ages are measured on the hub's clock: receive the first alert 40 days before the rest.
    clock = ManualClock()
    ingestor = Ingestor(store, EventBus(), topic_root="vw", clock=clock)
    old, new = make_alert(seq=0), make_alert(seq=1)
    for a in (old, new):
        publish_alert(ingestor, a)
        ingestor.handle(snapshot_topic("vw", SITE, NODE, a.id), snapshot_jpeg())
        if a is old:
            clock.advance(days=40)
    orphan = make_alert(seq=2)  # its snapshot comes, the alert never does
    ingestor.handle(snapshot_topic("vw", SITE, NODE, orphan.id), snapshot_jpeg())
    ingestor.handle("vw/x/y/alert", b"junk")  # a quarantine row
    store.audit.record(clock(), "admin", "login")
    old_file = store.alerts.snapshot_file(old.id)

    counts = purge(store, 30, clock=lambda: clock() + timedelta(hours=2))
    assert counts["alerts"] == 1 and counts["pending_snapshots"] == 1
    assert counts["snapshot_files"] == 2
    assert store.alerts.ids() == [new.id]
    assert not old_file.exists()
    assert store.alerts.snapshot_file(new.id).is_file()
    assert store.alerts.pending_snapshot_ids() == []
    jpegs = sorted(p.name for p in (store.data_dir / "snapshots").rglob("*.jpg"))
    assert jpegs == [f"{new.id}.jpg"]
    # Quarantine and audit are younger than 30 days: kept.
    assert len(store.quarantine.entries()) == 1 and store.audit.entries()
    assert purge(store, 30, clock=lambda: clock() + timedelta(days=31))["quarantine"] == 1


def applied_migrations(storage: Storage) -> list[tuple[str, str]]:
    rows = storage.alerts.database.all("SELECT migration_set, name FROM _sqlite_migrations")
    return [(r["migration_set"], r["name"]) for r in rows]


def test_reopening_the_store_keeps_data_and_does_not_migrate_twice(tmp_path):
    first = open_sqlite_storage(tmp_path / "hub")
    alert = make_alert()
    first.alerts.insert(alert, datetime.now(UTC))
    applied_first = applied_migrations(first)
    first.close()
    again = open_sqlite_storage(tmp_path / "hub")
    assert again.alerts.ids() == [alert.id]
    applied = applied_migrations(again)
    mode = again.alerts.database.scalar("PRAGMA journal_mode")
    # One migration set per aggregate, each applied once, none again on reopening.
    assert ("villagewatch-hub-alerts", "m001_alerts") in applied
    assert applied == applied_first and len(set(applied)) == len(applied)
    assert mode == "wal"
    again.close()


def test_a_broken_store_is_reported_as_held_not_raised_nor_quarantined(ingestor, store):
    store.close()  # every write now fails inside the ingestor
    result = ingestor.handle(alert_topic("vw", SITE, NODE), encode(make_alert()))
    # The store's fault, not the message's: it must not be acknowledged (nor quarantined).
    assert (result.outcome, result.reason) == ("held", "storage_unavailable")


def test_an_empty_payload_clearing_a_retained_message_is_not_quarantined(ingestor, store):
    """The broker clears stray retained messages by publishing an empty one: that is MQTT
    housekeeping, not a bad message from a node."""
    for topic in (alert_topic("vw", SITE, NODE), snapshot_topic("vw", SITE, NODE, "a" * 32)):
        assert ingestor.handle(topic, b"").outcome == "empty"
    assert store.quarantine.entries() == [] and store.alerts.count() == 0
