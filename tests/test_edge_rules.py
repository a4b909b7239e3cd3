"""Zone intrusion: feet decide inside/outside, schedules wrap midnight, one alert per track."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from conftest import REPO

from contract.protocol import Severity
from contract.siteconfig import Schedule, ZoneRule, load_site_config
from edge.detections import Detections
from edge.rules import ZoneIntrusion

FRAME = (768, 576)
LONDON = ZoneInfo("Europe/London")


def lawn_rule(**changes) -> ZoneRule:
    config = load_site_config(REPO / "config" / "site.example.yaml")
    rule = config.gateways[0].cameras[0].zones[0]
    return rule.model_copy(update=changes)


def people(*boxes, track_ids=None) -> Detections:
    ids = track_ids if track_ids is not None else list(range(1, len(boxes) + 1))
    return Detections.from_arrays(boxes, [0.8] * len(boxes), ["person"] * len(boxes), ids)


def at(hour: int, minute: int = 0, day: int = 15) -> datetime:
    """A January (GMT) moment in London local time."""
    return datetime(2025, 1, day, hour, minute, tzinfo=LONDON)


def test_feet_decide_inside_not_the_box():
    zone = ZoneIntrusion(lawn_rule(), FRAME)
    # The lawn's top edge runs from (154, 253) to (399, 357) px; the lawn is below it.
    at_lawn_edge = (280.0, 200.0, 320.0, 330.0)  # body over the path, feet just on the grass
    beside_lawn = (455.0, 290.0, 505.0, 400.0)  # box corner over the grass, feet on the road
    woman_on_lawn = (330.0, 372.0, 384.0, 514.0)  # frame 150, labelled by hand
    far_up_the_road = (638.0, 303.0, 671.0, 411.0)  # frame 100
    inside = zone.inside(people(at_lawn_edge, beside_lawn, woman_on_lawn, far_up_the_road))
    assert inside.tolist() == [True, False, True, False]


def test_an_object_type_the_rule_does_not_name_is_ignored():
    zone = ZoneIntrusion(lawn_rule(), FRAME)
    car = Detections.from_arrays([(330.0, 372.0, 384.0, 514.0)], [0.9], ["car"], [7])
    assert zone.evaluate(car, at(12)) == []


def test_one_person_walking_through_raises_one_alert_per_cooldown():
    zone = ZoneIntrusion(lawn_rule(cooldown_s=30), FRAME)
    t0 = at(12)
    walker = (330.0, 372.0, 384.0, 514.0)
    hits = [
        zone.evaluate(people(walker, track_ids=[5]), t0 + timedelta(seconds=s))
        for s in range(0, 30, 2)
    ]
    assert [len(h) for h in hits] == [1] + [0] * 14
    hit = hits[0][0]
    assert (hit.kind, hit.rule, hit.severity) == ("intrusion", "lawn", Severity.MAJOR)
    assert hit.objects.track_id.tolist() == [5]
    # Still there once the cooldown is over: a reminder, once.
    assert len(zone.evaluate(people(walker, track_ids=[5]), t0 + timedelta(seconds=31))) == 1


def test_cooldown_is_per_track_so_a_second_person_still_alerts():
    zone = ZoneIntrusion(lawn_rule(cooldown_s=30), FRAME)
    t0 = at(12)
    first = (330.0, 372.0, 384.0, 514.0)
    second = (100.0, 300.0, 140.0, 400.0)
    assert len(zone.evaluate(people(first, track_ids=[1]), t0)) == 1
    later = zone.evaluate(people(first, second, track_ids=[1, 2]), t0 + timedelta(seconds=5))
    assert len(later) == 1
    assert later[0].objects.track_id.tolist() == [2]  # only the newcomer triggers it
    assert "1 person" in later[0].message


def test_untracked_detections_never_alert():
    zone = ZoneIntrusion(lawn_rule(), FRAME)
    flicker = people((330.0, 372.0, 384.0, 514.0), track_ids=[-1])
    assert zone.evaluate(flicker, at(12)) == []


def test_schedule_across_midnight_uses_site_local_time():
    zone = ZoneIntrusion(
        lawn_rule(schedule=Schedule(start=time(22), end=time(6)), cooldown_s=0),
        FRAME,
        "Europe/London",
    )
    walker = people((330.0, 372.0, 384.0, 514.0))
    assert zone.evaluate(walker, at(23, 30))
    assert zone.evaluate(walker, at(0, 10, day=16))
    assert zone.evaluate(walker, at(5, 59, day=16))
    assert not zone.evaluate(walker, at(6, 0, day=16))
    assert not zone.evaluate(walker, at(12))
    assert not zone.evaluate(walker, at(21, 59))
    # Summer: 21:30 UTC is 22:30 in London (BST), so the rule is active.
    assert zone.evaluate(walker, datetime(2025, 7, 1, 21, 30, tzinfo=UTC))
    assert not zone.evaluate(walker, datetime(2025, 7, 1, 20, 30, tzinfo=UTC))
