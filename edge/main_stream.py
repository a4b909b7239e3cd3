"""``MainStream``: a camera's main (high-resolution) stream, kept for snapshots only.

Real cameras send two streams (Frigate's camera *roles*): a main stream (1080p or more) and
a substream (e.g. 640x360). A camera with ``detect_source`` set runs motion, detection and
tracking on the substream, which is cheap to decode and to look at, and takes alert
snapshots from the main stream, where a face or a plate has enough pixels. This class reads
the main stream on its own thread and keeps only its newest frame; :meth:`MainStream.view`
maps an alert's boxes and zone outline from substream pixels to main-stream pixels.

Both streams come from the same camera at the same moment, so the newest main frame is the
alert's moment give or take a frame or two. If the main stream is down, or its newest frame
is older than ``max_age_s`` against the alerting frame, the snapshot falls back to the
substream frame: an alert is never held back for want of a better picture.

A live main stream is read *on demand*: its thread reads and decodes every frame (the
decoder needs each one) but converts one to a BGR image only when a snapshot asks for it,
and the snapshot waits for that next frame (at most ``frame_wait_s``; one frame interval,
40 ms at 25 fps, while the stream is up). Converting every 1080p frame cost ~40% of the main
stream's reading (1.6 of 3.9 ms a frame, mp4v), for frames nobody looks at. An unpaced file
(a replay) converts every frame, so the last one is there when the file ends.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

import numpy as np

from contract.siteconfig import Camera
from edge.capture import Frame, FrameSource, SourceError
from edge.detections import Detections

log = logging.getLogger(__name__)


def scaled(found: Detections, sx: float, sy: float) -> Detections:
    """``found`` with its boxes scaled by ``sx`` (x) and ``sy`` (y)."""
    factors = np.array([sx, sy, sx, sy], dtype=np.float32)
    return dataclasses.replace(found, xyxy=found.xyxy * factors)


class MainStream:
    """The newest frame of a camera's main stream, read on its own thread."""

    def __init__(
        self,
        camera: Camera,
        source: str,
        *,
        retry_s: float = 10.0,
        max_age_s: float = 1.0,
        frame_wait_s: float = 0.25,
    ) -> None:
        self.camera = camera
        self.source = FrameSource.for_camera(camera, source)
        self.retry_s = retry_s
        self.max_age_s = max_age_s
        self.frame_wait_s = frame_wait_s
        #: Live sources convert frames only when asked (see the module docstring).
        self.on_demand = self.source.stream or self.source.realtime
        self.frames_read = 0  # frames converted to images
        self.frames_grabbed = 0  # frames read and decoded, on demand
        self._latest: Frame | None = None  # replaced whole: readers need no lock
        self._wanted = threading.Event()  # a snapshot waits for the next frame
        self._fresh = threading.Event()  # ... which is now in _latest
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        name = f"vw-{self.camera.name}-main"
        self._thread = threading.Thread(target=self._read, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                wanted = self._count_grab if self.on_demand else None
                for frame in self.source.frames(self._stop, wanted):
                    self._latest = frame
                    self.frames_read += 1
                    self._wanted.clear()
                    self._fresh.set()
                if not self.camera.loop and not self.source.stream:
                    return  # a file played to its end: keep its last frame
            except SourceError as exc:
                log.error("camera %s main stream: %s; retrying", self.camera.name, exc)
            except Exception:
                log.exception("camera %s: main stream failed; retrying", self.camera.name)
            self._latest = None
            self._stop.wait(self.retry_s)

    def view(
        self,
        detected: Frame,
        objects: Detections,
        people: Detections,
        outline: np.ndarray | None,
    ) -> tuple[np.ndarray, Detections, Detections, np.ndarray | None] | None:
        """The main-stream image for an alert seen on ``detected`` (a substream frame), with
        ``objects``, ``people`` and ``outline`` scaled to it; None when there is no main
        frame close enough in time (the caller uses the substream frame)."""
        main = self._next_frame()
        if main is None or abs(main.timestamp - detected.timestamp) > self.max_age_s:
            return None
        (w, h), (dw, dh) = main.size, detected.size
        sx, sy = w / dw, h / dh
        if outline is not None:
            outline = np.asarray(outline, dtype=np.float32).reshape(-1, 2) * np.float32([sx, sy])
        return main.image, scaled(objects, sx, sy), scaled(people, sx, sy), outline

    def _count_grab(self) -> bool:
        self.frames_grabbed += 1
        return self._wanted.is_set()

    def _next_frame(self) -> Frame | None:
        """On demand: the next frame the stream delivers (the newest one if none comes within
        ``frame_wait_s``); otherwise the newest frame read."""
        running = self._thread is not None and self._thread.is_alive()
        if self.on_demand and running and self.source.connected:
            self._fresh.clear()
            self._wanted.set()
            self._fresh.wait(self.frame_wait_s)
        return self._latest
