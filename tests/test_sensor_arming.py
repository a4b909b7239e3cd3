"""Arming per area and "two sensors agree", through the real ingest on a real SQLite file.

The manual clock starts 2026-12-02 21:00 UTC, which is 21:00 in the example site's
Europe/London (winter time).
"""

from __future__ import annotations

import logging

from conftest import SITE
from hub_helpers import make_alert
from sensor_kit import ROOT, sensor_rig, sensor_site

from contract.protocol import alert_topic, encode
from hub.domain.incidents import Category
from hub.sensors.service import SensorHub
from hub.storage.sensors import ArmingMode
from hub.storage.sqlite.sensors import sensors_for

NIGHT = {
    "arming": {"areas": [{"area": "north-gate", "armed": [{"start": "22:00", "end": "06:00"}]}]}
}


def test_a_door_in_a_disarmed_area_is_logged_not_alarmed(tmp_path, caplog):
    rig = sensor_rig(tmp_path)
    rig.sensors.arming.set_mode("north-gate", ArmingMode.DISARMED, "ana")
    with caplog.at_level(logging.INFO, logger="hub.sensors.gate"):
        door = rig.alert("gate-door", "door", "north-gate")
        pir = rig.alert("gate-pir", "pir", "north-gate")
    assert door.outcome == pir.outcome == "stored"  # kept, and receipted to the node
    assert rig.alert_incident(door.alert_id) is None
    assert rig.all_incidents() == []
    assert "in disarmed area north-gate: stored, not alarmed" in caplog.text
    [entry] = rig.storage.audit.entries(action="area.disarmed")
    assert (entry.username, entry.target) == ("ana", "north-gate")

    rig.sensors.arming.set_mode("north-gate", ArmingMode.ARMED, "ana")
    armed = rig.alert("gate-door", "door", "north-gate")
    assert rig.alert_incident(armed.alert_id) is not None


def test_panic_and_smoke_alarm_in_a_disarmed_area(tmp_path):
    rig = sensor_rig(tmp_path)
    rig.sensors.arming.set_mode("plaza", ArmingMode.DISARMED, "ana")
    panic = rig.alert("plaza-panic", "panic_button", "plaza", severity="critical")
    assert rig.alert_incident(panic.alert_id) is not None
    rig.advance(minutes=10)
    smoke = rig.alert("plaza-smoke", "smoke", "plaza", severity="critical")
    assert rig.alert_incident(smoke.alert_id) is not None
    rig.advance(minutes=10)
    tamper = rig.alert("plaza-door", "tamper", "plaza")
    assert rig.alert_incident(tamper.alert_id) is not None
    assert all(i.category is Category.SECURITY for i in rig.all_incidents())


def test_the_schedule_arms_an_area_at_night_and_an_officer_overrides_it(tmp_path):
    rig = sensor_rig(tmp_path, NIGHT)
    evening = rig.alert("gate-door", "door", "north-gate")  # 21:00 local: disarmed
    assert rig.alert_incident(evening.alert_id) is None
    [gate] = [s for s in rig.sensors.arming.states() if s.area == "north-gate"]
    assert (gate.armed, gate.mode, gate.has_schedule) == (False, ArmingMode.SCHEDULE, True)

    rig.advance(hours=1, minutes=5)  # 22:05 local: armed by the schedule
    night = rig.alert("gate-door", "door", "north-gate")
    assert rig.alert_incident(night.alert_id) is not None

    rig.advance(hours=9)  # 07:05: disarmed again, but the officer arms it by hand
    rig.sensors.arming.set_mode("north-gate", ArmingMode.ARMED, "ana")
    morning = rig.alert("gate-door", "door", "north-gate")
    assert rig.alert_incident(morning.alert_id) is not None
    rig.sensors.arming.set_mode("north-gate", ArmingMode.SCHEDULE, "ana")
    back = rig.alert("gate-door", "door", "north-gate")
    assert rig.alert_incident(back.alert_id) is None
    actions = [e.action for e in rig.storage.audit.entries(target="north-gate")]
    assert actions == ["area.schedule", "area.armed"]


def test_the_schedule_arming_and_disarming_an_area_is_audited(tmp_path):
    rig = sensor_rig(tmp_path, NIGHT)
    watch = rig.sensors.schedule
    assert watch.tick() == []  # 21:00: the first look is no change
    rig.advance(hours=1)
    assert watch.tick() == ["area.armed north-gate"]  # 22:00
    rig.advance(hours=1)
    assert watch.tick() == []
    rig.sensors.arming.set_mode("north-gate", ArmingMode.DISARMED, "ana")
    assert watch.tick() == []  # an officer's change: audited when made, not again
    rig.sensors.arming.set_mode("north-gate", ArmingMode.SCHEDULE, "ana")  # armed again
    assert watch.tick() == []
    rig.advance(hours=8)  # 07:00: the night's window is over
    assert watch.tick() == ["area.disarmed north-gate"]
    by_schedule = [
        (e.username, e.action) for e in rig.storage.audit.entries() if e.detail == "by schedule"
    ]
    assert by_schedule == [(None, "area.disarmed"), (None, "area.armed")]  # newest first


