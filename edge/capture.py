"""``FrameSource``: frames from a video file or a network camera, through OpenCV.

A camera on a village pole drops off the network, reboots at night and sometimes just stops
sending. The source therefore never gives up on a stream: when a read fails (the camera closed
the connection, or no frame came within the read timeout ``stall_s``) it closes the capture and
reopens it with exponential backoff, forever, until told to stop. A camera that refuses the
username or password is different: that never fixes itself, and many cameras lock the account
after a few failed logins, so the source says so plainly (naming the camera, never the
password) and waits much longer between tries (``auth_backoff_s``, doubling).
Files are different again: they end. A file either stops there, or (``loop=True``, for demos)
starts again from frame 0.

RTSP transport (``Camera.rtsp_transport``): OpenCV's FFmpeg backend takes its options from one
process-wide environment variable, ``OPENCV_FFMPEG_CAPTURE_OPTIONS``, read when a capture
opens. Cameras on different transports therefore open one transport at a time
(:class:`_TransportGate`); cameras on the same transport open side by side.

Every frame comes out as a :class:`Frame` with its index *exactly as OpenCV reads the file*
(0, 1, 2, ...), so replay output lines up with any other tool that numbers frames the same way.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from edge.rtsp_probe import NOT_FOUND, UNAUTHORIZED, describe_status

if TYPE_CHECKING:
    from contract.siteconfig import Camera

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


class StreamAuthError(ConnectionError):
    """The camera refused the username or password (RTSP 401)."""


def is_stream(source: str | Path) -> bool:
    """True for ``rtsp://``, ``http://`` ... URLs; False for file paths."""
    return bool(_URL_RE.match(str(source)))


Transport = Literal["tcp", "udp"]


class FrameSource:
    """Iterate :meth:`frames` to read a file or a stream; set the ``stop`` event to end it.

    ``stall_s`` is the read timeout of a stream: a camera that sends nothing for that long is
    reconnected. ``open_timeout_s`` bounds an open, which takes longer than a frame: FFmpeg
    reads a second or two of video to learn the stream (about 2.7 s at 10 fps). Between
    attempts the source waits ``min_backoff_s``, doubling up to ``max_backoff_s``; after a
    refused login ``auth_backoff_s``, doubling up to ``max_auth_backoff_s``. ``name`` (the
    camera's) goes into every log line. ``wait`` is how the source waits between attempts
    (``wait(stop, seconds)``, True when stopped); tests pass one that records the waits
    instead of sleeping.
    """

    def __init__(
        self,
        source: str | Path,
        *,
        realtime: bool = True,
        loop: bool = False,
        stall_s: float = 10.0,
        open_timeout_s: float = 10.0,
        min_backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        auth_backoff_s: float = 60.0,
        max_auth_backoff_s: float = 900.0,
        start_time: float | None = None,
        rtsp_transport: Transport = "tcp",
        name: str | None = None,
        wait: Callable[[threading.Event, float], bool] | None = None,
    ) -> None:
        self.source = str(source)
        self.stream = is_stream(source)
        self.realtime = realtime
        self.loop = loop
        self.stall_s = stall_s
        self.open_timeout_s = open_timeout_s
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.auth_backoff_s = auth_backoff_s
        self.max_auth_backoff_s = max_auth_backoff_s
        self.start_time = start_time
        self.rtsp_transport: Transport = rtsp_transport
        self.name = name
        self._wait = wait or (lambda stop, seconds: stop.wait(seconds))
        #: Frames per second the source declares (None before the first open or if unknown).
        self.fps: float | None = None
        self.connected = False
        self.reconnects = 0
        #: Why the stream is not delivering, for status pages (None while it is).
        self.last_error: str | None = None
        #: Frames a source declares in total (files only; None for streams).
        self.frame_count: int | None = None

    @classmethod
    def for_camera(cls, camera: Camera, source: str) -> FrameSource:
        """The source of a configured camera (``source`` already resolved to a path/URL)."""
        return cls(
            source,
            realtime=camera.realtime,
            loop=camera.loop,
            rtsp_transport=camera.rtsp_transport,
            name=camera.name,
        )

    def __repr__(self) -> str:
        # Never print credentials embedded in an rtsp URL.
        return f"FrameSource({_redact(self.source)!r})"

    @property
    def _label(self) -> str:
        where = _redact(self.source)
        return f"camera {self.name} ({where})" if self.name else where

    # --- opening --------------------------------------------------------------------------

    def _open(self) -> cv2.VideoCapture:
        if self.stream:
            cap = self._open_stream()
        else:
            if not Path(self.source).is_file():
                raise SourceError(f"video file not found: {self.source}")
            cap = cv2.VideoCapture(self.source)
            if not cap.isOpened():
                cap.release()
                raise SourceError(f"OpenCV cannot decode {self.source} (not a video?)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        # Streams often report 0 or nonsense like 90000; treat those as unknown.
        self.fps = float(fps) if 0 < fps <= 240 else None
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if not self.stream and count > 0 else None
        return cap

    def _open_stream(self) -> cv2.VideoCapture:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(self.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.stall_s * 1000),
        ]
        rtsp = self.source.lower().startswith("rtsp")
        with _GATE.opening(self.rtsp_transport if rtsp else None):
            cap = cv2.VideoCapture(self.source, cv2.CAP_FFMPEG, params)
        if cap.isOpened():
            return cap
        cap.release()
        status = (
            describe_status(self.source, timeout=min(self.open_timeout_s, 5.0)) if rtsp else None
        )
        if status == UNAUTHORIZED:
            raise StreamAuthError(
                f"{self._label} refused the username or password (RTSP 401 Unauthorized); "
                "check the credentials in the camera's source URL"
            )
        if status == NOT_FOUND:
            raise ConnectionError(f"{self._label} has no stream at that path (RTSP 404)")
        raise ConnectionError(f"cannot open stream of {self._label}")

    # --- iteration ------------------------------------------------------------------------

    def frames(
        self, stop: threading.Event | None = None, wanted: Callable[[], bool] | None = None
    ) -> Iterator[Frame]:
        """Yield frames until the file ends (not looping) or ``stop`` is set.

        Streams reconnect forever; a missing or undecodable *file* raises :class:`SourceError`.
        With ``wanted``, every frame is still read off the wire and decoded (a stream's
        decoder needs each one), but only those read while ``wanted()`` is true are converted
        to BGR and yielded: a main stream kept for snapshots pays for the conversion of a
        1080p frame only when a snapshot asks for one (:class:`~edge.main_stream.MainStream`).
        """
        stop = stop or threading.Event()
        if self.stream:
            yield from self._stream_frames(stop, wanted)
        else:
            yield from self._file_frames(stop, wanted)

    def _file_frames(
        self, stop: threading.Event, wanted: Callable[[], bool] | None
    ) -> Iterator[Frame]:
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
                    ok, image = _read(cap, wanted)
                    if not ok:
                        break
                    if image is None:  # grabbed, not wanted
                        index += 1
                        continue
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

    def _stream_frames(
        self, stop: threading.Event, wanted: Callable[[], bool] | None
    ) -> Iterator[Frame]:
        backoff = self.min_backoff_s
        auth_backoff = self.auth_backoff_s
        while not stop.is_set():
            try:
                cap = self._open()
            except ConnectionError as exc:
                self.connected, self.last_error = False, str(exc)
                self.reconnects += 1
                if isinstance(exc, StreamAuthError):
                    # Retrying soon cannot help and may lock the camera's account: wait long.
                    log.error("%s; next try in %.0f s", exc, auth_backoff)
                    self._wait(stop, auth_backoff)
                    auth_backoff = min(auth_backoff * 2, self.max_auth_backoff_s)
                else:
                    log.warning("%s; retrying in %.0f s", exc, backoff)
                    self._wait(stop, backoff)
                    backoff = min(backoff * 2, self.max_backoff_s)
                continue
            auth_backoff = self.auth_backoff_s  # the credentials were accepted
            index = 0
            try:
                while not stop.is_set():
                    ok, image = _read(cap, wanted)
                    if not ok:
                        # The camera closed the connection, or nothing came within the read
                        # timeout (stall_s): a dead capture never recovers, so reconnect.
                        self.last_error = f"{self._label} stopped sending"
                        log.warning("%s; reconnecting", self.last_error)
                        break
                    self.connected, self.last_error = True, None
                    backoff = self.min_backoff_s
                    if image is None:  # grabbed, not wanted
                        index += 1
                        continue
                    yield Frame(index, time.time(), image, restarted=index == 0)
                    index += 1
            finally:
                cap.release()
                self.connected = False
            self.reconnects += 1
            self._wait(stop, backoff)
            backoff = min(backoff * 2, self.max_backoff_s)


