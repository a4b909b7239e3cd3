"""``FrameProcessor``: one camera's stages, frame by frame — motion → detect → track → rules.

Both the live :class:`edge.pipeline.CameraPipeline` and :func:`edge.replay.replay` drive this
same class, so what a replay shows is what the gateway would have done. It holds no thread
and does no I/O: it takes a :class:`~edge.capture.Frame` and returns what happened.

When does the detector run? Only when both hold:

* the motion gate saw something move (or motion gating is off, ``gate_motion=False``), and
* at least ``1 / detect.fps`` seconds of *event time* have passed since the last run (or the
  cap is off, ``cap_fps=False``). Event time, not wall clock, so a replay is deterministic.

It looks at square regions around the motion when those are small next to the frame, else
at the whole frame (:func:`edge.motion.detection_regions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from contract.protocol import Alert, DetectedObject
from contract.siteconfig import Camera
from edge.capture import Frame
from edge.detections import Detections
from edge.detector import Detector
from edge.motion import MotionGate, MotionResult, detection_regions
from edge.rules import RuleHit, ZoneIntrusion
from edge.tracker import IouTracker

#: Tracks not refreshed by any detector run for this long are forgotten (the scene was
#: static meanwhile; whoever moves next is treated as new).
TRACK_EXPIRY_S = 60.0
_MAX_ALERT_OBJECTS = 64


@dataclass(frozen=True, eq=False)
class ProcessedFrame:
    """What the stages made of one frame."""

    frame: Frame
    motion: MotionResult | None  # None when motion gating is off
    detected: bool  # did the detector run on this frame?
    detections: Detections  # tracked objects (empty when the detector did not run)
    hits: list[RuleHit] = field(default_factory=list)
    inference_ms: float = 0.0
    regions: list[tuple[float, float, float, float]] = field(default_factory=list)


class FrameProcessor:
    """The per-camera chain of stages. Feed it frames in order with :meth:`process`."""

    def __init__(
        self,
        camera: Camera,
        detector: Detector,
        timezone: str = "UTC",
        *,
        gate_motion: bool = True,
        cap_fps: bool = True,
        tracker: IouTracker | None = None,
    ) -> None:
        self.camera = camera
        self.detector = detector
        self.timezone = timezone
        self.gate_motion = gate_motion
        self.cap_fps = cap_fps
        self.motion = MotionGate(camera.motion)
        self.tracker = tracker or IouTracker()
        self.rules: list[ZoneIntrusion] = []
        self._frame_size: tuple[int, int] | None = None
        self._last_detect: float | None = None

    def _prepare(self, frame: Frame) -> None:
        if frame.restarted:
            self.motion.reset()
            self.tracker.reset()
            self._last_detect = None
        if frame.size != self._frame_size:
            # Zones are frame fractions: convert them to pixels once per frame size.
            self._frame_size = frame.size
            self.rules = [ZoneIntrusion(z, frame.size, self.timezone) for z in self.camera.zones]
            self.tracker.reset()

    def _detect_due(self, ts: float) -> bool:
        if not self.cap_fps or self._last_detect is None:
            return True
        # A millisecond of slack so 10 fps footage with a 5 fps cap runs on every 2nd frame.
        return ts - self._last_detect >= 1.0 / self.camera.detect.fps - 1e-3

    def process(self, frame: Frame) -> ProcessedFrame:
        self._prepare(frame)
        motion = self.motion.detect(frame.image) if self.gate_motion else None
        if motion is not None and not motion.has_motion:
            return ProcessedFrame(frame, motion, False, Detections.empty())
        if not self._detect_due(frame.timestamp):
            return ProcessedFrame(frame, motion, False, Detections.empty())

        if self._last_detect is not None and frame.timestamp - self._last_detect > TRACK_EXPIRY_S:
            self.tracker.reset()
        regions = (
            detection_regions(motion.boxes, frame.size, min_side=self.detector.input_size)
            if motion is not None
            else [(0.0, 0.0, float(frame.size[0]), float(frame.size[1]))]
        )
        found = self.detector.detect(frame.image, regions)
        self._last_detect = frame.timestamp
        tracked = self.tracker.update(found, np.asarray(regions, dtype=np.float32))
        when = datetime.fromtimestamp(frame.timestamp, UTC)
        hits = [hit for rule in self.rules for hit in rule.evaluate(tracked, when)]
        return ProcessedFrame(
            frame, motion, True, tracked, hits, self.detector.last_inference_ms, regions
        )

    def zone_polygon(self, rule_name: str) -> np.ndarray | None:
        """Pixel polygon of a rule (for drawing it on the snapshot)."""
        return next((r.polygon for r in self.rules if r.name == rule_name), None)


def build_alert(
    hit: RuleHit,
    *,
    alert_id: str,
    seq: int,
    site: str,
    node: str,
    camera: Camera,
    frame_size: tuple[int, int],
    has_snapshot: bool,
) -> Alert:
    """The wire :class:`~contract.protocol.Alert` for a rule hit on ``camera``."""
    objects: list[DetectedObject] = hit.objects.to_objects()[:_MAX_ALERT_OBJECTS]
    return Alert(
        id=alert_id,
        site=site,
        node=node,
        seq=seq,
        ts=hit.when,
        kind=hit.kind,
        severity=hit.severity,
        area=camera.area,
        zone=hit.rule,
        camera=camera.name,
        message=f"{hit.message} (camera {camera.name})"[:280],
        objects=objects,
        frame_size=frame_size,
        has_snapshot=has_snapshot,
    )
