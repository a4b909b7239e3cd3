"""The rules on synthetic scenes with exact ground truth, through the real ByteTracker.

People walk straight legs at known speeds (80 px/s ≈ 1.4 m/s for a 100 px tall person),
pause, jitter and hide; detector runs are at 5 fps, so "± one detector period" is ± 0.2 s.
"""

from __future__ import annotations

from datetime import time

import numpy as np
import pytest
from rule_scenes import FRAME, Actor, Wait, car, first_time, hits_of, route, run

from contract.rule_settings import LineRule, LoiterRule, NoParkingRule, Schedule, ZoneRule
from edge.rules import LineCrossing, Loitering, StoppedVehicle, ZoneIntrusion

W, H = FRAME
PERIOD = 0.2


# --- line crossing ----------------------------------------------------------------------------

# A gate line drawn top → bottom at x = 384 px (y 115..518): looking down the screen, the left
# hand is the screen's right, so walking right is "in".
GATE = ((0.5, 0.2), (0.5, 0.9))


def gate(**kw) -> LineCrossing:
    return LineCrossing(LineRule(name="gate", points=GATE, **kw), FRAME)


@pytest.mark.parametrize(
    ("points", "in_side", "in_point"),
    [
        (GATE, "left", (500, 300)),  # drawn downwards: left hand = screen right
        (GATE, "right", (200, 300)),
        (((0.2, 0.5), (0.8, 0.5)), "left", (384, 100)),  # drawn rightwards: left = screen top
        (((0.8, 0.5), (0.2, 0.5)), "left", (384, 500)),
    ],
)
def test_the_in_side_is_on_the_left_hand_looking_from_the_first_point(points, in_side, in_point):
    line = LineCrossing(LineRule(name="gate", points=points, in_side=in_side), FRAME)
    assert line.signed_distance(np.array([in_point]))[0] > 0
    mid = line.points.mean(axis=0)
    assert line.signed_distance((mid + 30 * line.in_normal)[None])[0] == pytest.approx(30)


def test_line_counts_each_direction_exactly_and_only_crossings_of_the_segment():
    walkers = [
        Actor(route(0, 80, (200, 300), (600, 300)), seed=1),  # in
        Actor(route(1, 80, (650, 400), (150, 400)), seed=2),  # out
        Actor(route(3, 80, (100, 470), (700, 470)), seed=3),  # in
        Actor(route(22, 80, (600, 250), (200, 250)), seed=4),  # out
        Actor(route(30, 80, (150, 350), (650, 350)), seed=5),  # in
        Actor(route(8, 80, (300, 150), (300, 520)), seed=6),  # along the line: no crossing
        Actor(route(12, 80, (200, 70), (600, 70)), height=50, width=20),  # past its top end
        Actor(route(40, 80, (250, 380), (380, 380), Wait(3), (250, 380))),  # touches, turns
    ]
    line = gate(alert_on="out", objects=["person", "bicycle"])
    frames = run(walkers, [line], 50)
    assert (line.in_count, line.out_count) == (3, 2)
    assert line.counts == {"person": {"in": 3, "out": 2}, "bicycle": {"in": 0, "out": 0}}
    hits = hits_of(frames)
    assert [h.kind for _, h in hits] == ["line_crossing"] * 2
    assert [h.message for _, h in hits] == ["1 person crossed 'gate' outbound"] * 2
    # Counted once settled: two frames past the dead band (15 px) beyond the line.
    for (t, _), walker_start, x0 in zip(hits, (1, 22), (650, 600), strict=True):
        crossed_band = walker_start + (x0 - (384 - 15.36)) / 80
        assert crossed_band <= t <= crossed_band + 2 * PERIOD + 1e-6
    assert line.state()["in"] == 3 and line.state()["out"] == 2


def test_one_alert_per_forbidden_crossing_with_5px_jitter_at_the_line():
    dither_then_cross = Actor(
        route(0, 80, (250, 300), (384, 300), Wait(10), (600, 300)), jitter=5, seed=7
    )
    dither_then_turn = Actor(
        route(20, 80, (250, 450), (384, 450), Wait(10), (250, 450)), jitter=5, seed=8
    )
    line = gate(alert_on="in")
    hits = hits_of(run([dither_then_cross, dither_then_turn], [line], 40))
    assert (line.in_count, line.out_count) == (1, 0)
    assert len(hits) == 1 and hits[0][1].objects.track_id[0] >= 0
    # The same scene without the dead band and settling counts the jitter: the test can fail.
    naive = gate(alert_on="in", min_distance=0.0, min_frames=1)
    run([dither_then_cross, dither_then_turn], [naive], 40)
    assert naive.in_count > 3 and naive.out_count > 3


def test_outside_its_schedule_a_line_counts_but_does_not_alert():
    walkers = [Actor(route(0, 80, (600, 300), (150, 300)), seed=1)]
    after_hours = gate(alert_on="out", schedule=Schedule(start=time(22), end=time(6)))
    assert hits_of(run(walkers, [after_hours], 8)) == []  # the scene is at noon
    assert after_hours.out_count == 1