def _read(
    cap: cv2.VideoCapture, wanted: Callable[[], bool] | None
) -> tuple[bool, np.ndarray | None]:
    """``cap.read()``; with ``wanted``, the BGR image only when ``wanted()`` (else None: the
    frame was grabbed, which decodes it, but not converted). False when no frame came."""
    if wanted is None:
        ok, image = cap.read()
        return ok and image is not None, image
    if not cap.grab():
        return False, None
    if not wanted():
        return True, None
    ok, image = cap.retrieve()
    return ok and image is not None, image


class _TransportGate:
    """Lets captures open side by side while they want the same RTSP transport.

    ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` is one variable for the whole process, read by OpenCV
    when a capture opens, so it must not change while another capture is opening. Opens that
    want the current transport go ahead at once, unless one for the other transport is
    waiting: then new ones queue behind it, so that neither transport can starve the other.
    Other options a user put in the variable (e.g. ``hwaccel;vaapi``) are kept.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._transport: str | None = None
        self._opening = 0
        self._waiting: dict[str, int] = {}  # transport → opens waiting for it
        base = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS", "")
        keep = [
            o for o in base.split("|") if o and not o.startswith(("rtsp_transport;", "rtsp_flags;"))
        ]
        self._base = "|".join(keep)

    @contextmanager
    def opening(self, transport: str | None) -> Iterator[None]:
        """Hold while a capture opens; ``transport`` None: not RTSP, no constraint."""
        if transport is None:
            yield
            return
        with self._cond:
            self._waiting[transport] = self._waiting.get(transport, 0) + 1
            while self._opening and (self._transport != transport or self._other_waits()):
                self._cond.wait()
            self._waiting[transport] -= 1
            if self._transport != transport:
                options = "|".join(o for o in (self._base, f"rtsp_transport;{transport}") if o)
                os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = options
                self._transport = transport
            self._opening += 1
        try:
            yield
        finally:
            with self._cond:
                self._opening -= 1
                self._cond.notify_all()

    @property
    def waiting(self) -> int:
        """Opens waiting for their turn (for tests and status pages)."""
        with self._cond:
            return sum(self._waiting.values())

    def _other_waits(self) -> bool:
        return any(n for t, n in self._waiting.items() if t != self._transport)


_GATE = _TransportGate()


def _redact(source: str) -> str:
    """``rtsp://user:pass@host/x`` → ``rtsp://***@host/x``."""
    return re.sub(r"(://)[^/@]*@", r"\1***@", source)
