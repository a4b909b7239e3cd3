"""The live pipeline: live sources drop what they cannot process (and count it), files wait;
a lost stream becomes an alert; a snapshot that cannot be blurred is never published.

The end-to-end ones run real parts: OpenCV reading real footage at its own pace, onnxruntime,
CenterFace (or its absence), the SQLite outbox.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import EXCERPT, REPO

from broker.mosquitto import free_port
from contract.camera_settings import HealthSettings, PrivacySettings
from contract.protocol import Alert, Channel, parse_topic
from contract.siteconfig import Camera, DetectSettings, load_site_config
from edge.capture import Frame
from edge.detections import Detections, box_iou
from edge.detectors import make_detector
from edge.faces import FaceBlurrer
from edge.outbox import Outbox
from edge.pipeline import CameraPipeline, PipelineStats, _LatestFrame
from edge.processor import FrameProcessor, ProcessedFrame

IMAGE = np.zeros((4, 4, 3), np.uint8)


def frame(i: int, restarted: bool = False) -> Frame:
    return Frame(i, i * 0.1, IMAGE, restarted)


def test_a_live_source_keeps_only_the_newest_frame_and_counts_the_dropped_ones():
    slot, stop, stats = _LatestFrame(drop_when_full=True), threading.Event(), PipelineStats()
    for i in range(5):
        if slot.put(frame(i, restarted=i == 0), stop):
            stats.frame_skipped()
    newest = slot.take(timeout=0.1)
    assert newest.index == 4
    # Frame 0 was dropped, but its "history is void" mark must reach the processor.
    assert newest.restarted
    assert slot.take(timeout=0.01) is None
    assert stats.snapshot().skipped_frames == 4


def test_an_unpaced_file_waits_for_the_processor_instead_of_dropping():
    slot, stop = _LatestFrame(drop_when_full=False), threading.Event()
    taken: list[int] = []

    def consume() -> None:
        while len(taken) < 20:
            got = slot.take(timeout=1.0)
            if got is not None:
                taken.append(got.index)

    consumer = threading.Thread(target=consume)
    consumer.start()
    dropped = [slot.put(frame(i), stop) for i in range(20)]
    consumer.join(10)
    assert not any(dropped)
    assert taken == list(range(20))


def test_stats_report_rates_and_mean_inference():
    stats = PipelineStats()
    motionless = ProcessedFrame(frame(0), None, False, Detections.empty())
    detected = ProcessedFrame(frame(1), None, True, Detections.empty(), inference_ms=80.0)
    slower = ProcessedFrame(frame(2), None, True, Detections.empty(), inference_ms=120.0)
    for result in (motionless, detected, slower):
        stats.frame_read()
        stats.frame_processed(result)
    snap = stats.snapshot()
    assert snap.inference_ms == 100.0
    assert snap.camera_fps > 0 and snap.process_fps > 0 and snap.detect_fps > 0
    assert snap.skipped_frames == 0


# --- whole cameras --------------------------------------------------------------------------


def run_camera(camera: Camera, source: str, outbox: Outbox, **kwargs) -> CameraPipeline:
    pipeline = CameraPipeline(
        camera,
        source,
        make_detector(camera.detect, kwargs.pop("model", "ssdlite")),
        outbox,
        site="riverside",
        node="gw-plaza",
        topic_root="vw",
        **kwargs,
    )
    pipeline.start()
    return pipeline


def queued(outbox: Outbox) -> tuple[list[Alert], list[str]]:
    """The alerts in the outbox, and the alert ids of the snapshots in it."""
    alerts, snapshots = [], []
    for row in outbox.pending(limit=1000):
        topic = parse_topic(row.topic)
        if topic.channel is Channel.SNAPSHOT:
            snapshots.append(topic.alert_id)
        else:
            alerts.append(Alert.model_validate(json.loads(row.payload)))
    return alerts, snapshots


@pytest.fixture(scope="module")
def fast_clip(tmp_path_factory) -> Path:
    """The excerpt's first 150 frames as a 30 fps file: a camera faster than CenterNet."""
    path = tmp_path_factory.mktemp("clip") / "fast.avi"
    cap = cv2.VideoCapture(str(EXCERPT))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (768, 576))
    for _ in range(150):
        ok, image = cap.read()
        assert ok
        writer.write(image)
    writer.release()
    cap.release()
    return path


def test_a_live_camera_faster_than_the_detector_drops_frames_and_counts_them(fast_clip, tmp_path):
    # 30 frames a second with people in every one, detector allowed 30 runs a second:
    # CenterNet (~65 ms a run) cannot keep up on this machine, so frames must be dropped.
    camera = Camera(
        name="plaza",
        source=str(fast_clip),
        area="plaza",
        realtime=True,
        detect=DetectSettings(model="centernet", fps=30),
    )
    outbox = Outbox(tmp_path / "outbox.sqlite")
    pipeline = run_camera(camera, str(fast_clip), outbox, model="centernet")
    try:
        assert pipeline.finished.wait(30)
        stats = pipeline.stats.snapshot()
        assert pipeline.drained.wait(10)
    finally:
        pipeline.stop()
        outbox.close()
    assert stats.skipped_frames > 0, stats
    # The camera was read at its own pace: the processor never held it back.
    assert stats.camera_fps >= 0.8 * 30, stats
    assert stats.process_fps < stats.camera_fps
    assert stats.detect_fps > 0 and stats.inference_ms > 0
    assert 0 < stats.motion_ratio <= 1


