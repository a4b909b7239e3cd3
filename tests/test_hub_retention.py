"""Retention: each kind of record lives as long as the site file says (``hub.retention``
per kind, ``hub.retention_days`` for the rest), measured on the hub's clock (a ManualClock
here), purged by a background worker; snapshots whose alert never came are gone after an
hour with their files — 300 of them once left 21 MB behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hub_helpers import make_alert, snapshot_jpeg, wait_for

from contract.hub_settings import HubSettings
from contract.ids import new_alert_id
from contract.siteconfig import ConfigError, parse_site_config
from hub.retention import Lifetimes, RetentionWorker, purge
from hub.storage.sqlite.orphans import orphan_sweeper


def hub_settings(**hub) -> HubSettings:
    site = {"site": {"id": "riverside", "name": "Riverside"}, "areas": [{"id": "a", "name": "A"}]}
    return parse_site_config({**site, "hub": hub}).hub


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_the_site_file_sets_a_lifetime_per_kind_and_retention_days_for_the_rest():
    settings = hub_settings(retention_days=30, retention={"alerts_days": 7, "audit_days": 365})
    assert Lifetimes.from_settings(settings) == Lifetimes(
        alerts=7, audit=365, quarantine=30, notifications=30, node_history=30
    )
    assert Lifetimes.from_settings(hub_settings()) == Lifetimes.uniform(30)
    with pytest.raises(ConfigError, match=r"retention\.positions_days"):
        hub_settings(retention={"positions_days": 3})


def test_each_kind_goes_when_its_own_lifetime_is_over(storage, clock):
    lifetimes = Lifetimes.from_settings(
        hub_settings(retention_days=30, retention={"alerts_days": 7, "audit_days": 365})
    )
    alert = make_alert()
    storage.alerts.insert(alert, clock())
    storage.alerts.save_snapshot(alert.site, alert.node, alert.id, snapshot_jpeg(), clock())
    storage.audit.record(clock(), "officer", "alert.view", alert.id)
    storage.quarantine.add(clock(), "vw/riverside/x/alert", "invalid", "bad", b"{}")

    clock.advance(days=7, seconds=1)
    assert purge(storage, lifetimes, clock)["alerts"] == 1
    assert storage.alerts.count() == 0 and files_under(storage.data_dir / "snapshots") == []
    assert len(storage.quarantine.entries()) == 1 and len(storage.audit.entries()) == 1

    clock.advance(days=23)
    purge(storage, lifetimes, clock)
    assert storage.quarantine.entries() == [] and len(storage.audit.entries()) == 1

    clock.advance(days=335)
    purge(storage, lifetimes, clock)
    assert storage.audit.entries() == []


def test_300_snapshots_whose_alert_never_came_leave_no_bytes_after_an_hour(storage, clock):
    for _ in range(300):
        outcome = storage.alerts.save_snapshot(
            "riverside", "gw-plaza", new_alert_id(), snapshot_jpeg(), clock()
        )
        assert outcome == "pending"
    snapshots = storage.data_dir / "snapshots"
    held = sum(p.stat().st_size for p in files_under(snapshots))
    assert held >= 300 * len(snapshot_jpeg())

    clock.advance(minutes=59)
    purge(storage, 30, clock)
    assert len(storage.alerts.pending_snapshot_ids()) == 300  # their alert may still come

    clock.advance(minutes=2)
    counts = purge(storage, 30, clock)
    assert counts["pending_snapshots"] == 300
    assert storage.alerts.pending_snapshot_ids() == []
    assert files_under(snapshots) == []  # no bytes left, not even .tmp files


def test_the_worker_purges_in_the_background_from_the_start(storage, clock):
    storage.alerts.insert(make_alert(), clock())
    clock.advance(days=8)
    worker = RetentionWorker(storage, Lifetimes(alerts=7), interval_s=3600, clock=clock)
    worker.start()
    try:
        wait_for(lambda: storage.alerts.count() == 0, 10, "the worker's first purge")
    finally:
        worker.stop()
    assert worker.tick()["alerts"] == 0  # one purge, called directly


def test_files_no_row_names_are_swept_after_an_hour_and_named_ones_stay(storage, clock):
    """A file written whose row never committed (killed mid-write, disk full at COMMIT)."""
    alert = make_alert()
    storage.alerts.insert(alert, clock())
    storage.alerts.save_snapshot(alert.site, alert.node, alert.id, snapshot_jpeg(), clock())
    storage.alerts.save_snapshot(alert.site, alert.node, new_alert_id(), snapshot_jpeg(), clock())
    data = storage.data_dir
    orphans = [
        data / "snapshots" / "riverside" / "2026-12-01" / f"{new_alert_id()}.jpg",
        data / "snapshots" / "riverside" / "2026-12-01" / f"{new_alert_id()}.tmp",
        data / "attachments" / ("ab" * 16) / ("cd" * 16 + ".jpg"),
    ]
    young = data / "snapshots" / "riverside" / "2026-12-02" / f"{new_alert_id()}.jpg"
    for path in [*orphans, young]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(snapshot_jpeg())
    # File times on the test's clock: the orphans are two hours old, the young one minutes.
    two_hours_ago = clock().timestamp() - 7200
    for path in orphans:
        os.utime(path, (two_hours_ago, two_hours_ago))
    os.utime(young, (clock().timestamp() - 600,) * 2)
    named = {p for p in files_under(data / "snapshots") if p not in [*orphans, young]}
    assert len(named) == 2  # the linked snapshot and the one waiting for its alert

    counts = purge(storage, 30, clock, sweep=orphan_sweeper(storage))
    assert counts["orphan_files"] == 3
    assert counts["orphan_bytes"] == 3 * len(snapshot_jpeg())
    assert set(files_under(data / "snapshots")) == named | {young}
    assert files_under(data / "attachments") == []
    assert storage.alerts.snapshot_file(alert.id).read_bytes() == snapshot_jpeg()
