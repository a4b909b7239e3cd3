"""A gateway's side of video verification on real footage and the real detector: the
pre-event buffer keeps the last seconds within its bound, and a request is answered with a
privacy-filtered snapshot at once and an MJPEG clip ``post_s`` later, both saying a person
was seen (people walk across the committed lawn excerpt the whole time).

Time is a stepped clock moved by the frames (10 frames/s of footage), so nothing here
depends on how fast the machine is.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
from conftest import EXCERPT, REPO
from hub_helpers import wait_for

from contract.siteconfig import load_site_config
from contract.verification import VerifyRequest, decode_evidence, encode_request
from edge.capture import Frame
from edge.detectors import make_detector
from edge.faces import FaceBlurrer
from edge.pre_event import PreEventBuffer
from edge.processor import FrameProcessor
from edge.verification import CameraFeed, EvidenceResponder

FPS = 10.0  # the excerpt's frame rate


class FrameClock:
    """Seconds of footage played: the buffer's and the responder's clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def set(self, value: float) -> None:
        with self._lock:
            self.now = value


def play(processor: FrameProcessor, buffer: PreEventBuffer, clock: FrameClock, frames, start: int):
    for i, image in enumerate(frames, start):
        clock.set(i / FPS)
        buffer.record(processor.process(Frame(i, 1_700_000_000 + i / FPS, image)))


def footage(count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(EXCERPT))
    images = [cap.read()[1] for _ in range(count)]
    cap.release()
    return images


def request(**over) -> bytes:
    fields = dict(site="riverside", node="gw-plaza", camera="plaza", request_id="e" * 32,
                  pre_s=4.0, post_s=2.0, clip_fps=4.0, clip_width=480)  # fmt: skip
    return encode_request(VerifyRequest(**{**fields, **over}))


def answer(blurrer: FaceBlurrer, tmp: Path) -> tuple[PreEventBuffer, list[bytes]]:
    """Play 12 s of footage, ask at 10 s, and keep what the responder publishes."""
    camera = load_site_config(REPO / "config" / "site.example.yaml").gateways[0].cameras[0]
    processor = FrameProcessor(camera, make_detector(camera.detect, "ssdlite"))
    clock = FrameClock()
    buffer = PreEventBuffer(clock=clock)
    sent: list[bytes] = []
    responder = EvidenceResponder(
        "riverside", "gw-plaza", "vw", lambda _t, p: sent.append(p) or True,
        {"plaza": CameraFeed(buffer, camera.privacy)}, blurrer, clock=clock,
    )  # fmt: skip
    responder.start()
    try:
        images = footage(120)
        play(processor, buffer, clock, images[:100], 0)
        responder.on_request(request())
        responder.on_request(request(camera="nope", request_id="f" * 32))
        wait_for(lambda: len(sent) == 2, 30, "the snapshots")
        play(processor, buffer, clock, images[100:], 100)
        wait_for(lambda: len(sent) == 4, 60, "the clips")
    finally:
        responder.stop()
    return buffer, sent


def test_a_request_gets_a_blurred_snapshot_at_once_and_a_clip_after_post_s(tmp_path):
    buffer, sent = answer(FaceBlurrer(), tmp_path)
    # The buffer's bound: 10 s at 4 frames/s, and well under 2 MB of JPEG on this footage.
    assert len(buffer) <= 41 and buffer.nbytes() < 2_000_000
    parts = {(h.camera, h.part): (h, body) for h, body in map(decode_evidence, sent)}
    snap, jpeg = parts[("plaza", "snapshot")]
    assert snap.person_seen and snap.person_score > 0.3 and snap.content_type == "image/jpeg"
    assert 10 <= snap.frames <= 17  # 4 s before the request at 4 frames/s
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[1] == 480  # not cropped: the whole (shrunk) view
    clip, avi = parts[("plaza", "clip")]
    assert clip.person_seen and clip.content_type == "video/x-msvideo" and clip.frames >= 20
    path = tmp_path / "clip.avi"
    path.write_bytes(avi)
    video = cv2.VideoCapture(str(path))
    frames = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    assert 20 <= frames <= 26 and video.get(cv2.CAP_PROP_FRAME_WIDTH) == 480  # 6 s at 4/s
    video.release()
    missing, body = parts[("nope", "snapshot")]
    assert missing.content_type is None and body == b"" and "no camera" in missing.reason


def test_when_faces_cannot_be_blurred_the_evidence_carries_no_image(tmp_path):
    broken = FaceBlurrer(tmp_path / "no-such-model.onnx")  # the face model is missing
    _, sent = answer(broken, tmp_path)
    for header, body in map(decode_evidence, sent):
        assert body == b"" and header.content_type is None
        if header.camera == "plaza":
            assert header.reason == "privacy filter failed" and header.person_seen
