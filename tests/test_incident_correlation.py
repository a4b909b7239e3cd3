"""How alerts become incidents: one event, one incident; maintenance apart; cleared resolves.

Every test stores real alerts in a real SQLite file and correlates them the way ingest does
(inside a transaction, right after the insert), moving a manual clock between them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from incident_kit import IncidentDesk, open_desk

from contract.ids import new_alert_id
from contract.protocol import (
    Severity,
)
from hub.domain.incidents import (
    SYSTEM_ACTOR,
    Action,
    Category,
    IncidentState,
    Outcome,
    Source,
)


@pytest.fixture
def desk(tmp_path: Path):
    desk = open_desk(tmp_path)
    yield desk
    desk.storage.close()


def door(desk: IncidentDesk, **fields):
    """The compound door sensor in the plaza opening."""
    values = dict(node="door-1", kind="door", severity=Severity.CRITICAL, camera=None, zone=None)
    return desk.alert(**(values | {"message": "door opened"} | fields))


def test_a_camera_intrusion_and_a_door_alert_in_one_area_within_120_s_are_one_incident(desk):
    intrusion = desk.alert()
    desk.clock.advance(seconds=45)
    opened = door(desk)

    assert intrusion.incident_id == opened.incident_id
    incident = desk.incident(opened.incident_id)
    assert incident.alert_count == 2
    assert incident.severity is Severity.CRITICAL  # the highest of major and critical
    assert incident.kind == "intrusion"  # the first alert's
    assert incident.source is Source.ALERTS and incident.category is Category.SECURITY
    assert incident.last_alert_at == desk.clock()
    alerts = desk.storage.alerts.for_incident(incident.id)
    assert [a.id for a in alerts] == [intrusion.id, opened.id]


def test_correlate_says_what_changed_and_leaves_publishing_to_its_caller(desk):
    first = desk.store_alert()
    with desk.storage.transaction():
        incident, change = desk.service.correlate(first)
    assert change == "opened"
    desk.clock.advance(seconds=10)
    second = desk.store_alert(severity=Severity.MINOR)
    with desk.storage.transaction():
        joined, change = desk.service.correlate(second)
    assert (joined.id, change) == (incident.id, "alert_added")
    assert joined.severity is Severity.MAJOR  # a lesser alert does not lower it
    assert desk.events == []  # ingest publishes IncidentChanged after its commit


def test_the_window_is_inclusive_at_exactly_120_s(desk):
    first = desk.alert()
    desk.clock.advance(seconds=120)
    assert door(desk).incident_id == first.incident_id


def test_alerts_further_apart_than_the_window_are_two_incidents(desk):
    first = desk.alert()
    desk.clock.advance(seconds=121)
    second = door(desk)
    assert second.incident_id != first.incident_id
    assert desk.incident(second.incident_id).alert_count == 1


def test_the_window_runs_from_the_incidents_last_alert(desk):
    """An event that goes on (someone walking about for minutes) stays one incident."""
    first = desk.alert()
    for _ in range(3):
        desk.clock.advance(seconds=100)
        assert desk.alert().incident_id == first.incident_id
    assert desk.incident(first.incident_id).alert_count == 4


def test_alerts_of_another_area_are_another_incident(desk):
    plaza = desk.alert()
    gate = door(desk, area="north-gate")
    assert gate.incident_id != plaza.incident_id
    assert desk.incident(gate.incident_id).location.area == "north-gate"


def test_the_window_is_on_the_hubs_clock_not_the_nodes_claimed_time(desk):
    # The door node's clock is ten minutes behind: its alert still arrived 5 s later.
    first = desk.alert(ts=desk.clock())
    desk.clock.advance(seconds=5)
    late_clock = door(desk, ts=desk.clock() - timedelta(minutes=10))
    assert late_clock.incident_id == first.incident_id
    # And two alerts claiming the same moment but received 10 minutes apart are two events.
    claimed = desk.clock()
    desk.clock.advance(minutes=10)
    replayed = desk.alert(ts=claimed)
    assert replayed.incident_id != first.incident_id


def test_only_open_incidents_take_new_alerts(desk):
    first = desk.alert()
    desk.service.act(first.incident_id, Action.RESOLVE, "ana", outcome=Outcome.FALSE_ALARM)
    desk.clock.advance(seconds=10)
    assert desk.alert().incident_id != first.incident_id


def test_a_phone_call_about_the_area_does_not_swallow_camera_alerts(desk):
    call = desk.call()
    alert = desk.alert()
    assert alert.incident_id != call.id
    assert desk.incident(call.id).alert_count == 0


def test_maintenance_alerts_are_kept_apart_from_security_ones(desk):
    intrusion = desk.alert()
    offline = desk.alert(kind="stream_lost", severity=Severity.MAJOR, message="no frames")
    assert offline.incident_id != intrusion.incident_id
    maintenance = desk.incident(offline.incident_id)
    assert maintenance.category is Category.MAINTENANCE
    assert desk.incident(intrusion.incident_id).alert_count == 1


def test_maintenance_alerts_are_matched_per_node_camera_and_kind_not_per_area(desk):
    covered = desk.alert(kind="lens_covered", camera="plaza")
    other_camera = desk.alert(kind="lens_covered", camera="kiosk")
    other_kind = desk.alert(kind="blinded", camera="plaza")
    other_node = desk.alert(kind="lens_covered", node="gw-gate", camera="plaza")
    ids = {a.incident_id for a in (covered, other_camera, other_kind, other_node)}
    assert len(ids) == 4
    # The same trouble raised again, hours later and not yet cleared, is the same incident.
    desk.clock.advance(hours=3)
    again = desk.alert(kind="lens_covered", camera="plaza", severity=Severity.CRITICAL)
    assert again.incident_id == covered.incident_id
    assert desk.incident(covered.incident_id).severity is Severity.CRITICAL


def test_the_cleared_alert_resolves_its_maintenance_incident_by_itself(desk):
    lost = desk.alert(kind="stream_lost", message="no frames for 30 s")
    desk.clock.advance(minutes=7)
    cleared_record = desk.store_alert(
        kind="stream_lost", severity=Severity.INFO, message="frames again"
    )
    with desk.storage.transaction():
        incident, change = desk.service.correlate(cleared_record)

    assert change == "resolved"
    assert incident.id == lost.incident_id
    assert incident.state is IncidentState.RESOLVED
    assert incident.outcome is Outcome.HANDLED
    assert incident.resolved_at == desk.clock()
    assert incident.acknowledged_at is None  # nobody had to look at it
    assert desk.storage.alerts.get(cleared_record.id).incident_id == incident.id
    [transition] = desk.storage.incidents.transitions(incident.id)
    assert transition.actor == SYSTEM_ACTOR
    assert (transition.action, transition.from_state) == (Action.RESOLVE, IncidentState.NEW)
    assert transition.note == "cleared: frames again"
    assert transition.outcome is Outcome.HANDLED


def test_a_cleared_alert_with_nothing_open_opens_nothing(desk):
    record = desk.store_alert(kind="lens_covered", severity=Severity.INFO, message="clear")
    with desk.storage.transaction():
        assert desk.service.correlate(record) is None
    assert desk.storage.alerts.get(record.id).incident_id is None
    assert desk.storage.incidents.queue() == []


def test_a_cleared_alert_of_another_camera_leaves_the_incident_open(desk):
    covered = desk.alert(kind="lens_covered", camera="plaza")
    desk.alert(kind="lens_covered", camera="kiosk", severity=Severity.INFO)
    assert desk.incident(covered.incident_id).state is IncidentState.NEW


def test_an_info_alert_of_a_security_kind_is_not_a_clearing(desk):
    first = desk.alert(severity=Severity.MAJOR)
    desk.clock.advance(seconds=5)
    info = desk.alert(severity=Severity.INFO)
    assert info.incident_id == first.incident_id
    assert desk.incident(first.incident_id).state is IncidentState.NEW


def test_each_new_incident_gets_the_next_reference_of_the_sites_day(desk):
    # 21:00 UTC on 2 December is 21:00 in London (no daylight saving in winter).
    refs = [desk.incident(desk.alert(area=a).incident_id).ref for a in ("plaza", "north-gate")]
    assert refs == ["INC-20261202-0001", "INC-20261202-0002"]
    desk.clock.advance(hours=3)  # past midnight: a new day, a new count
    assert desk.incident(desk.alert().incident_id).ref == "INC-20261203-0001"


def test_a_batch_is_filed_as_one_alert_at_a_time_would_file_it(tmp_path: Path):
    """Ingest's group commit files a whole batch at once (``correlate_many``): every alert
    must land where ``correlate`` one alert at a time puts it, with the same incident."""
    plan = [  # (seconds after the previous alert, its fields)
        (0, {}),
        (30, {"node": "door-1", "kind": "door", "severity": Severity.CRITICAL, "camera": None}),
        (0, {"area": "north-gate", "severity": Severity.MINOR}),
        (10, {"kind": "stream_lost", "message": "no frames"}),
        (100, {"severity": Severity.MINOR}),  # 140 s after the first, 110 s after the door
        (200, {}),  # past the window of the plaza's first incident: a second one
        (60, {"kind": "stream_lost", "severity": Severity.INFO, "message": "frames again"}),
    ]
    ids = [new_alert_id() for _ in plan]

    def filed(desk: IncidentDesk, batch: bool) -> list[tuple]:
        records = []
        for alert_id, (seconds, fields) in zip(ids, plan, strict=True):
            desk.clock.advance(seconds=seconds)
            if not batch:
                records.append(desk.store_alert(id=alert_id, **fields))
                with desk.storage.transaction():
                    desk.service.correlate(records[-1])
            else:
                records.append(desk.new_alert(id=alert_id, **fields))
        if batch:  # as ingest does: file the batch, then store each alert with its incident
            with desk.storage.transaction():
                found = desk.service.correlate_many(records)
                desk.storage.alerts.insert_many(
                    [
                        r.model_copy(update={"incident_id": f[0].id if f else None})
                        for r, f in zip(records, found, strict=True)
                    ]
                )
        rows = []
        for alert_id in ids:
            incident = desk.incident(desk.storage.alerts.get(alert_id).incident_id)
            rows.append(
                (incident.ref, incident.alert_count, incident.severity, incident.state,
                 incident.last_alert_at, incident.updated_at)
            )  # fmt: skip
        desk.storage.close()
        return rows

    one_by_one = filed(open_desk(tmp_path / "one"), batch=False)
    assert filed(open_desk(tmp_path / "batch"), batch=True) == one_by_one
    refs = [row[0] for row in one_by_one]
    assert refs[:2] == refs[4:5] * 2 and len(set(refs)) == 4  # plaza twice, gate, camera
    plaza = one_by_one[0]
    assert (plaza[1], plaza[2]) == (3, Severity.CRITICAL)
    assert one_by_one[3][3] is IncidentState.RESOLVED  # the camera's, cleared
