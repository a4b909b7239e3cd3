"""A synthetic scene rendered as images: figures drawn on the excerpt's plaza, found again
in the pixels, tracked, and run through the rules; the heatmap PNG shows where they stood.

The figures are filled shapes in a colour the footage does not contain, so "detection" is a
colour key plus connected components: the boxes come from the images, not from the script.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import EXCERPT
from rule_scenes import FRAME, Actor, Wait, at, route

from contract.rule_settings import CrowdRule, LineRule, LoiterRule, NoParkingRule, Ring, ZoneRule
from edge.bytetrack import ByteTracker
from edge.detections import Detections
from edge.rules import CrowdRings, LineCrossing, Loitering, StoppedVehicle, ZoneIntrusion
from edge.rules.annotate import RuleAnnotator

FIGURE = (255, 0, 255)  # BGR magenta: absent from the footage
W, H = FRAME


@pytest.fixture(scope="module")
def background() -> np.ndarray:
    capture = cv2.VideoCapture(str(EXCERPT))
    ok, image = capture.read()
    capture.release()
    assert ok and image.shape[:2] == (H, W)
    return image


def draw_figure(image: np.ndarray, feet: tuple[float, float], height: float) -> None:
    x, y = round(feet[0]), round(feet[1])
    head = max(3, round(height * 0.09))
    cv2.ellipse(
        image,
        (x, round(y - height * 0.42)),
        (round(height * 0.16), round(height * 0.42)),
        0,
        0,
        360,
        FIGURE,
        cv2.FILLED,
    )
    cv2.circle(image, (x, round(y - height * 0.9)), head, FIGURE, cv2.FILLED)


def find_figures(image: np.ndarray) -> Detections:
    mask = cv2.inRange(image, (235, 0, 235), (255, 20, 255))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    boxes = [
        (x, y, x + w, y + h)
        for x, y, w, h, area in stats[1:n]
        if area >= 40  # the head may touch the body or not: either way one tall component
    ]
    merged = _merge_heads(boxes)
    return Detections.from_arrays(merged, [0.9] * len(merged), ["person"] * len(merged))


def _merge_heads(boxes: list[tuple]) -> list[tuple]:
    """A head drawn apart from its body is a small box just above a bigger one: join them."""
    boxes = sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    out: list[list[float]] = []
    for x1, y1, x2, y2 in boxes:
        for b in out:
            if x1 >= b[0] - 2 and x2 <= b[2] + 2 and y2 <= b[1] + 4 and y2 >= b[1] - 30:
                b[1] = min(b[1], y1)
                break
        else:
            out.append([x1, y1, x2, y2])
    return [tuple(b) for b in out]


PLAZA = dict(
    diversion=Ring(
        polygon=[(0.36, 0.36), (0.93, 0.33), (1.0, 0.52), (1.0, 0.84), (0.72, 0.76), (0.44, 0.56)]
    ),
    control=Ring(
        polygon=[
            (0.48, 0.42),
            (0.88, 0.40),
            (0.95, 0.62),
            (0.95, 0.78),
            (0.74, 0.72),
            (0.52, 0.58),
        ],
        limit=2,
    ),
    core=Ring(polygon=[(0.64, 0.49), (0.85, 0.47), (0.89, 0.70), (0.74, 0.68)]),
)


def scene() -> list[Actor]:
    return [
        # Three people who stop on the plaza: the first stays longest.
        Actor(route(0, 80, (420, 250), (600, 340), Wait(30)), height=95),
        Actor(route(2, 80, (760, 250), (680, 300), Wait(12), (760, 250)), height=90),
        Actor(route(4, 80, (450, 420), (480, 380), Wait(8), (450, 420)), height=110),
        # Two walking along the path, across the line at x = 0.30.
        Actor(route(1, 60, (60, 230), (340, 240)), height=100),
        Actor(route(6, 60, (330, 235), (60, 225)), height=100),
    ]


def render_and_run(background: np.ndarray, rules: list, seconds: float, on_frame=None) -> tuple:
    """Draw, find, track and evaluate each frame; return the last image and tracked rows."""
    tracker = ByteTracker()
    actors = scene()
    image, tracked = background, Detections.empty()
    for k in range(round(seconds * 5) + 1):
        t = k / 5
        image = background.copy()
        for a in actors:
            if a.visible(t):
                draw_figure(image, a.feet(t), a.height)
        tracked = tracker.update(find_figures(image), timestamp=t)
        for rule in rules:
            rule.evaluate(tracked, at(t))
        if on_frame:
            on_frame(t)
    return image, tracked


def test_heatmap_png_is_hottest_where_the_rendered_people_stood(background):
    crowd = CrowdRings(CrowdRule(name="plaza", **PLAZA), FRAME)
    render_and_run(background, [crowd], 30)

    png = crowd.heatmap.render_png()
    alone = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert png.startswith(b"\x89PNG") and alone.shape == (H, W, 3)
    grey = cv2.cvtColor(alone, cv2.COLOR_BGR2GRAY).astype(int)
    row, col = np.unravel_index(np.argmax(grey), grey.shape)
    assert abs(col - 600) <= 12 and abs(row - 340) <= 12  # the first stayer's feet
    assert grey[300, 680] > grey[100, 100] + 50  # the second stayer's spot is warm
    assert grey[100, 100] == grey.min()  # nobody stood up by the building

    over = cv2.imdecode(np.frombuffer(crowd.heatmap.render_png(background), np.uint8), 1)
    assert over.shape == background.shape
    assert np.array_equal(over[:60, :200], background[:60, :200])  # cold: scene untouched
    assert np.abs(over[330:350, 590:610].astype(int) - background[330:350, 590:610]).mean() > 40


def test_rendered_figures_are_counted_in_their_rings_and_across_the_line(background):
    crowd = CrowdRings(CrowdRule(name="plaza", **PLAZA), FRAME)
    line = LineCrossing(LineRule(name="path", points=((0.30, 0.31), (0.30, 0.51))), FRAME)
    at_10s = {}
    render_and_run(
        background,
        [crowd, line],
        16,
        on_frame=lambda t: (
            at_10s.update({r.name: r.occupancy for r in crowd.rings}) if t == 10 else None
        ),
    )
    # Boxes found in the pixels, not the script's: counts are still exact.
    assert (line.in_count, line.out_count) == (1, 1)
    # At 10 s: one stayer in the core, one in control, one in diversion; walkers gone.
    assert at_10s == {"diversion": 1, "control": 1, "core": 1}


def test_the_annotator_draws_every_rule_kind_and_states_are_json(background):
    rules = [
        ZoneIntrusion(
            ZoneRule(name="lawn", polygon=[(0, 0.45), (0.5, 0.6), (0.5, 1), (0, 1)]), FRAME
        ),
        LineCrossing(LineRule(name="path", points=((0.30, 0.31), (0.30, 0.51))), FRAME),
        Loitering(
            LoiterRule(name="lamp", polygon=[(0.5, 0.55), (0.64, 0.55), (0.66, 0.72)]), FRAME
        ),
        CrowdRings(CrowdRule(name="plaza", **PLAZA), FRAME),
        StoppedVehicle(
            NoParkingRule(
                name="van", polygon=[(0.82, 0.12), (0.96, 0.12), (0.96, 0.2), (0.82, 0.2)]
            ),
            FRAME,
        ),
    ]
    image, tracked = render_and_run(background, rules, 8)
    before = image.copy()
    drawn = RuleAnnotator().draw(image, rules, tracked)
    assert np.array_equal(image, before) and drawn.shape == image.shape
    x, y = round(0.30 * W), round(0.45 * H)  # on the line, away from its label
    assert tuple(drawn[y, x]) == (230, 60, 230)
    ring_corner = np.round(rules[3].rings[1].region.polygon[1, 0]).astype(int)  # control
    assert np.abs(drawn[ring_corner[1], ring_corner[0]].astype(int) - (230, 200, 0)).max() < 60
    assert (drawn != image).any(axis=2).mean() > 0.02
    states = {r.name: r.state() for r in rules}
    assert json.loads(json.dumps(states))["path"]["in"] == 1
    assert states["plaza"]["heat_person_s"] > 0
