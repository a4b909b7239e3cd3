"""``PreEventBuffer``: the last few seconds of one camera, kept for video verification.

When a door sensor trips, the interesting frames are the ones *before* the hub's request
arrived (the person reaching the door). So every camera keeps a short rolling buffer, the
last stage of its pipeline (:class:`edge.pipeline.CameraPipeline` hands it each processed
frame), and :mod:`edge.verification` reads it when the hub asks.

Memory is bounded three ways: at most ``fps`` frames a second are kept (others are not
touched), each is shrunk to ``width`` pixels and JPEG-compressed at ``quality``, and frames
older than ``seconds`` are dropped. The defaults (10 s x 4 frames/s, 480 px, quality 70)
keep ~40 JPEGs of 15-30 KB: about 1 MB a camera (``bench/verification.py`` prints the
figure on the committed footage), against ~33 MB for the same frames raw at 768x576.

Frames are stored as the processor left them: privacy masks already painted black (the
processor masks in place before anything else). Faces are *not* blurred here — that costs a
face-detector run per frame — but when evidence is built from them, by the same filter as
alert snapshots. With each frame go the people of the last detector run (for the face and
head blur) and the best *confirmed* person track seen since the previous kept frame (the
verdict "a person was seen": the same tracks the rules act on, so one noisy detection does
not verify an alarm).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from edge.detections import Detections
from edge.processor import ProcessedFrame


@dataclass(frozen=True, eq=False)
class BufferedFrame:
    """One kept frame: its JPEG and what was known about people on it."""

    at: float  # the buffer's clock (monotonic seconds) when it was kept
    jpeg: bytes  # privacy-masked, shrunk; faces NOT yet blurred
    people: Detections  # person boxes of the last detector run, in this JPEG's pixels
    confirmed: Detections  # of those, the confirmed person tracks (boxed on the snapshot)
    person_score: float  # best confirmed person track since the previous kept frame; 0: none


class PreEventBuffer:
    """A camera's last ``seconds`` at ``fps``. :meth:`record` on the process thread,
    :meth:`window` from any thread."""

    def __init__(
        self,
        seconds: float = 10.0,
        fps: float = 4.0,
        width: int = 480,
        quality: int = 70,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds, self.fps, self.width, self.quality = seconds, fps, width, quality
        self.clock = clock
        self._frames: deque[BufferedFrame] = deque()
        self._lock = threading.Lock()
        self._last_kept: float | None = None
        self._people = Detections.empty()  # frame pixels, from the last detector run
        self._confirmed = Detections.empty()
        self._score = 0.0  # best confirmed person since the last kept frame

    def record(self, result: ProcessedFrame) -> None:
        """Remember ``result`` if one is due (at most ``fps`` a second)."""
        if result.detected:
            self._people = result.detections[result.detections.label == "person"]
            confident = result.confident[result.confident.label == "person"]
            self._confirmed = confident
            if len(confident):
                self._score = max(self._score, float(confident.score.max()))
        now = self.clock()
        if self._last_kept is not None and now - self._last_kept < 1.0 / self.fps:
            return
        self._last_kept = now
        image = result.frame.image
        scale = min(1.0, self.width / image.shape[1])
        if scale < 1.0:
            size = (self.width, round(image.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            return
        people, confirmed = _scaled(self._people, scale), _scaled(self._confirmed, scale)
        kept = BufferedFrame(now, jpeg.tobytes(), people, confirmed, self._score)
        self._score = 0.0
        with self._lock:
            self._frames.append(kept)
            while self._frames and now - self._frames[0].at > self.seconds:
                self._frames.popleft()

    def window(self, start: float, end: float) -> list[BufferedFrame]:
        """Kept frames with ``start <= at <= end`` (buffer clock), oldest first."""
        with self._lock:
            return [f for f in self._frames if start <= f.at <= end]

    def newest(self) -> float | None:
        """When the newest frame was kept (buffer clock), or None while empty."""
        with self._lock:
            return self._frames[-1].at if self._frames else None

    def nbytes(self) -> int:
        """The JPEG bytes held now (the buffer's memory, less small per-frame overhead)."""
        with self._lock:
            return sum(len(f.jpeg) for f in self._frames)

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)


def _scaled(found: Detections, scale: float) -> Detections:
    return Detections(found.xyxy * np.float32(scale), found.score, found.label, found.track_id)
