"""Two streams per camera: detect on the substream, snapshot from the main stream.

Real parts: the committed excerpt as the main stream (768x576) and a half-size copy of it
written here as the substream, OpenCV reading both, CenterNet, CenterFace, the SQLite
outbox. Files play unpaced, so which main frame is newest when an alert fires depends on
the machine: the assertions are on sizes and scaling, never on timing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
from broker_kit import wait_until
from conftest import EXCERPT, REPO

from contract.protocol import Channel, parse_topic
from contract.siteconfig import Camera, load_site_config
from edge.capture import Frame
from edge.detections import Detections
from edge.detectors import make_detector
from edge.faces import FaceBlurrer
from edge.main_stream import MainStream
from edge.outbox import Outbox
from edge.pipeline import CameraPipeline


def half_size_copy(folder: Path) -> Path:
    cap = cv2.VideoCapture(str(EXCERPT))
    path = folder / "substream.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (384, 288))
    while True:
        ok, image = cap.read()
        if not ok:
            break
        out.write(cv2.resize(image, (384, 288), interpolation=cv2.INTER_AREA))
    out.release()
    cap.release()
    return path


def plaza(**update) -> Camera:
    camera = load_site_config(REPO / "config" / "site.example.yaml").gateways[0].cameras[0]
    return camera.model_copy(update={"realtime": False, "loop": False, **update})


def first_snapshot(camera: Camera, source: Path, outbox: Outbox, main: Path | None) -> np.ndarray:
    pipeline = CameraPipeline(
        camera,
        str(source),
        make_detector(camera.detect, "centernet"),
        outbox,
        site="riverside",
        node="gw-plaza",
        topic_root="vw",
        blurrer=FaceBlurrer(),
        main_source=str(main) if main else None,
    )
    if pipeline.main is not None:
        # Unpaced files drift apart in time; a live camera's two streams do not.
        pipeline.main.max_age_s = float("inf")
    pipeline.start()
    try:
        assert pipeline.drained.wait(120), "the substream never finished playing"
    finally:
        pipeline.stop()
    alerts = {}
    snapshots = {}
    for row in outbox.pending(limit=1000):
        topic = parse_topic(row.topic)
        if topic.channel is Channel.SNAPSHOT:
            snapshots[topic.alert_id] = row.payload
        else:
            alert = json.loads(row.payload)
            alerts[alert["seq"]] = alert["id"]
    assert alerts, "no alert on the substream"
    jpeg = snapshots[alerts[min(alerts)]]
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def test_snapshots_come_from_the_main_stream_with_the_substream_boxes_scaled(tmp_path):
    sub = half_size_copy(tmp_path)
    # Uncropped snapshots: the whole picture shows which stream it came from.
    privacy = plaza().privacy.model_copy(update={"crop": False})
    camera = plaza(detect_source=str(sub), privacy=privacy)
    alone = first_snapshot(camera, sub, Outbox(tmp_path / "a.sqlite"), None)
    both = first_snapshot(camera, sub, Outbox(tmp_path / "b.sqlite"), EXCERPT)
    assert alone.shape == (288, 384, 3)
    assert both.shape == (576, 768, 3)


def test_a_stale_or_missing_main_frame_leaves_the_snapshot_to_the_substream():
    main = MainStream(plaza(), str(EXCERPT))
    sub = Frame(7, 100.0, np.zeros((288, 384, 3), np.uint8))
    boxes = Detections.from_arrays([[10, 20, 30, 60]], [0.9], ["person"])
    assert main.view(sub, boxes, boxes, None) is None  # nothing read yet
    main._latest = Frame(70, 100.2, np.zeros((576, 768, 3), np.uint8))
    image, objects, _people, outline = main.view(sub, boxes, boxes, np.array([[5, 5], [50, 5]]))
    assert image.shape == (576, 768, 3)
    np.testing.assert_allclose(objects.xyxy, [[20, 40, 60, 120]])
    np.testing.assert_allclose(outline, [[10, 10], [100, 10]])
    main._latest = Frame(90, 102.0, main._latest.image)  # 2 s apart: not the same moment
    assert main.view(sub, boxes, boxes, None) is None


def test_a_live_main_stream_converts_a_frame_only_when_a_snapshot_asks_for_one():
    main = MainStream(plaza(realtime=True, loop=True), str(EXCERPT))
    main.start()
    try:
        assert wait_until(lambda: main.frames_grabbed >= 5, 30), "the main stream never played"
        assert main.frames_read == 0  # read and decoded, never converted: nobody asked
        sub = Frame(7, time.time(), np.zeros((288, 384, 3), np.uint8))
        boxes = Detections.from_arrays([[10, 20, 30, 60]], [0.9], ["person"])
        main.frame_wait_s = 30.0  # a loaded CI machine: the wait ends when the frame comes
        image, objects, _people, _outline = main.view(sub, boxes, boxes, None)
        assert image.shape == (576, 768, 3) and main.frames_read == 1
        np.testing.assert_allclose(objects.xyxy, [[20, 40, 60, 120]])
        grabbed = main.frames_grabbed
        assert wait_until(lambda: main.frames_grabbed >= grabbed + 3, 30)
        assert main.frames_read == 1
    finally:
        main.stop()
