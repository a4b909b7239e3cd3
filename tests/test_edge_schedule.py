"""When the detector runs: the fps cap, and the back-off on motion where nothing is ever found.

The rules are checked on synthetic motion boxes; the saving on real footage of a tree in the
wind (tree.avi) through the real processor and SSDLite.
"""

from __future__ import annotations

import cv2
import numpy as np

from contract.detect_settings import DetectSettings
from contract.rule_settings import ZoneRule
from contract.siteconfig import Camera
from edge.capture import Frame
from edge.detect_schedule import DetectSchedule
from edge.detectors import make_detector
from edge.processor import FrameProcessor

SIZE = (640, 480)
BRANCH = np.array([[400.0, 40.0, 520.0, 160.0]])  # the tree that sways all day
STREET = np.array([[40.0, 300.0, 100.0, 460.0]])  # someone walking in, elsewhere


def schedule(**settings) -> DetectSchedule:
    return DetectSchedule(DetectSettings(fps=5, idle_fps=1, **settings))


def fruitless(s: DetectSchedule, seconds: float, boxes=BRANCH, start: float = 0.0) -> float:
    """Motion at ``boxes`` for ``seconds``, 10 frames a second; the detector finds nothing.
    Returns the event time after the last frame."""
    t = start
    while t < start + seconds:
        if s.due(t, boxes, SIZE):
            s.ran(t, False, boxes, SIZE)
        t = round(t + 0.1, 6)
    return t


def test_the_detector_runs_at_most_fps_times_a_second_of_event_time():
    s = schedule()
    runs = []
    for i in range(20):  # 2 s of 10 fps footage with someone in it
        t = i * 0.1
        if s.due(t, STREET, SIZE):
            runs.append(i)
            s.ran(t, True, STREET, SIZE)
    assert runs == list(range(0, 20, 2))


def test_fruitless_motion_backs_off_to_idle_fps_after_two_seconds():
    s = schedule()
    t = fruitless(s, 2.5)
    assert s.idle
    runs = []
    for i in range(30):  # 3 more seconds of the branch swaying
        now = round(t + i * 0.1, 6)
        if s.due(now, BRANCH, SIZE):
            runs.append(now)
            s.ran(now, False, BRANCH, SIZE)
    assert len(runs) == 3 and np.diff(runs).min() >= 0.99


def test_motion_somewhere_new_runs_the_detector_at_once_even_when_idle():
    s = schedule()
    t = fruitless(s, 3.0)
    s.ran(t, False, BRANCH, SIZE)  # a run just happened: the idle timer is not due
    assert not s.due(t + 0.2, BRANCH, SIZE)
    assert s.due(t + 0.2, np.concatenate([BRANCH, STREET]), SIZE)


def test_finding_something_ends_the_back_off():
    s = schedule()
    t = fruitless(s, 3.0)
    s.ran(t, True, BRANCH, SIZE)  # someone is there after all
    assert not s.idle
    assert s.due(t + 0.2, BRANCH, SIZE)


def test_idle_fps_equal_to_fps_turns_the_back_off_off():
    s = DetectSchedule(DetectSettings(fps=5, idle_fps=5, barren_after=0))
    t = fruitless(s, 3.0)
    assert s.due(t + 0.2, BRANCH, SIZE)


def test_a_tree_in_the_wind_costs_one_run_a_second_idle_and_less_once_learned_barren(tree_clip):
    cap = cv2.VideoCapture(str(tree_clip))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    cycle = frames + frames[-2:0:-1]  # forward and back: 15 s of continuous swaying
    clip = [cycle[i % len(cycle)] for i in range(round(15 * fps))]
    whole = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    runs = {}
    modes = {
        "off": DetectSettings(idle_fps=5.0, barren_after=0),
        "idle": DetectSettings(idle_fps=1.0, barren_after=0),
        "barren": DetectSettings(),  # the default: idle_fps 1 and barren cells
    }
    for mode, detect in modes.items():
        camera = Camera(
            name="garden",
            source="tree.avi",
            area="garden",
            detect=detect,
            zones=[ZoneRule(name="garden", polygon=whole)],
        )
        processor = FrameProcessor(camera, make_detector(camera.detect, "ssdlite"))
        times = []
        for i, image in enumerate(clip):
            result = processor.process(Frame(i, i / fps, image.copy(), restarted=i == 0))
            assert not result.hits
            if result.detected:
                times.append(i / fps)
        runs[mode] = [t for t in times if t >= 5.0]  # after the back-off has settled
    # The branches move on most frames: without the back-off the detector runs ~4x a second.
    assert len(runs["off"]) > 3 * 10
    assert len(runs["idle"]) <= 1.5 * 10
    # Learned barren, the tree costs a run only when the wind pushes it into a new cell.
    assert len(runs["barren"]) <= 5 and len(runs["barren"]) < len(runs["idle"]) / 2


def busy_camera(s: DetectSchedule, frame_times) -> list[float]:
    """Someone in view on every frame: the times the detector ran."""
    runs = []
    for t in frame_times:
        if s.due(t, STREET, SIZE):
            runs.append(t)
            s.ran(t, True, STREET, SIZE)
    return runs


def jittery_frames(fps: float, seconds: float, jitter_s: float, seed: int = 7) -> list[float]:
    """Capture times of a live camera whose frames come up to ``jitter_s`` late (seeded)."""
    rng = np.random.default_rng(seed)
    ticks = np.arange(0.0, seconds, 1.0 / fps)
    return list(ticks + rng.uniform(0.0, jitter_s, len(ticks)))


def test_a_jittery_25_fps_camera_reaches_the_configured_5_detect_fps():
    # 25 fps with up to 15 ms of capture jitter: "last run + 200 ms" would wait for the next
    # frame whenever the due one came a little early, ~4.2 runs a second.
    runs = busy_camera(schedule(), jittery_frames(25.0, 60.0, 0.015))
    assert abs(len(runs) - 5 * 60) <= 1
    assert np.diff(runs).min() >= 0.05  # never a burst: at least a quarter period apart


def test_odd_camera_rates_still_average_the_configured_rate():
    for fps in (6.0, 7.0, 8.0, 10.0, 12.0, 15.0, 30.0):
        runs = busy_camera(schedule(), jittery_frames(fps, 60.0, 0.3 / fps))
        assert len(runs) >= 0.98 * 5 * 60, fps  # >= 4.9 detect-fps
        assert len(runs) <= 5 * 60 + 1, fps
        assert np.diff(runs).min() >= 0.05, fps


def test_a_stall_is_not_repaid_with_a_burst():
    # The processor stalls for 2 s (frames skipped): afterwards the schedule re-anchors
    # instead of running on every frame to catch up the ten runs it missed.
    frames = [t for t in jittery_frames(25.0, 6.0, 0.01) if not 2.0 <= t < 4.0]
    runs = busy_camera(schedule(), frames)
    after = [t for t in runs if t >= 4.0]
    assert np.diff(after).min() >= 0.05
    assert len(after) <= 2 * 5 + 1
