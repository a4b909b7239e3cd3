"""The edge outbox: durable before publishing, every row tied to the alert whose receipt
releases it, seq survives restarts, and a full disk shrinks snapshots, never alerts."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, SITE
from hub_helpers import make_alert

from contract.protocol import Alert, alert_topic, check_snapshot, encode, snapshot_topic
from edge.outbox import PLACEHOLDER_JPEG, Outbox

NODE = "gw-plaza"


def queue_alerts(outbox: Outbox, n: int, root: str = "vw") -> list[Alert]:
    made = []
    for _ in range(n):

        def build(seq: int) -> list[tuple[str, bytes, int]]:
            made.append(make_alert(NODE, seq, has_snapshot=False))
            return [(alert_topic(root, SITE, NODE), encode(made[-1]), 1)]

        outbox.put_numbered(build)
    return made


_CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {repo!r})
    from edge.outbox import Outbox
    box = Outbox({path!r})
    for i in range(3):
        box.put_numbered(lambda seq: [("vw/riverside/gw-plaza/alert", b"alert %d" % seq, 1)])
    print("queued", flush=True)
    time.sleep(60)  # killed here, without any close()
    """
)


def test_queued_alerts_survive_the_process_being_killed(tmp_path: Path):
    path = tmp_path / "outbox.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(repo=str(REPO), path=str(path))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "queued"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    box = Outbox(path)
    assert box.pending_count() == 3
    assert [r.payload for r in box.pending()] == [b"alert 0", b"alert 1", b"alert 2"]
    assert box.counter() == 2
    box.close()


def test_seq_keeps_increasing_across_reopen_and_a_failed_build_uses_no_number(tmp_path: Path):
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    assert [a.seq for a in queue_alerts(box, 3)] == [0, 1, 2]

    def broken(seq: int):
        raise RuntimeError("snapshot encoder crashed")

    with pytest.raises(RuntimeError):
        box.put_numbered(broken)
    assert box.pending_count() == 3  # the failed alert left nothing behind
    box.close()

    again = Outbox(path)
    assert [a.seq for a in queue_alerts(again, 2)] == [3, 4]
    again.close()


def test_pending_is_oldest_first_and_reading_never_deletes(tmp_path: Path):
    box = Outbox(tmp_path / "o.sqlite")
    ids = box.put_many([("a/1", b"1", 1), ("a/2", b"2", 1), ("a/3", b"3", 0)])
    assert [r.topic for r in box.pending()] == ["a/1", "a/2", "a/3"]
    assert [r.topic for r in box.pending(exclude={ids[0]})] == ["a/2", "a/3"]
    assert box.pending_count() == 3
    box.delete(ids[1])
    assert [r.topic for r in box.pending()] == ["a/1", "a/3"]
    box.close()


def test_oldest_snapshots_shrink_to_a_placeholder_when_the_outbox_is_full(tmp_path: Path):
    """Alerts are never dropped; a snapshot becomes a tiny grey JPEG, so its alert (which
    promised one) can still be completed and receipted by the hub."""
    box = Outbox(tmp_path / "o.sqlite", max_bytes=3200)
    for i in range(4):
        box.put_many(
            [("vw/s/n/alert", b"a" * 100, 1), (f"vw/s/n/snapshot/{i:032x}", b"j" * 1000, 1)]
        )
    rows = box.pending()
    assert [r.topic for r in rows].count("vw/s/n/alert") == 4  # every alert kept
    snapshots = [r.payload for r in rows if "snapshot" in r.topic]
    assert snapshots == [PLACEHOLDER_JPEG, PLACEHOLDER_JPEG, b"j" * 1000, b"j" * 1000]
    check_snapshot(PLACEHOLDER_JPEG)  # the hub accepts it as a JPEG
    box.close()


def test_each_row_knows_the_alert_whose_receipt_releases_it(tmp_path: Path):
    box = Outbox(tmp_path / "o.sqlite")
    alert = make_alert(NODE, 0)
    box.put_many(
        [
            (alert_topic("vw", SITE, NODE), encode(alert), 1),
            (snapshot_topic("vw", SITE, NODE, alert.id), b"jpeg", 1),
            ("vw/riverside/gw-plaza/stats", b"{}", 0),
        ]
    )
    assert [(r.kind, r.alert_id) for r in box.pending()] == [
        ("alert", alert.id),
        ("snapshot", alert.id),
        (None, None),
    ]
    assert box.has_alert(alert.id)
    assert sorted(kind for _, kind in box.of_alerts([alert.id])) == ["alert", "snapshot"]
    box.close()


def test_an_outbox_written_by_a_v1_gateway_is_upgraded_in_place(tmp_path: Path):
    """A gateway updated with alerts still queued: its old rows learn their alert ids."""
    path = tmp_path / "outbox.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, "
        "payload BLOB NOT NULL, qos INTEGER NOT NULL DEFAULT 1, created REAL NOT NULL);"
    )
    alert = make_alert(NODE, 7)
    old.execute(
        "INSERT INTO outbox(topic, payload, qos, created) VALUES (?, ?, 1, 0)",
        (alert_topic("vw", SITE, NODE), encode(alert)),
    )
    old.commit()
    old.close()
    box = Outbox(path)
    assert [(r.kind, r.alert_id) for r in box.pending()] == [("alert", alert.id)]
    box.close()
