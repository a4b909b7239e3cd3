"""Crowd rings on synthetic crowds: exact occupancy, hysteresis, people per m², heat decay."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rule_scenes import FRAME, STEP_S, Actor, at, hits_of, route, run

from contract.rule_settings import CrowdRule, GroundCalibration, Ring
from edge.detections import Detections
from edge.rules import CrowdRings, GroundPlane

W, H = FRAME


def rect(x1: float, y1: float, x2: float, y2: float) -> list[tuple[float, float]]:
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


DIVERSION = (0.05, 0.25, 0.95, 0.98)
CONTROL = (0.2, 0.4, 0.8, 0.9)
CORE = (0.35, 0.55, 0.65, 0.8)


def rings(control_limit: int | None = None, **kw) -> CrowdRings:
    rule = CrowdRule(
        name="stage",
        diversion=Ring(polygon=rect(*DIVERSION)),
        control=Ring(polygon=rect(*CONTROL), limit=control_limit),
        core=Ring(polygon=rect(*CORE)),
        **kw,
    )
    return CrowdRings(rule, FRAME)


def true_ring(x: float, y: float) -> str | None:
    """Ground truth by plain comparisons: the innermost rectangle holding the feet."""
    for name, (x1, y1, x2, y2) in (("core", CORE), ("control", CONTROL), ("diversion", DIVERSION)):
        if x1 * W <= x <= x2 * W and y1 * H <= y <= y2 * H:
            return name
    return None


def test_ring_occupancy_equals_ground_truth_on_every_frame():
    rng = np.random.default_rng(42)
    crowd = []
    for _ in range(40):  # straight walks across and around the rings, 20..120 px/s
        a = rng.uniform([0, 130], [W, H])
        b = rng.uniform([0, 130], [W, H])
        start = rng.uniform(0, 10)
        height = rng.uniform(50, 110)
        crowd.append(
            Actor(route(start, rng.uniform(20, 120), a, b), height=height, width=height * 0.4)
        )
    rule = rings()
    checked = 0

    def check(frame) -> None:
        nonlocal checked
        truth = {"diversion": 0, "control": 0, "core": 0}
        for actor in crowd:
            if actor.visible(frame.t):
                name = true_ring(*actor.feet(frame.t))
                if name:
                    truth[name] += 1
        got = {name: ring["occupancy"] for name, ring in rule.state()["rings"].items()}
        assert got == truth, f"t={frame.t}"
        checked += sum(truth.values())

    run(crowd, [rule], 20, on_frame=check)
    assert checked > 1000  # people-frames compared, most of them in rings


def standing_crowd(counts: list[tuple[float, float, int]]) -> list[Actor]:
    """People standing in the control band (above the core): ``n`` of them during [t0, t1)."""
    people = []
    for t0, t1, n in counts:
        for i in range(n):
            feet = (170 + 30 * i, 300.0)  # control band, y 230..317 px above the core
            people.append(Actor([(t0, *feet), (t1 - STEP_S / 2, *feet)], height=60, width=24))
    return people


def test_a_ring_alerts_once_per_crossing_of_its_limit_with_hysteresis():
    # Control limit 10, re-armed below 8, 3 frames over the limit before alerting.
    script = [
        (0, 3, 8),
        (3, 3.4, 11),  # two frames over: too short
        (3.4, 6, 9),
        (6, 9, 11),  # over: alert on its third frame, t = 6.4
        (9, 12, 10),  # at the limit, not below 8: still disarmed
        (12, 15, 11),  # over again: no second alert
        (15, 18, 7),  # below 8: re-armed
        (18, 21, 12),  # over: alert at 18.4
        (21, 24, 11),
    ]
    rule = rings(control_limit=10, min_frames=3, rearm_below=0.8)
    occupancy: dict[float, int] = {}
    frames = run(
        standing_crowd(script),
        [rule],
        24 - STEP_S,
        on_frame=lambda f: occupancy.update({f.t: rule.ring("control").occupancy}),
    )
    for t0, t1, n in script:
        assert all(occupancy[t] == n for t in occupancy if t0 <= t < t1 - 1e-6)
    hits = hits_of(frames)
    assert [t for t, _ in hits] == pytest.approx([6.4, 18.4])
    assert [h.message for _, h in hits] == [
        "control ring: 11 people (limit 10)",
        "control ring: 12 people (limit 10)",
    ]
    assert all(h.kind == "crowd" and h.rule == "stage" for _, h in hits)
    assert len(hits[1][1].objects) == 12
    assert rule.state()["rings"]["control"]["alerts"] == 2


# A known ground plane: a 20 x 20 m square seen as a trapezoid (far side narrower).
GROUND_SQUARE = [(0.0, 20.0), (20.0, 20.0), (20.0, 0.0), (0.0, 0.0)]
IMAGE_TRAPEZOID = [(0.3, 0.3), (0.7, 0.3), (0.95, 0.95), (0.05, 0.95)]


def ground_to_image() -> np.ndarray:
    image = np.float32([[x * W, y * H] for x, y in IMAGE_TRAPEZOID])
    return cv2.getPerspectiveTransform(np.float32(GROUND_SQUARE), image)


def to_image(points_m) -> np.ndarray:
    pts = np.asarray(points_m, dtype=np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(pts, ground_to_image()).reshape(-1, 2)


def image_fractions(points_m) -> list[tuple[float, float]]:
    return [(float(x / W), float(y / H)) for x, y in to_image(points_m)]


def test_people_per_square_metre_through_a_ground_homography():
    calibration = GroundCalibration(image=IMAGE_TRAPEZOID, ground_m=GROUND_SQUARE)
    control_m = [(5, 5), (15, 5), (15, 15), (5, 15)]  # 100 m²
    core_m = [(8, 8), (12, 8), (12, 12), (8, 12)]  # 16 m²: the control band is 84 m²
    rule = CrowdRule(
        name="stage",
        control=Ring(polygon=image_fractions(control_m), limit=40),
        core=Ring(polygon=image_fractions(core_m), limit=10),
        min_frames=1,
    )
    crowd = CrowdRings(rule, FRAME, ground=GroundPlane(calibration, FRAME))
    assert crowd.ring("control").area_m2 == pytest.approx(84, rel=1e-4)
    assert crowd.ring("core").area_m2 == pytest.approx(16, rel=1e-4)

    grid = [(x, y) for x in np.arange(5.5, 15, 1.0) for y in np.arange(5.5, 15, 1.0)]
    band = [p for p in grid if not (7.5 <= p[0] <= 12.5 and 7.5 <= p[1] <= 12.5)][:42]
    core = [(x, y) for x in (8.5, 9.5, 10.5, 11.5) for y in (8.5, 9.5)]
    feet = to_image(band + core)
    boxes = [(x - 8, y - 40, x + 8, y) for x, y in feet]
    people = Detections.from_arrays(boxes, [0.9] * len(boxes), ["person"] * len(boxes))
    hits = crowd.evaluate(people, at(0))

    state = crowd.state()["rings"]
    assert (state["control"]["occupancy"], state["core"]["occupancy"]) == (42, 8)
    assert state["control"]["per_m2"] == pytest.approx(0.5, rel=1e-3)
    assert state["core"]["per_m2"] == pytest.approx(0.5, rel=1e-3)
    assert [h.message for h in hits] == ["control ring: 42 people (limit 40), 0.5 /m²"]


def test_ground_plane_maps_the_calibration_marks_to_their_metres():
    calibration = GroundCalibration(image=IMAGE_TRAPEZOID, ground_m=GROUND_SQUARE)
    plane = GroundPlane(calibration, FRAME)
    marks = [(x * W, y * H) for x, y in IMAGE_TRAPEZOID]
    assert plane.to_ground(np.array(marks)) == pytest.approx(np.array(GROUND_SQUARE), abs=1e-3)
    # The plain-Python horizon check in the config agrees: the whole trapezoid is ground.
    assert all(calibration.on_ground(p) for p in IMAGE_TRAPEZOID)


def test_heat_halves_every_half_life_and_piles_up_where_people_stand():
    rule = rings(heatmap_half_life_s=60)
    person = Detections.from_arrays([(300, 300, 340, 400)], [0.9], ["person"], [1])
    for k in range(50):  # 10 s standing at feet (320, 400)
        rule.evaluate(person, at(k * STEP_S))
    heat = rule.heatmap.total
    # 0.2 person-seconds per run, each decayed by its age at t = 9.8 s.
    expected = sum(STEP_S * 0.5 ** ((9.8 - k * STEP_S) / 60) for k in range(50))
    assert heat == pytest.approx(expected, rel=1e-6) and 9 < heat < 10
    rule.evaluate(Detections.empty(), at(9.8 + 60))
    assert rule.heatmap.total == pytest.approx(heat / 2, rel=1e-6)
    row, col = np.unravel_index(np.argmax(rule.heatmap.heat()), (H, W))
    assert abs(col - 320) <= 8 and abs(row - 400) <= 8