def test_people_crossing_together_raise_one_alert():
    pair = [
        Actor(route(0, 80, (600, 300), (150, 300)), seed=1),
        Actor(route(0.3, 80, (600, 330), (150, 330)), seed=2),  # a step behind
    ]
    line = gate(alert_on="out")
    hits = hits_of(run(pair, [line], 8))
    assert line.out_count == 2
    assert len(hits) == 1
    assert line.gate.merged == 1


# --- loitering --------------------------------------------------------------------------------

BINS = [(0.3, 0.5), (0.6, 0.5), (0.6, 0.9), (0.3, 0.9)]  # x 230..461, y 288..518 px


def in_bins(x: float, y: float) -> bool:
    return 0.3 * W <= x <= 0.6 * W and 0.5 * H <= y <= 0.9 * H


def bins(**kw) -> Loitering:
    return Loitering(LoiterRule(name="bins", polygon=BINS, **kw), FRAME)


def stayer(stay_s: float, *, hidden=(), out_s: float = 0.0, seed: int = 0) -> Actor:
    """Walks into the zone at 80 px/s, stands ``stay_s`` (jitter ±2 px), walks out east."""
    legs: list = [(100, 400), (350, 400), Wait(stay_s)]
    if out_s:  # steps out west, waits ``out_s`` there, comes back, stays another stay_s
        legs += [(150, 400), Wait(out_s), (350, 400), Wait(stay_s)]
    return Actor(route(0, 80, *legs, (700, 400)), jitter=2, hidden=list(hidden), seed=seed)


def test_loitering_alerts_at_60_s_give_or_take_one_detector_period():
    person = stayer(70)
    rule = bins()
    hits = hits_of(run([person], [rule], 80))
    entered = first_time(person, in_bins)
    assert len(hits) == 1
    t, hit = hits[0]
    assert entered + 60 - PERIOD <= t <= entered + 60 + PERIOD + 1e-6
    assert hit.kind == "loitering" and hit.message == "1 person loitering in 'bins' for 60 s"


def test_staying_55_s_is_not_loitering():
    rule = bins()
    assert hits_of(run([stayer(55)], [rule], 65)) == []
    assert rule.alerts == 0


def test_a_1s_occlusion_keeps_the_dwell_and_the_track():
    person = stayer(70, hidden=[(30.0, 31.0)])
    rule = bins()
    frames = run([person], [rule], 80)
    hits = hits_of(frames)
    entered = first_time(person, in_bins)
    assert len(hits) == 1
    assert entered + 60 - PERIOD <= hits[0][0] <= entered + 60 + PERIOD + 1e-6
    ids = {int(t) for f in frames for t in f.tracked.track_id if t >= 0}
    assert len(ids) == 1  # the tracker bridged the gap itself


def test_a_longer_occlusion_that_breaks_the_track_still_keeps_the_dwell():
    person = stayer(70, hidden=[(30.0, 32.4)])
    rule = bins()
    frames = run([person], [rule], 80)
    hits = hits_of(frames)
    entered = first_time(person, in_bins)
    ids = sorted({int(t) for f in frames for t in f.tracked.track_id if t >= 0})
    assert len(ids) == 2  # a new id after the occlusion ...
    assert len(hits) == 1 and int(hits[0][1].objects.track_id[0]) == ids[1]
    assert entered + 60 - PERIOD <= hits[0][0] <= entered + 60 + PERIOD + 1e-6  # ... same visit


def test_leaving_for_longer_than_the_grace_gap_resets_the_dwell():
    person = stayer(40, out_s=5)  # 43 s in, ~6 s out west, 43 s in: never 60 s in one visit
    rule = bins()
    dwell: dict[float, float] = {}
    frames = run([person], [rule], 100, on_frame=lambda f: dwell.update({f.t: max_dwell(rule)}))
    assert hits_of(frames) == []
    left = first_time(person, lambda x, y: not in_bins(x, y), after=10)
    back = first_time(person, in_bins, after=left)
    assert back - left > 3 + 2  # out longer than the grace gap
    assert dwell[round(left - PERIOD, 1)] == pytest.approx(left - PERIOD - 1.8, abs=0.21)
    assert dwell[round(back + 1, 1)] == pytest.approx(1.0, abs=0.21)  # counting from 0 again


def max_dwell(rule: Loitering) -> float:
    return rule.state()["max_dwell_s"]


def test_stepping_out_briefly_does_not_reset_the_dwell():
    # 30 s in, out for ~2 s (grace 3 s), back: the visit goes on and alerts at 60 s.
    person = Actor(
        route(
            0, 80, (100, 400), (350, 400), Wait(30), (200, 400), (350, 400), Wait(40), (700, 400)
        ),
        jitter=2,
    )
    rule = bins()
    hits = hits_of(run([person], [rule], 90))
    entered = first_time(person, in_bins)
    assert len(hits) == 1
    assert entered + 60 - PERIOD <= hits[0][0] <= entered + 60 + PERIOD + 1e-6


