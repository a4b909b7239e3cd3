"""Retention per kind for privacy: alert photos can go before their alerts
(``hub.retention.snapshots_days``), enforced by the same purge as everything else, on the
hub's clock (a ManualClock here)."""

from __future__ import annotations

from hub_helpers import make_alert, snapshot_jpeg

from contract.siteconfig import parse_site_config
from hub.retention import Lifetimes, RetentionWorker


def lifetimes(**retention) -> Lifetimes:
    site = {"site": {"id": "riverside", "name": "Riverside"}, "areas": [{"id": "a", "name": "A"}]}
    hub = parse_site_config({**site, "hub": {"retention": retention}}).hub
    return Lifetimes.from_settings(hub)


def test_snapshots_go_before_their_alerts_which_stay(storage, clock):
    kept = lifetimes(alerts_days=30, snapshots_days=3)
    assert (kept.snapshots, kept.snapshot_days, kept.alerts) == (3, 3, 30)
    alert = make_alert()
    storage.alerts.insert(alert, clock())
    storage.alerts.save_snapshot(alert.site, alert.node, alert.id, snapshot_jpeg(), clock())
    photo = storage.alerts.snapshot_file(alert.id)
    worker = RetentionWorker(storage, kept, clock=clock)

    clock.advance(days=3)
    assert worker.tick().get("snapshots_dropped") == 0 and photo.is_file()

    clock.advance(seconds=1)
    assert worker.tick()["snapshots_dropped"] == 1
    assert not photo.exists() and storage.alerts.snapshot_file(alert.id) is None
    record = storage.alerts.get(alert.id)
    assert record is not None and not record.has_snapshot and not record.snapshot_ready


def test_a_snapshot_never_outlives_its_alert():
    assert lifetimes(alerts_days=7, snapshots_days=90).snapshot_days == 7
    assert lifetimes(alerts_days=7).snapshot_days == 7
