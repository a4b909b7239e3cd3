"""Test 4 of issue 7, and acknowledgement only after the commit.

When storage fails the hub holds every acknowledgement (the broker keeps the messages),
says ``degraded`` on ``GET /api/health``, retries with backoff and recovers by itself when
storage returns: nothing lost, nothing twice, no restart. Reads (the alert list, login)
keep working throughout.

The full disk is real: a small tmpfs mounted for the test (CI runs as root). The refusing
database is real too: SQLite's ``PRAGMA query_only`` makes every write fail with
SQLITE_READONLY, as a read-only remount would.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hub_helpers import (
    NodeClient,
    example_config,
    hub_stats,
    make_alert,
    snapshot_jpeg,
    start_hub,
    wait_for,
)

from contract.protocol import NodeRole, alert_topic, encode, snapshot_topic
from hub.domain.users import Role
from hub.service import HubService

pytestmark = pytest.mark.mosquitto
SITE, NODE = "riverside", "gw-plaza"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs: a disk the test can fill and free."""
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        message = f"cannot mount a tmpfs (needs root): {done.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk says ENOSPC; returns it (delete it to free the disk)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (256 * 1024, 4096, 512):  # then the last few KiB
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def quick_retries(hub: HubService) -> HubService:
    hub.pipeline.retry_min_s, hub.pipeline.retry_max_s = 0.02, 0.2
    return hub


def send(node: NodeClient, alerts) -> None:
    for alert in alerts:
        node.send(alert_topic("vw", SITE, NODE), encode(alert))


def test_storage_full_then_freed_ingest_resumes_by_itself_nothing_lost_reads_work(
    mosquitto, small_disk
):
    hub = HubService(
        example_config(), mosquitto.connection("hub", NodeRole.HUB), small_disk / "hub"
    )
    quick_retries(hub).start()
    assert hub.wait_ready(10)
    password = hub.accounts.create_user("officer", Role.OFFICER)
    officer = httpx.Client(base_url=hub.url, timeout=10)
    gw = NodeClient(mosquitto.provision(NODE), client_id=NODE)
    try:
        before = [make_alert(node=NODE, seq=i) for i in range(50)]
        send(gw, before)
        wait_for(lambda: hub.storage.alerts.count() == 50, what="the first 50")
        r = officer.post("/api/login", json={"username": "officer", "password": password})
        assert r.status_code == 200

        filler = fill(small_disk)
        # A snapshot first: its file cannot be written, so that batch fails for certain
        # (SQLite alone might still find room in its WAL for a while).
        burst = [make_alert(node=NODE, seq=50 + i) for i in range(2000)]
        gw.send(snapshot_topic("vw", SITE, NODE, burst[0].id), snapshot_jpeg())
        send(gw, burst)
        wait_for(lambda: hub.ingest_health() == "degraded", what="degraded")
        assert officer.get("/api/health").json() == {"status": "degraded"}

        # Reads keep working on the full disk: the alert list, who am I, the nodes.
        listed = officer.get("/api/alerts", params={"limit": 200})
        assert listed.status_code == 200
        assert {a.id for a in before} <= {a["id"] for a in listed.json()["items"]}
        assert officer.get("/api/me").json()["username"] == "officer"
        assert officer.get("/api/nodes").status_code == 200
        login_while_full = httpx.post(
            hub.url + "api/login", json={"username": "officer", "password": password}
        )
        assert hub.storage.alerts.count() < 50 + len(burst)  # held, not dropped

        filler.unlink()  # space returns: no restart, no operator
        every = {a.id for a in before + burst}
        wait_for(lambda: set(hub.storage.alerts.ids()) == every, 60, "every alert stored")
        wait_for(lambda: hub.ingest_health() == "ok", what="ok again")
        assert officer.get("/api/health").json() == {"status": "ok"}
        assert hub.storage.alerts.count() == len(every)  # none twice
        assert hub.storage.alerts.snapshot_file(burst[0].id) is not None
        assert hub_stats(hub.storage)["seq_gaps"] == 0
        assert hub.pipeline.storage_failures > 0
        # Signing in worked on the full disk too (the session waited in memory).
        assert login_while_full.status_code == 200, login_while_full.text
    finally:
        officer.close()
        gw.stop()
        hub.stop()


def refuse_writes(hub: HubService, refuse: bool) -> None:
    with hub.storage.alerts.database.read() as db:
        db.execute(f"PRAGMA query_only = {int(refuse)}")


def test_a_batch_the_store_refuses_is_not_acknowledged_so_the_broker_redelivers_it(
    mosquitto, tmp_path
):
    """Acknowledged only after the commit: the hub stops while storage refuses a batch,
    and the broker hands every one of those alerts to the next hub run."""
    hub = quick_retries(start_hub(mosquitto, tmp_path / "hub"))
    gw = NodeClient(mosquitto.provision(NODE), client_id=NODE)
    alerts = [make_alert(node=NODE, seq=i) for i in range(300)]
    try:
        refuse_writes(hub, True)
        send(gw, alerts)
        wait_for(lambda: hub.pipeline.storage_failures >= 2, what="failed commits")
        assert hub.ingest_health() == "degraded" and hub.storage.alerts.count() == 0
    finally:
        gw.stop()
        hub.stop()  # nothing of the refused batch was acknowledged
    hub = start_hub(mosquitto, tmp_path / "hub")
    try:
        ids = {a.id for a in alerts}
        wait_for(lambda: set(hub.storage.alerts.ids()) == ids, 30, "the redelivered alerts")
        assert hub.storage.alerts.count() == len(alerts)
    finally:
        hub.stop()


def test_ingest_recovers_by_itself_when_the_store_takes_writes_again(mosquitto, tmp_path):
    hub = quick_retries(start_hub(mosquitto, tmp_path / "hub"))
    gw = NodeClient(mosquitto.provision(NODE), client_id=NODE)
    try:
        refuse_writes(hub, True)
        alerts = [make_alert(node=NODE, seq=i) for i in range(500)]
        send(gw, alerts)
        wait_for(lambda: hub.ingest_health() == "degraded", what="degraded")
        refuse_writes(hub, False)
        ids = {a.id for a in alerts}
        wait_for(lambda: set(hub.storage.alerts.ids()) == ids, 30, "every alert")
        assert hub.ingest_health() == "ok"
        assert hub.storage.alerts.count() == len(alerts)
    finally:
        gw.stop()
        hub.stop()
