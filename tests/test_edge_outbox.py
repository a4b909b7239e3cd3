"""The edge outbox: durable before publishing, deleted only on PUBACK, seq survives restarts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from broker_kit import Probe, wait_until
from conftest import REPO, SITE
from hub_helpers import make_alert

from contract.protocol import Alert, alert_topic, encode
from edge.outbox import Outbox
from edge.publisher import Publisher

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


def test_oldest_snapshots_are_dropped_first_when_the_outbox_is_full(tmp_path: Path):
    box = Outbox(tmp_path / "o.sqlite", max_bytes=3000)
    for i in range(4):
        box.put_many(
            [("vw/s/n/alert", b"a" * 100, 1), (f"vw/s/n/snapshot/{i:032x}", b"j" * 1000, 1)]
        )
    topics = [r.topic for r in box.pending()]
    assert topics.count("vw/s/n/alert") == 4  # every alert kept
    assert [t for t in topics if "snapshot" in t] == [f"vw/s/n/snapshot/{i:032x}" for i in (2, 3)]
    box.close()


@pytest.mark.mosquitto
def test_rows_leave_the_outbox_only_once_the_broker_acknowledged_them(mosquitto, tmp_path: Path):
    gateway = mosquitto.provision(NODE)
    hub_password = mosquitto.passwords["hub"]
    # A persistent hub session, so the broker keeps what arrives while the hub is away.
    hub = Probe(mosquitto.port, "hub", hub_password, "hub-outbox-test", clean_session=False)
    hub.subscribe("vw/+/+/alert", qos=1)
    hub.close()
    mosquitto.stop()

    box = Outbox(tmp_path / "outbox.sqlite")
    made = queue_alerts(box, 5)
    publisher = Publisher(gateway, box, max_inflight=2)
    publisher.start()
    try:
        time.sleep(1.5)  # no broker: nothing can be acknowledged, so nothing is deleted
        assert box.pending_count() == 5 and publisher.acked == 0

        mosquitto.start()
        assert wait_until(lambda: box.pending_count() == 0, timeout=20)
        assert publisher.acked >= 5
        hub = Probe(mosquitto.port, "hub", hub_password, "hub-outbox-test", clean_session=False)
        topic = alert_topic("vw", SITE, NODE)
        assert wait_until(lambda: len(hub.payloads(topic)) >= 5)
        got = [json.loads(p) for p in hub.payloads(topic)]
        assert [g["id"] for g in got[:5]] == [a.id for a in made]  # oldest first
        hub.close()
    finally:
        publisher.stop()
        box.close()
