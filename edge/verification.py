"""``EvidenceResponder``: a gateway's answers to the hub's video-verification requests.

The hub asks with a :class:`~contract.verification.VerifyRequest` on the gateway's ``verify``
topic when a sensor trips in the area of one of its cameras (docs/protocol.md, *Video
verification*). Here:

* :meth:`EvidenceResponder.on_request` (paho's thread) checks the request, notes *when* it
  came on this gateway's clock (injected, so tests move it) and queues it: nothing slow on
  paho's thread;
* the responder's own thread answers at once with a **snapshot**: the frame of the camera's
  :class:`~edge.pre_event.PreEventBuffer` with the surest person in the ``pre_s`` seconds
  before the request (else the newest), and whether a confirmed person was seen there;
* ``post_s`` later (the buffer has kept filling meanwhile) it sends the **clip**: the frames
  from ``pre_s`` before to ``post_s`` after the request at ``clip_fps``, as an MJPEG AVI
  written by OpenCV, with the verdict over that whole window.

Every image is privacy filtered exactly like an alert snapshot (:func:`edge.snapshot.
make_snapshot`, not cropped: masks were painted in by the processor, faces — and heads of
people without a found face — are blurred here). If the filter fails, that image is not
sent: the evidence goes out empty, with the reason.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from contract.camera_settings import PrivacySettings
from contract.protocol import ProtocolError
from contract.verification import (
    MAX_EVIDENCE_BYTES,
    EvidenceHeader,
    VerifyRequest,
    decode_request,
    encode_evidence,
    evidence_topic,
    verify_topic,
)
from edge.detections import Detections
from edge.faces import FaceBlurrer
from edge.pre_event import BufferedFrame, PreEventBuffer
from edge.privacy import prepare_snapshot
from edge.snapshot import make_snapshot

log = logging.getLogger(__name__)

#: publish(topic, payload) -> handed to the broker link?; QoS 1 on the gateway's one link.
Publish = Callable[[str, bytes], bool]
#: Room for the header and the AVI index within the evidence limit.
_CLIP_BUDGET = MAX_EVIDENCE_BYTES - 64 * 1024


@dataclass(frozen=True)
class CameraFeed:
    """What the responder needs of one camera: its buffer and its privacy settings."""

    buffer: PreEventBuffer
    privacy: PrivacySettings


class EvidenceResponder:
    """Requests in, snapshots and clips out, on a thread of its own."""

    def __init__(
        self,
        site: str,
        node: str,
        topic_root: str,
        publish: Publish,
        cameras: dict[str, CameraFeed],
        blurrer: FaceBlurrer | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` must be the clock of the cameras' buffers: windows are measured on it."""
        self.site, self.node, self.topic_root = site, node, topic_root
        self.publish = publish
        self.cameras = cameras
        self.blurrer = blurrer
        self.clock = clock
        self._lock = threading.Condition()
        self._jobs: list[tuple[float, int, str, VerifyRequest, float]] = []  # a heap, by due
        self._order = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Evidence messages sent (tests, bench).
        self.sent: list[EvidenceHeader] = []

    @property
    def request_topic(self) -> str:
        return verify_topic(self.topic_root, self.site, self.node)

    def on_request(self, payload: bytes) -> None:
        """paho's thread: check and queue. A bad request changes nothing (it is logged)."""
        try:
            request = decode_request(payload, self.site, self.node)
        except ProtocolError as exc:
            log.warning("ignored a bad verify request: %s", exc)
            return
        asked = self.clock()
        log.info("verify request %s for camera %s", request.request_id, request.camera)
        self._queue(asked, "snapshot", request, asked)
        self._queue(asked + request.post_s, "clip", request, asked)

    def _queue(self, due: float, part: str, request: VerifyRequest, asked: float) -> None:
        with self._lock:
            heapq.heappush(self._jobs, (due, next(self._order), part, request, asked))
            self._lock.notify()

    # --- the responder thread -------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vw-verify", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._jobs:  # idle: sleep until a request (or stop) notifies
                    if not self._stop.is_set():  # checked under the lock stop() notifies on
                        self._lock.wait()
                    continue
                # Poll the (injectable) clock: a due time on it cannot be waited for directly.
                if self._jobs[0][0] > self.clock():
                    self._lock.wait(0.05)
                    continue
                _, _, part, request, asked = heapq.heappop(self._jobs)
            try:
                self._answer(part, request, asked)
            except Exception:  # one bad answer must not end verification
                log.exception("verify %s %s failed", part, request.request_id)

    def _answer(self, part: str, request: VerifyRequest, asked: float) -> None:
        feed = self.cameras.get(request.camera)
        if feed is None:
            frames: list[BufferedFrame] = []
            reason = f"no camera {request.camera} on this gateway"
        else:
            end = asked if part == "snapshot" else asked + request.post_s
            frames = feed.buffer.window(asked - request.pre_s, end)
            reason = "no frames buffered (camera down?)"
        if feed is None or not frames:
            self._send(request, part, frames, None, b"", reason)
            return
        if part == "snapshot":
            body = self._snapshot(frames, feed.privacy)
            kind = "image/jpeg"
        else:
            body = self._clip(frames, request, feed.privacy)
            kind = "video/x-msvideo"
        if body is None:
            self._send(request, part, frames, None, b"", "privacy filter failed")
            return
        self._send(request, part, frames, kind, body, "")

    def _send(
        self,
        request: VerifyRequest,
        part: str,
        frames: list[BufferedFrame],
        content_type: str | None,
        body: bytes,
        reason: str,
    ) -> None:
        best = max((f.person_score for f in frames), default=0.0)
        header = EvidenceHeader(
            request_id=request.request_id,
            camera=request.camera,
            part=part,
            person_seen=best > 0,
            person_score=round(best, 3),
            frames=len(frames),
            content_type=content_type,
            reason=reason,
        )
        topic = evidence_topic(self.topic_root, self.site, self.node, request.request_id)
        if self.publish(topic, encode_evidence(header, body)):
            self.sent.append(header)
        else:
            log.warning("verify %s %s: broker not connected; not sent", part, request.request_id)

    def _snapshot(self, frames: list[BufferedFrame], privacy: PrivacySettings) -> bytes | None:
        """The frame with the surest person (the newest if none), people boxed, privacy
        filtered; None if it cannot be made safe."""
        i = max(reversed(range(len(frames))), key=lambda i: frames[i].person_score)
        image = cv2.imdecode(np.frombuffer(frames[i].jpeg, np.uint8), cv2.IMREAD_COLOR)
        settings = privacy.model_copy(update={"crop": False})
        return make_snapshot(
            image, frames[i].confirmed, _people_near(frames, i), settings, blurrer=self.blurrer
        )

    def _clip(
        self, frames: list[BufferedFrame], request: VerifyRequest, privacy: PrivacySettings
    ) -> bytes | None:
        """An MJPEG AVI of ``frames`` at ``clip_fps``, every frame privacy filtered; fewer
        frames if it would not fit one evidence message."""
        picked = _every(frames, 1.0 / request.clip_fps)
        settings = privacy.model_copy(update={"crop": False})
        safe = []
        for i, frame in enumerate(picked):
            image = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
            people = _people_near(picked, i)
            try:
                image = prepare_snapshot(
                    image, people[:0], people, settings, blurrer=self.blurrer
                ).image
            except Exception:
                log.exception("clip privacy filter failed; no clip")
                return None
            safe.append(_fit(image, request.clip_width))
        while True:
            avi = _write_avi(safe, request.clip_fps)
            if len(avi) <= _CLIP_BUDGET or len(safe) <= 1:
                return avi if len(avi) <= _CLIP_BUDGET else None
            safe = safe[::2]  # too big: half the frames, the same span


