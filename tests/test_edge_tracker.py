"""The camera's tracker: per-label ByteTrackers (weak sightings continue a track, per-label
thresholds, unique ids, the median score gate for rules). The IoU baseline's tests are in
test_bench_iou_tracker.py."""

from __future__ import annotations

import pytest

from contract.detect_settings import DetectSettings
from edge.detections import Detections
from edge.detectors import ObjectFilters
from edge.tracker import CameraTracker


def walker(step: int, dx: float = 8.0) -> tuple[float, float, float, float]:
    return (100 + dx * step, 200.0, 140 + dx * step, 300.0)


# --- CameraTracker: ByteTrackers per object group, thresholds from the label filters -------


def camera_tracker(**detect) -> CameraTracker:
    filters = ObjectFilters(DetectSettings(**detect), "centernet")
    return CameraTracker(filters.filter_for)


def rows(*items: tuple[str, float, tuple[float, float, float, float]]) -> Detections:
    return Detections.from_arrays(
        [box for _, _, box in items], [s for _, s, _ in items], [lab for lab, _, _ in items]
    )


def test_a_half_hidden_person_scoring_low_keeps_their_track():
    tracker = camera_tracker()  # centernet person: min_score 0.45, a new track needs 0.55
    ids = []
    for k in range(6):
        score = 0.6 if k < 3 else 0.2  # walks behind a bench: the detector barely sees them
        out = tracker.update(rows(("person", score, walker(k))), timestamp=k * 0.2)
        ids.append(int(out.track_id[0]) if len(out) else None)
    assert ids[0] == -1 and ids[1] >= 1
    assert ids[1:] == [ids[1]] * 5  # the weak sightings continued the same track


def test_weak_detections_never_start_a_track_and_new_ones_need_more_than_min_score():
    tracker = camera_tracker()
    for k in range(4):
        weak = tracker.update(rows(("person", 0.3, walker(k))), timestamp=k * 0.2)
        assert len(weak) == 0  # noise: not even reported
    for k in range(4):
        middling = tracker.update(rows(("person", 0.5, walker(k))), timestamp=1 + k * 0.2)
        assert len(middling) == 0  # leads a track, but cannot start one (0.55 needed)
    assert tracker.tracks() == []


def test_per_label_min_scores_start_vehicles_lower_than_people():
    tracker = camera_tracker()  # centernet car: min_score 0.35 (new track 0.45)
    van, man = (600.0, 40.0, 720.0, 100.0), (100.0, 200.0, 140.0, 300.0)
    for k in range(3):
        out = tracker.update(rows(("car", 0.5, van), ("person", 0.5, man)), timestamp=k * 0.2)
    assert out.label.tolist() == ["car"] and out.track_id[0] >= 1


def test_ids_are_unique_across_labels_and_never_reused_after_a_reset():
    tracker = camera_tracker()
    van, man = (600.0, 40.0, 720.0, 100.0), (100.0, 200.0, 140.0, 300.0)
    for k in range(3):
        out = tracker.update(rows(("car", 0.8, van), ("person", 0.8, man)), timestamp=k * 0.2)
    first = sorted(out.track_id.tolist())
    assert len(set(first)) == 2 and min(first) >= 1
    assert [t.track_id for t in tracker.tracks()] == first
    tracker.reset()
    for k in range(3):
        out = tracker.update(rows(("car", 0.8, van)), timestamp=k * 0.2)
    assert out.track_id[0] > max(first)


def test_rules_only_see_tracks_whose_median_score_reaches_the_threshold():
    tracker = camera_tracker(filters={"person": {"threshold": 0.6}})
    sure, lucky = (100.0, 200.0, 140.0, 300.0), (400.0, 200.0, 440.0, 300.0)
    for k, flicker in enumerate([0.9, 0.56, 0.56, 0.58, 0.56]):
        out = tracker.update(
            rows(("person", 0.7, sure), ("person", flicker, lucky)), timestamp=k * 0.2
        )
    # The second one scored 0.9 once, but its median over its life is 0.56.
    medians = tracker.median_scores(out)
    assert sorted(medians.tolist()) == pytest.approx([0.56, 0.7])
    seen = tracker.confident(out)
    assert seen.xyxy.tolist() == [list(sure)]
    assert tracker.track_info(int(seen.track_id[0])).median_score == pytest.approx(0.7)
