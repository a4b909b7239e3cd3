"""Per-label detection filters and the choice of model: settings, defaults, and what gets dropped.

Pure settings and arithmetic on boxes, except the last test, which runs the real SSDLite on a
real excerpt frame with a mask over a real person.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import EXCERPT
from pydantic import ValidationError

from contract.detect_settings import MODEL_SCORE_DEFAULTS, DetectSettings, ObjectFilter
from contract.rule_settings import ZoneRule
from contract.siteconfig import Camera
from edge.detections import Detections, box_iou
from edge.detectors import ObjectFilters, SsdLiteDetector, choose_model, make_detector

SIZE = (768, 576)
WHOLE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
#: The woman on the lawn in excerpt frame 150, labelled by hand (as in test_edge_detector).
LAWN_WOMAN_150 = (330.0, 372.0, 384.0, 514.0)


def camera(*zones: ZoneRule, **detect) -> Camera:
    return Camera(
        name="cam", source="x.mp4", area="plaza", zones=list(zones), detect=DetectSettings(**detect)
    )


def boxes(*rows: tuple[str, float, float, float, float]) -> Detections:
    return Detections.from_arrays([r[1:] for r in rows], [0.9] * len(rows), [r[0] for r in rows])


def test_unset_scores_take_the_models_own_defaults():
    settings = DetectSettings(filters={"person": {"min_area": 0.001}})
    centernet = settings.filter_for("person", "centernet")
    ssdlite = settings.filter_for("person", "ssdlite")
    assert (centernet.min_score, centernet.threshold) == MODEL_SCORE_DEFAULTS["centernet"]["person"]
    assert (ssdlite.min_score, ssdlite.threshold) == MODEL_SCORE_DEFAULTS["ssdlite"]["person"]
    assert centernet.min_area == ssdlite.min_area == 0.001
    # A label with no entry of its own gets the model's "*" defaults.
    assert settings.filter_for("bicycle", "centernet").min_score == 0.45


def test_the_old_min_score_mapping_still_reads_and_sets_each_labels_min_score():
    settings = DetectSettings(
        min_score={"car": 0.5, "person": 0.3}, filters={"car": {"max_area": 0.5}}
    )
    assert settings.filter_for("car", "centernet").min_score == 0.5
    assert settings.filter_for("car", "centernet").max_area == 0.5  # merged, not replaced
    assert settings.filter_for("person", "ssdlite").min_score == 0.3
    with pytest.raises(ValidationError, match="min_score must map labels"):
        DetectSettings(min_score=0.5)


@pytest.mark.parametrize(
    ("detect", "message"),
    [
        ({"filters": {"person": {"min_area": 0.2, "max_area": 0.1}}}, "min_area"),
        ({"filters": {"person": {"min_ratio": 2, "max_ratio": 1}}}, "min_ratio"),
        ({"filters": {"dog": {}}}, "unknown labels"),
        ({"filters": {"person": {"threshold": 1.5}}}, "less than or equal to 1"),
        ({"model": "yolo"}, "auto"),
        ({"object_masks": [[[0.1, 0.1], [0.2, 0.2]]]}, "at least 3"),
        ({"filters": {"person": {"min_scor": 0.3}}}, "Extra inputs"),
    ],
)
def test_bad_filter_settings_are_refused_with_the_reason(detect, message):
    with pytest.raises(ValidationError, match=message):
        DetectSettings(**detect)


def test_auto_picks_ssdlite_only_when_every_rule_watches_only_people():
    people = ZoneRule(name="lawn", polygon=WHOLE, objects=["person"])
    cars = ZoneRule(name="drive", polygon=WHOLE, objects=["car", "person"])
    assert choose_model(camera(people, model="auto")) == "ssdlite"
    assert choose_model(camera(people, cars, model="auto")) == "centernet"
    assert choose_model(camera(model="auto")) == "centernet"  # no rules: report every label
    assert choose_model(camera(people)) == "centernet"  # the default is the accurate model


def test_a_people_only_model_for_a_rule_about_cars_is_refused():
    cars = ZoneRule(name="drive", polygon=WHOLE, objects=["car"])
    with pytest.raises(ValueError, match="ssdlite cannot detect \\['car'\\]"):
        choose_model(camera(cars, model="ssdlite"))
    with pytest.raises(ValueError, match="unknown detector model"):
        make_detector(DetectSettings(), "auto")


def test_area_and_shape_limits_drop_what_cannot_be_that_label():
    settings = DetectSettings(
        filters={"person": ObjectFilter(min_area=0.002, max_area=0.25, max_ratio=1.2)}
    )
    filters = ObjectFilters(settings, "centernet")
    found = boxes(
        ("person", 100, 100, 140, 200),  # 40x100: 0.9% of the frame, ratio 0.4: kept
        ("person", 10, 10, 20, 30),  # 10x20: 0.05% of the frame: an insect
        ("person", 0, 0, 700, 500),  # 79% of the frame: too big
        ("person", 300, 300, 420, 340),  # 120x40: ratio 3, a bench
        ("car", 300, 300, 420, 340),  # the same box as a car: the person limits do not apply
    )
    kept = filters.apply(found, SIZE)
    assert kept.xyxy.tolist() == [[100, 100, 140, 200], [300, 300, 420, 340]]
    assert kept.label.tolist() == ["person", "car"]


def test_object_masks_drop_detections_whose_feet_are_inside():
    statue = [(0.5, 0.5), (0.6, 0.5), (0.6, 0.7), (0.5, 0.7)]  # x 384-461, y 288-403
    settings = DetectSettings(
        object_masks=[statue],
        filters={"car": {"masks": [[(0.0, 0.0), (0.3, 0.0), (0.3, 0.3), (0.0, 0.3)]]}},
    )
    filters = ObjectFilters(settings, "centernet")
    found = boxes(
        ("person", 400, 250, 440, 380),  # feet (420, 380): inside the statue mask
        ("person", 400, 300, 440, 420),  # feet (420, 420): below it, head inside: kept
        ("car", 10, 5, 60, 40),  # feet in the car-only mask
        ("person", 10, 5, 60, 40),  # same place, a person: the car mask does not apply
    )
    kept = filters.apply(found, SIZE)
    assert kept.xyxy.tolist() == [[400, 300, 440, 420], [10, 5, 60, 40]]
    assert kept.label.tolist() == ["person", "person"]
    # Masks are fractions: the same mask holds at another resolution.
    half = filters.apply(
        Detections.from_arrays([[200, 125, 220, 190]], [0.9], ["person"]), (384, 288)
    )
    assert len(half) == 0


def test_a_statue_masked_on_a_real_frame_is_no_longer_reported():
    cap = cv2.VideoCapture(str(EXCERPT))
    for _ in range(151):
        ok, frame = cap.read()
        assert ok
    cap.release()
    detector = SsdLiteDetector()
    found = detector.detect(frame)
    assert box_iou(found.xyxy, np.array([LAWN_WOMAN_150])).max() > 0.5
    # Pretend the woman is a statue: mask the ground under her feet.
    x, y = (LAWN_WOMAN_150[0] + LAWN_WOMAN_150[2]) / 2 / SIZE[0], LAWN_WOMAN_150[3] / SIZE[1]
    mask = [(x - 0.03, y - 0.03), (x + 0.03, y - 0.03), (x + 0.03, y + 0.03), (x - 0.03, y + 0.03)]
    kept = ObjectFilters(DetectSettings(object_masks=[mask]), "ssdlite").apply(found, SIZE)
    assert len(kept) == len(found) - 1
    assert box_iou(kept.xyxy, np.array([LAWN_WOMAN_150])).max(initial=0) < 0.5