def _people_near(frames: list[BufferedFrame], i: int) -> Detections:
    """The people of frame ``i`` and of its neighbours: a kept frame's boxes come from the
    last detector run, up to one run old, so a person who walked in since has a box only in
    the next frame. Their heads are blurred where no face is found: privacy first."""
    return Detections.concat(f.people for f in frames[max(0, i - 1) : i + 2])


def _every(frames: list[BufferedFrame], step: float) -> list[BufferedFrame]:
    """Frames at least ``step`` seconds apart, from the first."""
    picked: list[BufferedFrame] = []
    for frame in frames:
        if not picked or frame.at - picked[-1].at >= step * 0.9:  # 10%: capture jitter
            picked.append(frame)
    return picked


def _fit(image: np.ndarray, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    if w <= width:
        return image
    return cv2.resize(image, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


def _write_avi(images: list[np.ndarray], fps: float, quality: int = 70) -> bytes:
    """MJPEG in AVI through OpenCV's own writer (no FFmpeg needed). OpenCV writes only to
    files, so it goes through a temporary one."""
    h, w = images[0].shape[:2]
    with tempfile.TemporaryDirectory(prefix="vw-clip-") as folder:
        path = Path(folder) / "clip.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, quality)
        try:
            for image in images:
                writer.write(image if image.shape[:2] == (h, w) else cv2.resize(image, (w, h)))
        finally:
            writer.release()
        return path.read_bytes()