def test_an_area_without_a_schedule_is_always_armed(tmp_path):
    rig = sensor_rig(tmp_path, NIGHT)
    rig.advance(hours=12)  # 09:00 local
    door = rig.alert("plaza-door", "door", "plaza")
    assert rig.alert_incident(door.alert_id) is not None


CONFIRM = {"confirm": [{"area": "plaza", "needs": "two_sensors", "window_s": 60}]}


def test_two_sensors_within_the_window_open_one_incident(tmp_path):
    rig = sensor_rig(tmp_path, CONFIRM)
    door = rig.alert("plaza-door", "door", "plaza")
    assert rig.alert_incident(door.alert_id) is None and rig.all_incidents() == []

    rig.advance(seconds=30)
    pir = rig.alert("plaza-pir", "pir", "plaza")
    [incident] = rig.all_incidents()
    assert rig.alert_incident(door.alert_id) == rig.alert_incident(pir.alert_id) == incident.id
    assert incident.alert_count == 2
    assert {a.id for a in rig.storage.alerts.for_incident(incident.id)} == {
        door.alert_id,
        pir.alert_id,
    }

    rig.advance(seconds=20)  # the alarm stands: a third alert joins it at once
    third = rig.alert("plaza-door", "door", "plaza")
    assert rig.alert_incident(third.alert_id) == incident.id


def test_one_sensor_alone_or_too_late_never_alarms(tmp_path):
    rig = sensor_rig(tmp_path, CONFIRM)
    rig.alert("plaza-door", "door", "plaza")
    rig.advance(seconds=10)
    rig.alert("plaza-door", "door", "plaza")  # the same sensor again: not a second opinion
    assert rig.all_incidents() == []
    rig.advance(seconds=61)
    late = rig.alert("plaza-pir", "pir", "plaza")  # both door alerts are out of the window
    assert rig.alert_incident(late.alert_id) is None and rig.all_incidents() == []


def test_a_hub_restart_between_the_two_sensors_keeps_the_pair(tmp_path):
    rig = sensor_rig(tmp_path, CONFIRM)
    door = rig.alert("plaza-door", "door", "plaza")
    rig.advance(seconds=20)
    config = sensor_site(CONFIRM)  # a new hub on the same store: nothing held in memory
    hub = SensorHub(
        rig.storage, sensors_for(rig.storage), rig.bus, rig.incidents, config, rig.clock
    )
    rig.ingestor.correlator = hub.gate
    pir = rig.alert("plaza-pir", "pir", "plaza")
    [incident] = rig.all_incidents()
    assert rig.alert_incident(door.alert_id) == rig.alert_incident(pir.alert_id) == incident.id


def test_the_panic_button_needs_no_second_sensor(tmp_path):
    rig = sensor_rig(tmp_path, CONFIRM)
    panic = rig.alert("plaza-panic", "panic_button", "plaza", severity="critical")
    assert rig.alert_incident(panic.alert_id) is not None


def test_a_sensor_and_a_camera_agree(tmp_path):
    needs = {"confirm": [{"area": "plaza", "needs": "sensor_and_camera", "window_s": 60}]}
    rig = sensor_rig(tmp_path, needs)
    rig.alert("plaza-door", "door", "plaza")
    rig.advance(seconds=5)
    rig.alert("plaza-pir", "pir", "plaza")  # two sensors are not what this rule asks
    assert rig.all_incidents() == []
    rig.advance(seconds=5)
    camera = make_alert(node="gw-plaza", seq=1, ts=rig.clock(), has_snapshot=False)
    seen = rig.ingestor.handle(alert_topic(ROOT, SITE, "gw-plaza"), encode(camera))
    [incident] = rig.all_incidents()
    assert rig.alert_incident(seen.alert_id) == incident.id
    assert incident.alert_count == 2


def test_two_sensors_in_one_batch_open_one_incident(tmp_path):
    rig = sensor_rig(tmp_path, CONFIRM)
    first = make_alert(node="plaza-door", kind="door", camera=None, has_snapshot=False)
    second = make_alert(node="plaza-pir", kind="pir", camera=None, has_snapshot=False)
    batch = [(alert_topic(ROOT, SITE, a.node), encode(a)) for a in (first, second)]
    outcome = rig.ingestor.handle_batch(batch)
    assert [r.outcome for r in outcome.results] == ["stored", "stored"]
    [incident] = rig.all_incidents()
    assert rig.alert_incident(first.id) == rig.alert_incident(second.id) == incident.id
    assert incident.alert_count == 2