# --- stopped vehicle --------------------------------------------------------------------------

BAY = [(0.3, 0.5), (0.7, 0.5), (0.7, 0.8), (0.3, 0.8)]  # x 230..538, y 288..461 px


def no_parking(**kw) -> StoppedVehicle:
    return StoppedVehicle(NoParkingRule(name="bay", polygon=BAY, **kw), FRAME)


def test_a_car_parked_30_s_alerts_once_and_cars_driving_through_do_not():
    parked = car(route(0, 150, (100, 400), (400, 400), Wait(40), (760, 400)), jitter=1, seed=3)
    through = car(route(50, 150, (50, 350), (750, 350)), seed=4)
    brief = car(route(70, 150, (100, 420), (400, 420), Wait(20), (760, 420)), jitter=1, seed=5)
    rule = no_parking(after_s=30)
    hits = hits_of(run([parked, through, brief], [rule], 100))
    assert len(hits) == 1
    t, hit = hits[0]
    stopped = 2.0  # 300 px at 150 px/s
    assert stopped + 30 - PERIOD <= t <= stopped + 30 + PERIOD + 1e-6
    assert hit.kind == "stopped_vehicle" and hit.message == "1 car stopped in 'bay' for 30 s"


def test_a_parked_car_keeps_its_clock_when_the_tracker_gives_it_a_new_id():
    parked = car(
        route(0, 150, (100, 400), (400, 400), Wait(40), (760, 400)), jitter=1, hidden=[(10.0, 16.0)]
    )
    rule = no_parking(after_s=30)
    frames = run([parked], [rule], 50)
    ids = {int(t) for f in frames for t in f.tracked.track_id if t >= 0}
    hits = hits_of(frames)
    assert len(ids) == 2 and len(hits) == 1
    assert 32 - PERIOD <= hits[0][0] <= 32 + PERIOD + 1e-6


def test_people_are_not_vehicles():
    person = Actor(route(0, 80, (300, 400), Wait(60)))
    rule = no_parking(after_s=30)
    assert hits_of(run([person], [rule], 60)) == []


# --- one alert per incident -------------------------------------------------------------------

GARDEN = [(0.1, 0.4), (0.9, 0.4), (0.9, 0.95), (0.1, 0.95)]


def garden(**kw) -> ZoneIntrusion:
    return ZoneIntrusion(ZoneRule(name="garden", polygon=GARDEN, **kw), FRAME)


def crossing_with_id_switch(**kw) -> tuple[Actor, dict]:
    # 60 px/s across the garden, hidden 2.4 s midway: the tracker ends the track (> 2 s lost).
    return Actor(route(0, 60, (20, 450), (740, 450)), hidden=[(5.0, 7.4)], seed=9, **kw), {}


@pytest.mark.parametrize(("group_s", "alerts"), [(10.0, 1), (0.0, 2)])
def test_one_person_crossing_the_garden_is_one_alert_despite_an_id_switch(group_s, alerts):
    walker, _ = crossing_with_id_switch()
    rule = garden(group_s=group_s)
    frames = run([walker], [rule], 13)
    ids = {int(t) for f in frames for t in f.tracked.track_id if t >= 0}
    assert len(ids) == 2  # the switch really happens
    assert len(hits_of(frames)) == alerts  # grouping is what keeps it to one


def test_companions_share_one_alert_and_a_stranger_gets_their_own():
    walker, _ = crossing_with_id_switch()
    companion = Actor(route(0, 60, (20, 490), (740, 490)), seed=10)
    stranger = Actor(route(3, 60, (650, 250), (650, 500)), seed=11)  # far across the lawn
    rule = garden()
    hits = hits_of(run([walker, companion, stranger], [rule], 13))
    assert [len(h.objects) for _, h in hits] == [2, 1]
    assert hits[0][1].message == "2 people in zone garden"
    assert np.allclose(hits[1][1].objects.feet[0][0], 650, atol=2)


def test_inertia_ignores_a_two_frame_visit_and_counts_the_third_frame():
    # Feet dip 10 px into the garden (top edge y = 230.4) for two frames, then stay out.
    dip = Actor(route(0, 50, (100, 220), (100, 240), (100, 200)), seed=1)
    stay = Actor(route(10, 50, (600, 200), (600, 300)), seed=2)
    rule = garden(inertia=3)
    hits = hits_of(run([dip, stay], [rule], 20))
    assert len(hits) == 1
    inside_from = first_time(stay, lambda x, y: y >= 0.4 * H)
    assert hits[0][0] == pytest.approx(inside_from + 2 * PERIOD)
    eager = garden(inertia=1)
    assert len(hits_of(run([dip, stay], [eager], 20))) == 2
