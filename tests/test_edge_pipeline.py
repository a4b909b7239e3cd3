"""The live pipeline: live sources drop what they cannot process (and count it), files wait;
a lost stream becomes an alert; a snapshot that cannot be blurred is never published.

The end-to-end ones run real parts: OpenCV reading real footage at its own pace, onnxruntime,
CenterFace (or its absence), the SQLite outbox.
"""

from __future__ import annotations

import json
import threading
import time

import cv2
import numpy as np
from conftest import EXCERPT, REPO

from broker.mosquitto import free_port
from contract.camera_settings import HealthSettings, PrivacySettings
from contract.protocol import Alert, Channel, parse_topic
from contract.siteconfig import Camera, load_site_config
from edge.camera_stats import PipelineStats
from edge.capture import Frame
from edge.detections import Detections, box_iou
from edge.detectors import make_detector
from edge.faces import FaceBlurrer
from edge.outbox import Outbox
from edge.pipeline import CameraPipeline, _LatestFrame
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


class ExcerptCamera:
    """A live camera played from the excerpt, deterministically: it stamps its frames on a
    test clock at 30 fps, after its first frame waits until the processor has taken it, and
    after its last goes quiet. Duck-types :class:`edge.capture.FrameSource` (``stream``,
    ``frames(stop)``)."""

    stream = True

    def __init__(self, count: int, taken: threading.Event) -> None:
        self.count, self.taken, self.now = count, taken, 0.0
        cap = cv2.VideoCapture(str(EXCERPT))
        self.images = [cap.read()[1] for _ in range(count)]
        cap.release()

    def clock(self) -> float:
        return self.now

    def frames(self, stop: threading.Event):
        for i, image in enumerate(self.images):
            self.now = i / 30
            yield Frame(i, 1_700_000_000 + i / 30, image, restarted=i == 0)
            if i == 0:
                assert self.taken.wait(10)
        stop.wait()  # then the stream goes quiet (no reconnect, no second pass)


class HeldProcessor:
    """The real processor, held at its first frame until the test lets it go: a detector
    slower than the camera by as much as the test wants, on any machine."""

    def __init__(self, processor: FrameProcessor) -> None:
        self.processor, self.taken, self.go = processor, threading.Event(), threading.Event()

    def __getattr__(self, name: str):
        return getattr(self.processor, name)

    def process(self, frame: Frame) -> ProcessedFrame:
        self.taken.set()
        assert self.go.wait(30)
        return self.processor.process(frame)


def test_a_live_camera_faster_than_the_processor_drops_frames_and_counts_them(tmp_path):
    # Thirty frames come while the processor is still busy with the first: the capture
    # thread must read them all at the camera's pace, keep only the newest and count the
    # others as skipped. (No wall clock: the camera waits for nothing but the first take.)
    camera = Camera(name="plaza", source="rtsp://cam/1", area="plaza", realtime=True)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    pipeline = CameraPipeline(
        camera,
        camera.source,
        make_detector(camera.detect, "ssdlite"),
        outbox,
        site="riverside",
        node="gw-plaza",
        topic_root="vw",
    )
    held = HeldProcessor(pipeline.processor)
    source = ExcerptCamera(31, held.taken)
    pipeline.processor, pipeline.source = held, source
    pipeline.stats = PipelineStats(detect_fps_target=camera.detect.fps, clock=source.clock)
    pipeline.start()
    try:
        assert held.taken.wait(30)
        deadline = time.monotonic() + 30  # a safety net, never the thing tested
        while pipeline.stats.skipped_frames < 29 and time.monotonic() < deadline:
            time.sleep(0.01)
        source.now = 1.0  # one second of camera time has passed
        read_while_held = pipeline.stats.snapshot()
        held.go.set()
        while pipeline.stats.snapshot().process_fps < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        pipeline.stop()
        outbox.close()
    stats = pipeline.stats.snapshot()
    # The camera was read at its own pace: all 31 frames while the processor held one.
    assert read_while_held.camera_fps == 31 and read_while_held.process_fps == 0
    # 29 of them were replaced by newer ones; the newest was processed after the first.
    assert stats.skipped_frames == 29 and stats.skipped_fps == 29
    assert stats.process_fps == 2
    # Frame 30 moves against frame 0 (people walk): motion, and the detector ran on it.
    assert stats.motion_ratio == 0.5
    assert stats.detect_fps == 1 and stats.inference_ms > 0
    assert stats.detect_fps_target == camera.detect.fps


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
