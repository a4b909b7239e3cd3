"""The motion gate on real frames: static → nothing, a walker → a box on them, light → nothing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import EXCERPT

from contract.siteconfig import Camera, DetectSettings, MotionSettings
from edge.capture import Frame
from edge.detections import box_iou
from edge.detectors import CenterNetDetector
from edge.motion import MotionGate, detection_regions
from edge.processor import FrameProcessor

#: The woman walking on the lawn in frame 150, labelled by hand (x1, y1, x2, y2).
LAWN_WOMAN_150 = (330.0, 372.0, 384.0, 514.0)


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(EXCERPT))
    frames = []
    while len(frames) <= 150:
        ok, image = cap.read()
        assert ok
        frames.append(image)
    return frames


def test_a_static_scene_shows_no_motion(clip):
    gate = MotionGate(MotionSettings())
    results = [gate.detect(clip[150]) for _ in range(20)]
    assert not any(r.has_motion for r in results)
    assert all(r.ratio == 0.0 for r in results)


def test_a_walking_person_gets_a_motion_box_on_them(clip):
    gate = MotionGate(MotionSettings())
    for image in clip[130:150]:
        gate.detect(image)
    result = gate.detect(clip[150])
    assert result.has_motion
    assert box_iou(result.boxes, np.array([LAWN_WOMAN_150])).max() > 0.3
    # Boxes are in full-frame pixels, not the 120-px-high working copy.
    assert result.boxes[:, 2].max() > 200


def test_a_brightness_change_is_not_motion(clip):
    gate = MotionGate(MotionSettings())
    still = clip[150]
    for _ in range(5):
        gate.detect(still)
    dimmed = cv2.convertScaleAbs(still, alpha=0.55, beta=0)  # lights/cloud: 45% darker at once
    jump = gate.detect(dimmed)
    assert not jump.has_motion and jump.global_change
    assert not any(gate.detect(dimmed).has_motion for _ in range(5))
    # A slow fade (dusk, a passing cloud) is absorbed without ever counting as motion.
    fades = [gate.detect(cv2.convertScaleAbs(dimmed, alpha=1 + 0.03 * k)) for k in range(1, 20)]
    assert not any(r.has_motion for r in fades)


def test_a_brightness_change_never_runs_the_detector(clip):
    camera = Camera(name="cam", source="x.mp4", area="plaza", detect=DetectSettings())
    processor = FrameProcessor(camera, CenterNetDetector(camera.detect), cap_fps=False)
    still = clip[150]
    bright = cv2.convertScaleAbs(still, alpha=1.0, beta=60)
    frames = [still] * 5 + [bright] * 5 + [still] * 5
    results = [processor.process(Frame(i, i * 0.1, f)) for i, f in enumerate(frames)]
    assert not any(r.detected for r in results)


def test_motion_on_a_moving_person_runs_the_detector(clip):
    camera = Camera(name="cam", source="x.mp4", area="plaza", detect=DetectSettings())
    processor = FrameProcessor(camera, CenterNetDetector(camera.detect), cap_fps=False)
    results = [processor.process(Frame(i, i * 0.1, f)) for i, f in enumerate(clip[140:151])]
    assert not results[0].detected  # the first frame only seeds the background
    assert results[-1].detected and (results[-1].detections.label == "person").any()


def test_small_motion_gives_square_crops_large_motion_the_whole_frame():
    hd = (1280, 720)
    small = detection_regions(np.array([[1000, 100, 1040, 200]]), hd, min_side=512)
    assert len(small) == 1
    x1, y1, x2, y2 = small[0]
    assert x2 - x1 == pytest.approx(512) and y2 - y1 == pytest.approx(512)
    assert x1 >= 0 and x2 <= 1280 and y1 >= 0 and y2 <= 720
    assert x1 <= 1000 and x2 >= 1040 and y1 <= 100 and y2 >= 200

    spread = np.array([[10, 10, 60, 100], [600, 300, 650, 400], [1200, 600, 1270, 710]])
    assert detection_regions(spread, hd, min_side=512) == [(0.0, 0.0, 1280.0, 720.0)]
    # On 768x576 any 512-px square is most of the frame: just look at all of it.
    assert detection_regions(np.array([[300, 300, 340, 400]]), (768, 576), min_side=512) == [
        (0.0, 0.0, 768.0, 576.0)
    ]
    assert detection_regions(np.zeros((0, 4)), hd, min_side=512) == []
