"""What every detector shares: the ``Detector`` interface, model files, the session (on
onnxruntime or OpenVINO, :mod:`edge.detectors.sessions`) and the post-processing of raw
boxes (per-label scores, clipping, NMS).

A detector reports, per label, the rows scoring at least that label's ``min_score``
(:class:`contract.detect_settings.ObjectFilter`). Asked for ``low_score``, it also reports
weaker rows down to that score: the tracker uses them only to continue tracks it already has
(ByteTrack's second stage), never to start one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from contract.detect_settings import DetectSettings
from contract.models import models_dir
from edge.detections import Detections
from edge.detectors.sessions import Session, SessionPool, open_session

Region = tuple[float, float, float, float]

MODEL_FILES = {
    "centernet": "centernet_mobilenetv3_coco.onnx",
    "ssdlite": "ssdlite_mobilenetv2_person.onnx",
}


def model_path(name: str = "centernet", precision: str = "fp32") -> Path:
    """The model file of ``name`` at ``precision``: int8 files sit beside the fp32 ones as
    ``<stem>.int8.onnx`` (``models/build_models.py quantize``)."""
    file = MODEL_FILES[name]
    if precision == "int8":
        file = file.removesuffix(".onnx") + ".int8.onnx"
    return models_dir() / file


class Detector(Protocol):
    """Anything that finds objects in a BGR frame."""

    #: ``centernet`` or ``ssdlite``: selects the model's score defaults.
    model: str
    #: The labels it can report.
    labels: tuple[str, ...]
    #: Side of the square the model looks at; regions smaller than this are not worth cropping.
    input_size: int
    #: Milliseconds the last :meth:`detect` call spent in the network (all regions).
    last_inference_ms: float

    def detect(
        self,
        image: np.ndarray,
        regions: Sequence[Region] | None = None,
        *,
        low_score: float | None = None,
    ) -> Detections:
        """Objects in ``image`` (whole frame when ``regions`` is None), boxes in frame pixels."""
        ...


class ScoreFloor:
    """Per-label minimum scores of one camera under one model."""

    def __init__(self, settings: DetectSettings, model: str, labels: Sequence[str]) -> None:
        self.min_score = {lab: float(settings.filter_for(lab, model).min_score) for lab in labels}
        self.lowest = min(self.min_score.values())

    def floor(self, low_score: float | None) -> float:
        """The lowest score worth any per-row work when ``low_score`` rows are wanted too."""
        return self.lowest if low_score is None else min(self.lowest, low_score)

    def keep(self, found: Detections, low_score: float | None) -> Detections:
        """Rows reaching their label's ``min_score`` (or ``low_score``, when lower)."""
        if not len(found):
            return found
        need = np.array([self.min_score.get(lab, 1.0) for lab in found.label], dtype=np.float32)
        if low_score is not None:
            need = np.minimum(need, np.float32(low_score))
        return found[found.score >= need]


class OnnxDetector:
    """What every ONNX detector sets up the same way: settings, model file (``detect.precision``),
    session (``detect.backend``), NMS thresholds and score floors. Subclasses set ``model`` and
    ``labels``."""

    model: str
    labels: tuple[str, ...]

    def __init__(
        self,
        settings: DetectSettings | None = None,
        path: Path | None = None,
        *,
        label_iou: float = 0.4,
        cross_label_iou: float = 0.7,
        sessions: SessionPool | None = None,
    ) -> None:
        """``sessions``: the gateway's pool, so cameras on the same model share one session
        (by default this detector opens its own)."""
        self.settings = settings or DetectSettings()
        self.path = Path(path) if path else model_path(self.model, self.settings.precision)
        self._session: Session = (
            sessions.get(self.path, self.settings)
            if sessions is not None
            else open_session(self.path, self.settings)
        )
        #: ``onnxruntime`` or ``openvino``: where this detector's network runs.
        self.backend = self._session.backend
        self._input_name = self._session.input_name
        self.label_iou = label_iou
        self.cross_label_iou = cross_label_iou
        self.last_inference_ms = 0.0
        self.scores = ScoreFloor(self.settings, self.model, self.labels)
        self._setup()

    def _setup(self) -> None:
        """Model-specific set-up once the session exists (output names, label maps)."""

    def detect(
        self,
        image: np.ndarray,
        regions: Sequence[Region] | None = None,
        *,
        low_score: float | None = None,
    ) -> Detections:
        """Objects in ``image`` (whole frame when ``regions`` is None), boxes in frame pixels,
        scored at least the label's floor (or ``low_score`` for the tracker's second stage)."""
        h, w = image.shape[:2]
        regions = list(regions) if regions else [(0.0, 0.0, float(w), float(h))]
        found = self._infer(image, regions, self.scores.floor(low_score))
        found = self.scores.keep(found, low_score)
        return finish(found, (w, h), self.label_iou, self.cross_label_iou)

    def _infer(self, image: np.ndarray, regions: list[Region], floor: float) -> Detections:
        """Run the network on the regions; set ``last_inference_ms``. Per model."""
        raise NotImplementedError


def finish(
    found: Detections,
    frame_size: tuple[int, int],
    label_iou: float,
    cross_label_iou: float,
) -> Detections:
    """Clip to the frame, then NMS per label and (looser) across labels; highest score first.

    Weak rows never suppress strong ones (NMS goes by score), so asking a detector for
    ``low_score`` rows leaves its strong rows exactly as they were.
    """
    w, h = frame_size
    found = found.clipped(w, h).nms(label_iou, per_label=True)
    return found.nms(cross_label_iou, per_label=False)
