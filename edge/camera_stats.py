"""``PipelineStats``: Frigate's per-camera figures (camera, process, detect and skipped fps,
inference time, motion share), counted by a camera's pipeline threads and sent in the
gateway's :class:`~contract.protocol.NodeStats`; with them, :func:`ring_counts`: the
camera's crowd ring occupancies, which the hub adds up across cameras for an event's rings
(hub/events_security/)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime

from contract.event_settings import ring_key
from contract.protocol import CameraStats
from edge.processor import ProcessedFrame
from edge.rules.crowd import CrowdRings


def ring_counts(rules: Iterable[object]) -> tuple[dict[str, int], datetime | None]:
    """People per crowd ring on the last detector frame, keyed ``rule/ring``, and that
    frame's time (the latest over the camera's crowd rules; None before the first).

    Read from the stats thread while the pipeline thread writes: each count is one int
    assignment, so a report may mix two consecutive frames, never a torn number."""
    counts: dict[str, int] = {}
    latest: datetime | None = None
    for rule in list(rules):
        if not isinstance(rule, CrowdRings) or rule.measured_at is None:
            continue
        counts.update({ring_key(rule.name, r.name): r.occupancy for r in rule.rings})
        latest = rule.measured_at if latest is None else max(latest, rule.measured_at)
    return counts, latest


class _Rate:
    """Events per second over a sliding window (of ``clock``, monotonic by default)."""

    def __init__(self, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self._times: deque[float] = deque()
        self._started = clock()

    def tick(self) -> None:
        self._times.append(self.clock())

    def rate(self) -> float:
        now = self.clock()
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()
        span = min(self.window_s, max(now - self._started, 1e-3))
        return len(self._times) / span


class PipelineStats:
    """Frigate-style counters of one camera; :meth:`snapshot` gives the wire form.

    ``detect_fps_target`` is the camera's configured ``detect.fps``, reported beside the
    achieved ``detect_fps`` so an overloaded gateway shows (tests inject ``clock``)."""

    def __init__(
        self,
        detect_fps_target: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self.detect_fps_target = detect_fps_target
        self.camera = _Rate(clock=clock)
        self.process = _Rate(clock=clock)
        self.detect = _Rate(clock=clock)
        self.skipped = _Rate(clock=clock)
        self.skipped_frames = 0
        self._inference: deque[float] = deque(maxlen=50)
        self._motion: deque[bool] = deque(maxlen=100)
        self.connected = False

    def frame_read(self) -> None:
        with self._lock:
            self.camera.tick()

    def frame_skipped(self) -> None:
        with self._lock:
            self.skipped.tick()
            self.skipped_frames += 1

    def frame_processed(self, result: ProcessedFrame) -> None:
        with self._lock:
            self.process.tick()
            if result.motion is not None:
                self._motion.append(result.motion.has_motion)
            if result.detected:
                self.detect.tick()
                self._inference.append(result.inference_ms)

    def snapshot(
        self, rings: dict[str, int] | None = None, rings_at: datetime | None = None
    ) -> CameraStats:
        """The wire form; ``rings``/``rings_at`` from :func:`ring_counts`."""
        with self._lock:
            inf = sum(self._inference) / len(self._inference) if self._inference else 0.0
            motion = sum(self._motion) / len(self._motion) if self._motion else 0.0
            return CameraStats(
                camera_fps=round(self.camera.rate(), 2),
                process_fps=round(self.process.rate(), 2),
                detect_fps=round(self.detect.rate(), 2),
                detect_fps_target=self.detect_fps_target,
                skipped_fps=round(self.skipped.rate(), 2),
                skipped_frames=self.skipped_frames,
                inference_ms=round(inf, 1),
                motion_ratio=round(motion, 3),
                connected=self.connected,
                rings=rings or {},
                rings_at=rings_at,
            )
