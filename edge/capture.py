"""``FrameSource``: frames from a video file or a network camera, through OpenCV.

A camera on a village pole drops off the network, reboots at night and sometimes just stops
sending. The source therefore never gives up on a stream: when a read fails or no frame has
arrived for ``stall_s`` seconds it closes the capture and reopens it with exponential backoff,
forever, until told to stop. Files are different: they end. A file either stops there, or
(``loop=True``, for demos) starts again from frame 0.

Every frame comes out as a :class:`Frame` with its index *exactly as OpenCV reads the file*
(0, 1, 2, ...), so replay output lines up with any other tool that numbers frames the same way.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

_URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame.

    ``index`` counts from 0 at the start of the file (again after a loop) or of a stream
    connection. ``timestamp`` is the event time in Unix seconds: the wall clock for live and
    paced sources, ``start_time + media time`` for an unpaced file (replays are deterministic).
    ``restarted`` marks the first frame after an open, loop or reconnect: the history of the
    stages after this one (motion background, tracks) no longer applies.
    """

    index: int
    timestamp: float
    image: np.ndarray
    restarted: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.shape[1], self.image.shape[0]


class SourceError(RuntimeError):
    """A file source that cannot be read at all (missing, not a video)."""


def is_stream(source: str | Path) -> bool:
    """True for ``rtsp://``, ``http://`` ... URLs; False for file paths."""
    return bool(_URL_RE.match(str(source)))


class FrameSource:
    """Iterate :meth:`frames` to read a file or a stream; set the ``stop`` event to end it."""

    def __init__(
        self,
        source: str | Path,
        *,
        realtime: bool = True,
        loop: bool = False,
        stall_s: float = 10.0,
        min_backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        start_time: float | None = None,
    ) -> None:
        self.source = str(source)
        self.stream = is_stream(source)
        self.realtime = realtime
        self.loop = loop
        self.stall_s = stall_s
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.start_time = start_time
        #: Frames per second the source declares (None before the first open or if unknown).
        self.fps: float | None = None
        self.connected = False
        self.reconnects = 0
        #: Frames a source declares in total (files only; None for streams).
        self.frame_count: int | None = None

    def __repr__(self) -> str:
        # Never print credentials embedded in an rtsp URL.
        return f"FrameSource({_redact(self.source)!r})"

    # --- opening --------------------------------------------------------------------------

    def _open(self) -> cv2.VideoCapture:
        if self.stream:
            ms = int(self.stall_s * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
            cap = cv2.VideoCapture(self.source, cv2.CAP_FFMPEG, params)
        else:
            if not Path(self.source).is_file():
                raise SourceError(f"video file not found: {self.source}")
            cap = cv2.VideoCapture(self.source)
        if not cap.isOpened():
            cap.release()
            if self.stream:
                raise ConnectionError(f"cannot open stream {_redact(self.source)}")
            raise SourceError(f"OpenCV cannot decode {self.source} (not a video?)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        # Streams often report 0 or nonsense like 90000; treat those as unknown.
        self.fps = float(fps) if 0 < fps <= 240 else None
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if not self.stream and count > 0 else None
        return cap

    # --- iteration ------------------------------------------------------------------------

    def frames(self, stop: threading.Event | None = None) -> Iterator[Frame]:
        """Yield frames until the file ends (not looping) or ``stop`` is set.

        Streams reconnect forever; a missing or undecodable *file* raises :class:`SourceError`.
        """
        stop = stop or threading.Event()
        if self.stream:
            yield from self._stream_frames(stop)
        else:
            yield from self._file_frames(stop)

    def _file_frames(self, stop: threading.Event) -> Iterator[Frame]:
        start = self.start_time if self.start_time is not None else time.time()
        media_offset = 0.0  # media seconds of the loops already played
        first = True
        while not stop.is_set():
            cap = self._open()
            fps = self.fps or 25.0
            self.connected = True
            t0 = time.monotonic()
            index = 0
            try:
                while not stop.is_set():
                    if self.realtime:
                        # Pace at the file's own rate, as a camera would deliver it.
                        delay = t0 + index / fps - time.monotonic()
                        if delay > 0 and stop.wait(delay):
                            return
                    ok, image = cap.read()
                    if not ok or image is None:
                        break
                    ts = time.time() if self.realtime else start + media_offset + index / fps
                    yield Frame(index, ts, image, restarted=first or index == 0)
                    first = False
                    index += 1
            finally:
                cap.release()
            if not self.loop:
                return
            if index == 0:
                raise SourceError(f"{self.source} has no frames")
            media_offset += index / fps

    def _stream_frames(self, stop: threading.Event) -> Iterator[Frame]:
        backoff = self.min_backoff_s
        while not stop.is_set():
            try:
                cap = self._open()
            except ConnectionError as exc:
                self.connected = False
                log.warning("%s; retrying in %.0f s", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                self.reconnects += 1
                continue
            index = 0
            last_frame = time.monotonic()
            try:
                while not stop.is_set():
                    ok, image = cap.read()
                    now = time.monotonic()
                    if not ok or image is None:
                        # The read timeout already waited; a few empty reads in a row mean the
                        # stream stalled: reconnect instead of spinning on a dead capture.
                        if now - last_frame >= self.stall_s:
                            log.warning(
                                "%s stalled (no frame for %.0f s); reconnecting",
                                _redact(self.source),
                                now - last_frame,
                            )
                            break
                        stop.wait(0.05)
                        continue
                    last_frame = now
                    self.connected = True
                    backoff = self.min_backoff_s
                    yield Frame(index, time.time(), image, restarted=index == 0)
                    index += 1
            finally:
                cap.release()
                self.connected = False
            self.reconnects += 1
            stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)


def _redact(source: str) -> str:
    """``rtsp://user:pass@host/x`` → ``rtsp://***@host/x``."""
    return re.sub(r"(://)[^/@]*@", r"\1***@", source)
