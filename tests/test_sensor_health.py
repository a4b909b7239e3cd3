"""Sensor health from heartbeats, through the real ingest on a real SQLite file: offline
without a last will, the battery's days left, stuck sensors, tamper. The clock is a
ManualClock and the offline timer's step is called directly: nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from conftest import SITE
from sensor_kit import ROOT, sensor_rig

from contract.protocol import Heartbeat, encode, heartbeat_topic
from hub.domain.incidents import Action, Category, IncidentState, Outcome
from hub.events import EventBus, IncidentChanged
from hub.ingest import Ingestor
from hub.retention import Lifetimes, purge
from hub.sensors.battery import days_left
from hub.storage.sensors import BatteryReading
from hub.storage.sqlite import open_sqlite_storage

T0 = datetime(2026, 12, 2, 21, 0, tzinfo=UTC)


def test_a_node_silent_for_three_intervals_is_offline_even_without_a_last_will(tmp_path):
    rig = sensor_rig(tmp_path, {"health": {"check_interval_s": 300}})
    watch = rig.sensors.watch
    assert rig.heartbeat("gate-door", interval_s=60).outcome == "heartbeat"

    rig.advance(seconds=100)
    assert watch.tick() == []
    # The timer sleeps until the node's deadline (80 s away), not a whole check interval.
    assert watch.interval_s == pytest.approx(80)
    rig.advance(seconds=79)
    assert watch.tick() == [] and rig.incidents_of("node_offline") == []

    rig.advance(seconds=1)  # 3 x 60 s since the last heartbeat; no status message came
    opened = watch.tick()
    [offline] = rig.incidents_of("node_offline")
    assert offline.category is Category.MAINTENANCE
    assert offline.location.area == "north-gate"
    assert [type(e) for e in opened] == [IncidentChanged]
    assert any(isinstance(e, IncidentChanged) and e.change == "opened" for e in rig.events)

    rig.advance(seconds=60)
    assert watch.tick() == []  # still offline: the same incident, not a second one
    assert len(rig.incidents_of("node_offline")) == 1

    rig.heartbeat("gate-door")
    [back] = rig.incidents_of("node_offline")
    assert back.state is IncidentState.RESOLVED


def test_an_officer_who_closes_the_offline_incident_of_a_silent_node_gets_no_second(tmp_path):
    rig = sensor_rig(tmp_path)
    rig.heartbeat("gate-door", interval_s=60)
    rig.advance(seconds=180)
    rig.sensors.watch.tick()
    [offline] = rig.incidents_of("node_offline")
    rig.incidents.act(offline.id, Action.RESOLVE, "ana", outcome=Outcome.HANDLED)
    rig.advance(minutes=30)
    assert rig.sensors.watch.tick() == []  # the same silence: reported once
    assert len(rig.incidents_of("node_offline")) == 1

    rig.heartbeat("gate-door", interval_s=60)  # back, then silent again: a new episode
    rig.advance(seconds=180)
    rig.sensors.watch.tick()
    assert len(rig.incidents_of("node_offline")) == 2


def test_days_left_follow_a_least_squares_line_to_the_cutoff():
    start = T0
    # 0.02 V a day from 3.0 V: the line reaches 2.4 V 30 days after the start.
    readings = [BatteryReading(start + timedelta(days=d), 3.0 - 0.02 * d) for d in range(6)]
    assert days_left(readings, 2.4, start + timedelta(days=5)) == pytest.approx(25)
    # A cold night's sag (0.05 V on day 2) moves the line a little: every reading counts.
    sagged = [r._replace(volts=r.volts - 0.05) if i == 2 else r for i, r in enumerate(readings)]
    assert days_left(sagged, 2.4, start + timedelta(days=5)) == pytest.approx(25, rel=0.1)
    assert days_left(readings[:1], 2.4, start) is None  # one reading: no trend
    flat = [BatteryReading(start + timedelta(days=d), 3.0) for d in range(3)]
    assert days_left(flat, 2.4, start + timedelta(days=2)) is None


def test_days_left_falls_as_the_voltage_falls(tmp_path):
    rig = sensor_rig(tmp_path, {"health": {"warn_days_left": 14, "cutoff_v": 2.4}})
    estimates = []
    volts = 3.0
    for _ in range(40):  # a reading every 12 hours, 0.01 V lower each time
        rig.heartbeat("plaza-pir", battery_v=round(volts, 3), interval_s=43_200)
        estimates.append(rig.sensors.health.days_left(SITE, "plaza-pir", rig.clock()))
        rig.advance(hours=12)
        volts -= 0.01
    trend = [e for e in estimates if e is not None]
    assert trend[0] == pytest.approx(29.5, abs=0.6)
    assert all(later < earlier for earlier, later in pairwise(trend))
    # At 14 days left (2.68 V) the battery is low: one maintenance incident, not one a day.
    [low] = rig.incidents_of("battery_low")
    assert low.category is Category.MAINTENANCE and "days left" in low.title
    [row] = [r for r in rig.sensors.health.report() if r.node == "plaza-pir"]
    assert row.days_left is not None and row.days_left < 14

    rig.heartbeat("plaza-pir", battery_v=3.1)  # a new battery: its history starts again
    [replaced] = rig.incidents_of("battery_low")
    assert replaced.state is IncidentState.RESOLVED
    assert rig.sensors.health.days_left(SITE, "plaza-pir", rig.clock()) is None


def test_a_low_charge_alone_is_a_low_battery(tmp_path):
    rig = sensor_rig(tmp_path, {"health": {"low_battery_pct": 15}})
    rig.heartbeat("gate-door", battery_pct=40)
    assert rig.incidents_of("battery_low") == []
    rig.heartbeat("gate-door", battery_pct=12)
    assert len(rig.incidents_of("battery_low")) == 1


def test_the_battery_history_is_bounded_by_count_and_age(tmp_path):
    rig = sensor_rig(tmp_path, {"health": {"history_max": 10, "history_days": 1}})
    for i in range(30):
        rig.heartbeat("gate-pir", battery_v=3.0 - i * 0.001)
        rig.advance(minutes=10)
    history = rig.sensors.health.sensors.battery_history(SITE, "gate-pir")
    assert len(history) == 10
    assert history[-1].volts == pytest.approx(3.0 - 29 * 0.001)

    rig.advance(days=2)  # a node back after two days: older readings are dropped
    rig.heartbeat("gate-pir", battery_v=2.97)
    assert len(rig.sensors.health.sensors.battery_history(SITE, "gate-pir")) == 1


def test_a_door_open_for_three_days_is_stuck(tmp_path):
    rig = sensor_rig(tmp_path)  # default rule: door "open" for 72 h
    opened_at = rig.clock()
    rig.heartbeat("plaza-door", state="open", state_since=opened_at)
    rig.advance(hours=71)
    rig.heartbeat("plaza-door", state="open", state_since=opened_at)
    assert rig.incidents_of("sensor_stuck") == []

    rig.advance(hours=1)
    rig.heartbeat("plaza-door", state="open", state_since=opened_at)
    rig.advance(hours=1)
    rig.heartbeat("plaza-door", state="open", state_since=opened_at)
    [stuck] = rig.incidents_of("sensor_stuck")
    assert stuck.category is Category.MAINTENANCE and stuck.location.area == "plaza"
    assert [r.stuck for r in rig.sensors.health.report() if r.node == "plaza-door"] == [True]

    rig.heartbeat("plaza-door", state="closed", state_since=rig.clock())
    [closed] = rig.incidents_of("sensor_stuck")
    assert closed.state is IncidentState.RESOLVED


def test_a_pir_active_for_days_is_not_stuck_without_a_rule_for_it(tmp_path):
    rig = sensor_rig(tmp_path)
    rig.heartbeat("plaza-pir", state="open", state_since=rig.clock() - timedelta(days=9))
    assert rig.incidents_of("sensor_stuck") == []


def test_an_opened_enclosure_is_one_security_incident_not_maintenance(tmp_path):
    rig = sensor_rig(tmp_path)
    rig.heartbeat("gate-door", tamper=False)
    rig.heartbeat("gate-door", tamper=True)
    rig.advance(seconds=60)
    rig.heartbeat("gate-door", tamper=True)  # still open: the same incident
    [tamper] = rig.incidents_of("tamper")
    assert tamper.category is Category.SECURITY
    assert tamper.location.area == "north-gate"
    assert [r.tamper for r in rig.sensors.health.report()] == [True]
    rig.incidents.act(tamper.id, Action.RESOLVE, "ana", outcome=Outcome.FALSE_ALARM)
    rig.heartbeat("gate-door", tamper=True)  # still open, already handled: nothing new
    assert len(rig.incidents_of("tamper")) == 1
    rig.heartbeat("gate-door", tamper=False)
    rig.heartbeat("gate-door", tamper=True)  # opened again: a new incident
    assert len(rig.incidents_of("tamper")) == 2


def test_a_tamper_alert_is_a_security_incident(tmp_path):
    rig = sensor_rig(tmp_path)
    stored = rig.alert("gate-door", "tamper", "north-gate")
    assert stored.outcome == "stored"
    [tamper] = rig.incidents_of("tamper")
    assert tamper.category is Category.SECURITY


def test_a_heartbeat_is_decided_not_quarantined_by_a_hub_without_sensors(tmp_path):
    storage = open_sqlite_storage(tmp_path / "hub")
    ingestor = Ingestor(storage, EventBus(), None, ROOT)
    beat = Heartbeat(site=SITE, node="gate-door", ts=T0, interval_s=60, uptime_s=5.0)
    result = ingestor.handle(heartbeat_topic(ROOT, SITE, "gate-door"), encode(beat))
    assert result.outcome == "heartbeat"
    assert storage.quarantine.entries() == []


def test_retention_forgets_a_node_silent_longer_than_node_history(tmp_path):
    rig = sensor_rig(tmp_path)
    rig.heartbeat("gate-door", battery_v=3.0)
    rig.advance(days=20)
    rig.heartbeat("plaza-door", battery_v=3.0)
    lifetimes = Lifetimes.uniform(30)
    rig.advance(days=11)  # gate-door last heard 31 days ago, plaza-door 11
    counts = purge(rig.storage, lifetimes, rig.clock, also=[rig.sensors.purge])
    assert counts["sensor_heartbeats"] == 1 and counts["battery_readings"] == 1
    assert [r.node for r in rig.sensors.health.report()] == ["plaza-door"]
