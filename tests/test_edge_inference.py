"""The gateway's one inference worker: shared sessions, round-robin fairness, same results.

Real parts: onnxruntime running SSDLite and CenterNet on frames of the committed excerpt.
The order of service is decided before the worker starts (the backlog is queued first), so
nothing here depends on how fast the machine is; the worker's clock is injected.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import EXCERPT, REPO

from contract.detect_settings import DetectSettings
from contract.siteconfig import load_site_config
from edge.capture import Frame
from edge.detectors import SessionPool, make_detector
from edge.inference import InferenceWorker, SharedDetector, WorkerStopped
from edge.processor import FrameProcessor


def excerpt_frames(n: int, step: int = 1) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(EXCERPT))
    frames = []
    while len(frames) < n:
        ok, image = cap.read()
        assert ok, "the committed excerpt is shorter than the test needs"
        frames.append(image)
        for _ in range(step - 1):
            cap.read()
    cap.release()
    return frames


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cameras_on_one_model_share_one_session_and_find_the_same_as_alone():
    pool = SessionPool()
    a = make_detector(DetectSettings(), "ssdlite", pool)
    b = make_detector(DetectSettings(fps=2), "ssdlite", pool)
    c = make_detector(DetectSettings(), "centernet", pool)
    alone = make_detector(DetectSettings(), "ssdlite")
    assert a._session is b._session  # one network for both cameras
    assert c._session is not a._session and len(pool) == 2
    image = excerpt_frames(1)[0]
    shared, own = a.detect(image), alone.detect(image)
    assert len(shared) > 0
    np.testing.assert_allclose(shared.xyxy, own.xyxy, atol=1e-3)


def test_a_busy_camera_cannot_starve_the_others_round_robin():
    clock = ManualClock()
    worker = InferenceWorker(threads=1, clock=clock)
    pool = SessionPool()
    detector = make_detector(DetectSettings(), "ssdlite", pool)
    images = excerpt_frames(3, step=10)
    # The busy camera queues a backlog of 6 before the others ask once or twice.
    requests = [worker.submit("busy", detector, images[i % 3]) for i in range(6)]
    clock.now = 1.0
    requests += [worker.submit("quiet", detector, images[0]) for _ in range(2)]
    requests.append(worker.submit("door", detector, images[1]))
    clock.now = 3.0
    worker.start()
    try:
        found = [r.result(timeout=120) for r in requests]
    finally:
        worker.stop()
    # One turn each per round, in the order the cameras first asked.
    assert list(worker.order) == ["busy", "quiet", "door", "busy", "quiet"] + ["busy"] * 4
    assert {k: s.served for k, s in worker.service.items()} == {"busy": 6, "quiet": 2, "door": 1}
    # Waits in the injected clock: all served at t=3, busy asked at 0, the others at 1.
    assert worker.service["busy"].mean_wait_ms == pytest.approx(3000.0)
    assert worker.service["quiet"].mean_wait_ms == pytest.approx(2000.0)
    # The worker ran the real network: the same people as the detector called directly.
    for request, got in zip(requests, found, strict=True):
        np.testing.assert_allclose(got.xyxy, detector.detect(request.image).xyxy, atol=1e-3)


def test_two_worker_threads_serve_every_camera_its_share():
    worker = InferenceWorker(threads=2)
    detector = make_detector(DetectSettings(), "ssdlite", SessionPool())
    image = excerpt_frames(1)[0]
    requests = [worker.submit(f"cam{i % 4}", detector, image) for i in range(4 * 5)]
    worker.start()
    try:
        for r in requests:
            r.result(timeout=120)
    finally:
        worker.stop()
    assert {k: s.served for k, s in worker.service.items()} == {f"cam{i}": 5 for i in range(4)}
    # Every window of 4 consecutive turns holds each camera once: nobody went twice ahead.
    order = list(worker.order)
    for start in range(0, len(order), 4):
        assert sorted(order[start : start + 4]) == ["cam0", "cam1", "cam2", "cam3"]


def test_stopping_fails_waiting_requests_instead_of_hanging_their_cameras():
    worker = InferenceWorker(threads=1)
    detector = make_detector(DetectSettings(), "ssdlite", SessionPool())
    request = worker.submit("cam", detector, excerpt_frames(1)[0])
    worker.stop()  # never started: the request is still waiting
    with pytest.raises(WorkerStopped):
        request.result(timeout=5)
    with pytest.raises(WorkerStopped):
        worker.submit("cam", detector, excerpt_frames(1)[0])


def test_a_camera_through_the_worker_tracks_exactly_as_with_its_own_detector():
    config = load_site_config(REPO / "config" / "site.example.yaml")
    camera = config.gateways[0].cameras[0]
    worker = InferenceWorker(threads=1)
    shared = worker.detector(camera.name, make_detector(camera.detect, "centernet", SessionPool()))
    assert isinstance(shared, SharedDetector) and shared.input_size == 512
    own = FrameProcessor(camera, make_detector(camera.detect, "centernet"))
    via_worker = FrameProcessor(camera, shared)
    worker.start()
    try:
        ran = 0
        for i, image in enumerate(excerpt_frames(12)):
            a = own.process(Frame(i, i / 10, image.copy(), restarted=i == 0))
            b = via_worker.process(Frame(i, i / 10, image.copy(), restarted=i == 0))
            assert a.detected == b.detected
            np.testing.assert_allclose(a.detections.xyxy, b.detections.xyxy, atol=1e-3)
            assert list(a.detections.track_id) == list(b.detections.track_id)
            ran += a.detected
        assert ran >= 3 and shared.last_inference_ms > 0
    finally:
        worker.stop()