def test_a_stream_that_never_answers_raises_a_stream_lost_alert_without_snapshot(tmp_path):
    source = f"rtsp://127.0.0.1:{free_port()}/stream1"  # nothing listens there
    camera = Camera(
        name="gate",
        source=source,
        area="plaza",
        health=HealthSettings(lost_after_s=1.0),
    )
    outbox = Outbox(tmp_path / "outbox.sqlite")
    raised: list[Alert] = []
    pipeline = run_camera(camera, source, outbox, on_alert=raised.append)
    try:
        deadline = time.monotonic() + 20
        while not raised and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        pipeline.stop()
    alerts, snapshots = queued(outbox)
    outbox.close()
    assert [a.kind for a in alerts] == ["stream_lost"]
    alert = alerts[0]
    assert (alert.camera, alert.area, alert.severity) == ("gate", "plaza", "major")
    assert not alert.has_snapshot and snapshots == []
    assert raised == alerts
    assert not pipeline.stats.snapshot().connected


def test_when_faces_cannot_be_blurred_the_alert_goes_out_without_any_image(tmp_path):
    config = load_site_config(REPO / "config" / "site.example.yaml")
    camera = config.gateways[0].cameras[0].model_copy(update={"realtime": False, "loop": False})
    outbox = Outbox(tmp_path / "outbox.sqlite")
    broken = FaceBlurrer(tmp_path / "no-such-model.onnx")  # the face model is missing
    pipeline = run_camera(camera, str(EXCERPT), outbox, blurrer=broken)
    try:
        assert pipeline.drained.wait(60)
    finally:
        pipeline.stop()
    alerts, snapshots = queued(outbox)
    outbox.close()
    assert alerts and all(a.kind == "intrusion" for a in alerts)
    assert not any(a.has_snapshot for a in alerts)
    assert snapshots == []


def test_a_working_blurrer_publishes_a_cropped_snapshot_with_each_alert(tmp_path):
    config = load_site_config(REPO / "config" / "site.example.yaml")
    camera = config.gateways[0].cameras[0].model_copy(update={"realtime": False, "loop": False})
    outbox = Outbox(tmp_path / "outbox.sqlite")
    pipeline = run_camera(camera, str(EXCERPT), outbox, blurrer=FaceBlurrer())
    try:
        assert pipeline.drained.wait(60)
        rows = {parse_topic(r.topic).alert_id: r.payload for r in outbox.pending(limit=1000)}
    finally:
        pipeline.stop()
    alerts, snapshots = queued(outbox)
    outbox.close()
    assert alerts and all(a.has_snapshot for a in alerts)
    assert sorted(snapshots) == sorted(a.id for a in alerts)
    for alert in alerts:
        image = cv2.imdecode(np.frombuffer(rows[alert.id], np.uint8), cv2.IMREAD_COLOR)
        # Cropped to the intruder plus context, never the whole 768x576 frame.
        assert image.shape[1] < 768 and image.shape[0] < 576


def test_the_processor_blanks_privacy_masks_before_motion_and_detection():
    woman = (330.0, 372.0, 384.0, 514.0)  # on the lawn in excerpt frame 150 (hand label)
    x1, y1, x2, y2 = woman
    window = [(x1 / 768 - 0.02, y1 / 576 - 0.02), (x2 / 768 + 0.02, y1 / 576 - 0.02),
              (x2 / 768 + 0.02, y2 / 576 + 0.02), (x1 / 768 - 0.02, y2 / 576 + 0.02)]  # fmt: skip
    cap = cv2.VideoCapture(str(EXCERPT))
    clip = [cap.read()[1] for _ in range(151)]
    cap.release()
    seen = {}
    for masks in ([], [window]):
        camera = Camera(
            name="plaza", source="x", area="plaza", privacy=PrivacySettings(masks=masks)
        )
        processor = FrameProcessor(camera, make_detector(camera.detect, "ssdlite"), cap_fps=False)
        for i, image in enumerate(clip[140:]):
            result = processor.process(Frame(i, i * 0.1, image.copy(), restarted=i == 0))
        seen[len(masks)] = result
    assert box_iou(seen[0].detections.xyxy, np.array([woman])).max() > 0.5
    masked = seen[1]
    assert box_iou(masked.detections.xyxy, np.array([woman])).max(initial=0) < 0.1
    # The frame itself was blanked, so the snapshot built from it shows nothing there either.
    assert masked.frame.image[round(y1) : round(y2), round(x1) : round(x2)].max() == 0
