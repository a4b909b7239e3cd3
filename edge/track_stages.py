"""Stages after tracking: they look at a frame's confirmed tracks and may add hits.

The plate reader (:class:`edge.plates.PlateReader`) and the face watch
(:class:`edge.face_watch.FaceWatch`) are such stages. :class:`~edge.processor.FrameProcessor`
runs the ones a camera has, in order, after the tracker and beside the rules; a new stage is
one class with :meth:`TrackStage.process` and one line where the gateway builds a camera's
stages (:mod:`edge.agent`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from edge.detections import Detections
from edge.rules.base import RuleHit


@dataclass(frozen=True)
class StageResult:
    """What a stage made of one frame: hits (alerts to raise) and, for vehicles, the best
    plate read of each live track (it goes into the alerts' objects)."""

    hits: list[RuleHit] = field(default_factory=list)
    plates: dict[int, str] = field(default_factory=dict)


NOTHING = StageResult()


class TrackStage(Protocol):
    def process(self, image: np.ndarray, tracked: Detections, ts: float) -> StageResult:
        """Look at ``tracked`` (confirmed tracks) on ``image`` at event time ``ts``; frames
        come in time order (an earlier ``ts`` is a new timeline)."""
