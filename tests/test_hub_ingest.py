"""The ingestor against a real SQLite file: dedupe, snapshots, quarantine, gaps, retention."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hub_helpers import make_alert, snapshot_jpeg

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
from hub.ingest import Ingestor
from hub.store import EXCERPT_BYTES, HubStore

SITE, NODE = "riverside", "gw-plaza"


@pytest.fixture
def store(tmp_path: Path):
    s = HubStore(tmp_path / "hub")
    yield s
    s.close()


@pytest.fixture
def events() -> list[dict]:
    return []


@pytest.fixture
def ingestor(store: HubStore, events: list[dict]) -> Ingestor:
    return Ingestor(store, "vw", listeners=[events.append])


def publish_alert(ingestor: Ingestor, alert, node: str = NODE):
    return ingestor.handle(alert_topic("vw", SITE, node), encode(alert))


def test_alert_is_committed_before_handle_returns(ingestor, store):
    alert = make_alert()
    result = publish_alert(ingestor, alert)
    assert result.outcome == "stored"
    # A separate connection sees it at once: it was committed, not just buffered.
    with sqlite3.connect(store.db_path) as other:
        row = other.execute("SELECT node, seq, area, zone FROM alerts WHERE id = ?", [alert.id])
        assert row.fetchone() == (NODE, 0, "plaza", "lawn")


def test_duplicate_alert_is_stored_once_and_counted(ingestor, store, events):
    alert = make_alert()
    assert publish_alert(ingestor, alert).outcome == "stored"
    assert publish_alert(ingestor, alert).outcome == "duplicate"
    assert publish_alert(ingestor, alert).outcome == "duplicate"
    assert store.alert_ids() == [alert.id]
    assert store.stats()["duplicates"] == 2
    assert [e["type"] for e in events] == ["alert"]  # officers are told once


def test_snapshot_after_alert_is_linked(ingestor, store, events):
    alert = make_alert()
    publish_alert(ingestor, alert)
    result = ingestor.handle(snapshot_topic("vw", SITE, NODE, alert.id), snapshot_jpeg())
    assert result.outcome == "snapshot_linked"
    path = store.snapshot_file(alert.id)
    day = alert.ts.astimezone(UTC).strftime("%Y-%m-%d")
    assert path == (store.data_dir / "snapshots" / SITE / day / f"{alert.id}.jpg").resolve()
    assert path.read_bytes() == snapshot_jpeg()
    assert events[-1] == {
        "type": "snapshot",
        "alert_id": alert.id,
        "snapshot_url": f"/api/alerts/{alert.id}/snapshot",
    }


def test_snapshot_before_alert_is_linked_when_the_alert_arrives(ingestor, store, events):
    alert = make_alert()
    result = ingestor.handle(snapshot_topic("vw", SITE, NODE, alert.id), snapshot_jpeg())
    assert result.outcome == "snapshot_pending"
    assert store.pending_snapshot_ids() == [alert.id]
    assert store.snapshot_file(alert.id) is None  # no alert yet: nothing to serve
    publish_alert(ingestor, alert)
    assert store.pending_snapshot_ids() == []
    assert store.snapshot_file(alert.id).read_bytes() == snapshot_jpeg()
    assert events[-1]["type"] == "alert"
    assert events[-1]["snapshot_url"] == f"/api/alerts/{alert.id}/snapshot"


def test_second_copy_of_a_snapshot_is_a_duplicate(ingestor, store):
    alert = make_alert()
    publish_alert(ingestor, alert)
    topic = snapshot_topic("vw", SITE, NODE, alert.id)
    assert ingestor.handle(topic, snapshot_jpeg()).outcome == "snapshot_linked"
    assert ingestor.handle(topic, snapshot_jpeg()).outcome == "duplicate"
    assert store.stats()["snapshot_duplicates"] == 1


HOSTILE = {
    "not_json": (alert_topic("vw", SITE, NODE), b"\xff\xfe<html>not json"),
    "wrong_version": (
        alert_topic("vw", SITE, NODE),
        json.dumps({**json.loads(encode(make_alert())), "v": 2}).encode(),
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
    assert store.alert_ids() == [] and events == []
    [row] = store.quarantine_rows()
    assert row["reason"] == reason and row["topic"] == topic and row["size"] == len(payload)
    assert len(row["excerpt"].encode()) <= EXCERPT_BYTES * 4  # escaped, at most 1 KiB of input
    assert store.stats()["quarantined"] == {reason: 1}
    # The hub goes on: the next good alert is stored.
    assert publish_alert(ingestor, make_alert()).outcome == "stored"


def test_oversized_payload_keeps_only_a_one_kib_excerpt(ingestor, store):
    payload = json.dumps({"v": 1, "pad": "y" * (MAX_JSON_BYTES * 2)}).encode()
    ingestor.handle(alert_topic("vw", SITE, NODE), payload)
    with sqlite3.connect(store.db_path) as db:
        size, excerpt = db.execute("SELECT size, excerpt FROM quarantine").fetchone()
    assert size == len(payload) and len(excerpt) == EXCERPT_BYTES


def test_snapshot_from_another_node_than_its_alert_is_refused(ingestor, store):
    alert = make_alert(node=NODE)
    publish_alert(ingestor, alert)
    result = ingestor.handle(snapshot_topic("vw", SITE, "gate-door", alert.id), snapshot_jpeg())
    assert (result.outcome, result.reason) == ("quarantined", "node_mismatch")
    assert store.snapshot_file(alert.id) is None
    # The rightful owner can still deliver it.
    ingestor.handle(snapshot_topic("vw", SITE, NODE, alert.id), snapshot_jpeg())
    assert store.snapshot_file(alert.id) is not None


def test_early_snapshot_from_another_node_is_dropped_when_the_alert_arrives(ingestor, store):
    alert = make_alert(node=NODE)
    ingestor.handle(snapshot_topic("vw", SITE, "gate-door", alert.id), snapshot_jpeg())
    assert store.pending_snapshot_ids() == [alert.id]
    publish_alert(ingestor, alert)
    assert store.snapshot_file(alert.id) is None
    assert [r["reason"] for r in store.quarantine_rows()] == ["node_mismatch"]
    assert not list((store.data_dir / "snapshots").rglob("*.jpg"))  # the file went too


def test_sequence_gaps_are_counted_and_late_alerts_fill_them(ingestor, store):
    for seq in (0, 1, 4):  # 2 and 3 lost
        publish_alert(ingestor, make_alert(seq=seq))
    assert store.stats()["seq_gaps"] == 2
    [node] = store.nodes.current()
    assert (node["node"], node["last_seq"], node["seq_gaps"]) == (NODE, 4, 2)
    publish_alert(ingestor, make_alert(seq=2))  # late, from a retransmission
    assert store.stats()["seq_gaps"] == 1
    assert store.stats()["seq_gaps_seen"] == 2
    publish_alert(ingestor, make_alert(node="gate-door", seq=10))  # first alert: no gap
    assert store.stats()["seq_gaps"] == 1


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
    history = [h["state"] for h in store.nodes.status_history(SITE, NODE)]
    assert history == ["online", "offline", "online"]
    assert [e["state"] for e in events if e["type"] == "node"] == ["online", "offline", "online"]
    assert store.nodes.get(SITE, NODE)["state"] == "online"


def test_latest_stats_are_kept_per_node(ingestor, store):
    for uptime in (10.0, 70.0):
        stats = NodeStats(
            site=SITE, node=NODE, ts=datetime.now(UTC), uptime_s=uptime, outbox_pending=3
        )
        assert ingestor.handle(stats_topic("vw", SITE, NODE), encode(stats)).outcome == "stats"
    node = store.nodes.get(SITE, NODE)
    assert node["stats"]["uptime_s"] == 70.0 and node["stats"]["outbox_pending"] == 3


def test_purge_removes_old_alerts_their_files_and_stale_pending_snapshots(ingestor, store):
    old, new = make_alert(seq=0), make_alert(seq=1)
    for a in (old, new):
        publish_alert(ingestor, a)
        ingestor.handle(snapshot_topic("vw", SITE, NODE, a.id), snapshot_jpeg())
    orphan = make_alert(seq=2)  # its snapshot comes, the alert never does
    ingestor.handle(snapshot_topic("vw", SITE, NODE, orphan.id), snapshot_jpeg())
    ingestor.handle("vw/x/y/alert", b"junk")  # a quarantine row
    store.accounts.audit("admin", "login")
    old_file = store.snapshot_file(old.id)
    # Pretend the first alert arrived 40 days ago.
    long_ago = (datetime.now(UTC) - timedelta(days=40)).isoformat(timespec="milliseconds")
    with store.lock:
        store.db.execute("UPDATE alerts SET received_at = ? WHERE id = ?", [long_ago, old.id])

    counts = store.purge(30, now=datetime.now(UTC) + timedelta(hours=2))
    assert counts["alerts"] == 1 and counts["pending_snapshots"] == 1
    assert counts["snapshot_files"] == 2
    assert store.alert_ids() == [new.id]
    assert not old_file.exists()
    assert store.snapshot_file(new.id).is_file()
    assert store.pending_snapshot_ids() == []
    jpegs = sorted(p.name for p in (store.data_dir / "snapshots").rglob("*.jpg"))
    assert jpegs == [f"{new.id}.jpg"]
    # Quarantine and audit are younger than 30 days: kept.
    assert len(store.quarantine_rows()) == 1 and store.accounts.audit_rows()
    assert store.purge(30, now=datetime.now(UTC) + timedelta(days=31))["quarantine"] == 1


def test_reopening_the_store_keeps_data_and_does_not_migrate_twice(tmp_path):
    first = HubStore(tmp_path / "hub")
    alert = make_alert()
    first.insert_alert(alert)
    first.close()
    again = HubStore(tmp_path / "hub")
    assert again.alert_ids() == [alert.id]
    with again.lock:
        applied = [r["name"] for r in again.db.query("SELECT name FROM _sqlite_migrations")]
        mode = again.db.execute("PRAGMA journal_mode").fetchone()[0]
    assert applied == ["m001_initial"] and mode == "wal"
    again.close()


def test_a_broken_store_is_reported_not_raised(ingestor, store):
    store.close()  # every write now fails inside the ingestor
    result = ingestor.handle(alert_topic("vw", SITE, NODE), encode(make_alert()))
    assert (result.outcome, result.reason) == ("quarantined", "internal_error")
