"""The IoU baseline tracker of ``bench/tracker.py``: stable ids for walkers, no id for
one-off blips, re-acquired after a gap."""

from __future__ import annotations

import numpy as np

from bench.iou_tracker import IouTracker
from edge.detections import Detections


def people(*boxes) -> Detections:
    return Detections.from_arrays(boxes, [0.7] * len(boxes), ["person"] * len(boxes))


def walker(step: int, dx: float = 8.0) -> tuple[float, float, float, float]:
    return (100 + dx * step, 200.0, 140 + dx * step, 300.0)


def test_a_walking_person_keeps_one_id_and_is_confirmed_on_the_second_sighting():
    tracker = IouTracker(min_hits=2)
    ids = [tracker.update(people(walker(k))).track_id[0] for k in range(10)]
    assert ids[0] == -1  # one sighting could be a blip
    assert len(set(ids[1:])) == 1 and ids[1] >= 1


def test_two_people_get_different_ids_and_a_blip_gets_none():
    tracker = IouTracker(min_hits=2)
    other = (400.0, 200.0, 440.0, 300.0)
    for k in range(3):
        tracked = tracker.update(people(walker(k), other))
    assert len(set(tracked.track_id.tolist())) == 2 and (tracked.track_id >= 1).all()
    blip = tracker.update(people(walker(3), other, (600.0, 50.0, 620.0, 90.0)))
    assert blip.track_id[2] == -1


def test_a_person_hidden_for_a_few_runs_is_picked_up_again_where_they_walked_to():
    tracker = IouTracker(min_hits=2, max_age=10)
    fast = 15.0  # moves most of a box width per run: plain IoU after a gap would fail
    for k in range(4):
        first_id = tracker.update(people(walker(k, fast))).track_id[0]
    for _ in range(4):  # hidden behind someone for 4 detector runs
        tracker.update(Detections.empty())
    again = tracker.update(people(walker(8, fast))).track_id[0]
    assert again == first_id


def test_a_track_unseen_for_longer_than_max_age_is_forgotten():
    tracker = IouTracker(min_hits=1, max_age=3)
    first = tracker.update(people(walker(0))).track_id[0]
    for _ in range(4):
        tracker.update(Detections.empty())
    assert tracker.update(people(walker(0))).track_id[0] != first
    assert np.asarray(tracker.active_boxes).shape == (1, 4)
