"""Object detectors: the ``Detector`` interface and CenterNet-MobileNetV3 on onnxruntime.

The model (``models/centernet_mobilenetv3_coco.onnx``, converted from the npm package
@vladmandic/human 3.3.6 by ``models/build_models.py``; see its provenance JSON) takes one
512x512 RGB image, float32 0..255, NHWC, and returns 100 rows ``x1, y1, x2, y2, score, class``
with boxes in *input* pixels and 0-based COCO-80 classes (0 = person). We keep only the six
labels a village cares about and apply per-label NMS, as @vladmandic/human does, then a
looser cross-label NMS (a van is sometimes both "car" and "truck").

A detector looks either at the whole frame or at a few square *regions* around motion
(:func:`edge.motion.detection_regions`); region boxes are mapped back to frame pixels.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from contract.siteconfig import DetectSettings
from edge.detections import Detections

#: COCO-80 class ids (0-based, as the model emits them) of the labels we report.
COCO_IDS = {"person": 0, "bicycle": 1, "car": 2, "motorcycle": 3, "bus": 5, "truck": 7}
DEFAULT_MIN_SCORE = 0.45
MODEL_FILES = {"centernet": "centernet_mobilenetv3_coco.onnx"}
_PAD_GREY = (114, 114, 114)

Region = tuple[float, float, float, float]


def models_dir() -> Path:
    """Where model files live: ``$VILLAGEWATCH_MODELS`` or the repository's ``models/``."""
    env = os.environ.get("VILLAGEWATCH_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "models"


def model_path(name: str = "centernet") -> Path:
    return models_dir() / MODEL_FILES[name]


class Detector(Protocol):
    """Anything that finds objects in a BGR frame."""

    #: Side of the square the model looks at; regions smaller than this are not worth cropping.
    input_size: int
    #: Milliseconds the last :meth:`detect` call spent in the network (all regions).
    last_inference_ms: float

    def detect(self, image: np.ndarray, regions: Sequence[Region] | None = None) -> Detections:
        """Objects in ``image`` (whole frame when ``regions`` is None), boxes in frame pixels."""
        ...


class CenterNetDetector:
    """CenterNet MobileNetV3 (COCO) through onnxruntime on the CPU."""

    def __init__(
        self,
        settings: DetectSettings | None = None,
        path: Path | None = None,
        *,
        label_iou: float = 0.4,
        cross_label_iou: float = 0.7,
    ) -> None:
        import onnxruntime as ort  # imported here so the other edge modules load without it

        self.settings = settings or DetectSettings()
        self.path = Path(path) if path else model_path(self.settings.model)
        if not self.path.is_file():
            raise FileNotFoundError(
                f"detector model not found: {self.path} (build it with models/build_models.py "
                "or set VILLAGEWATCH_MODELS to the folder holding it)"
            )
        so = ort.SessionOptions()
        # Fixed threads and sequential execution: predictable latency on a 2-core gateway and
        # identical results between runs (replays are deterministic).
        so.intra_op_num_threads = self.settings.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(self.path), sess_options=so, providers=["CPUExecutionProvider"]
        )
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        self.input_size = int(inp.shape[1])
        self._output_name = next(
            o.name for o in self._session.get_outputs() if "detections" in o.name
        )
        self.label_iou = label_iou
        self.cross_label_iou = cross_label_iou
        self.last_inference_ms = 0.0
        self._class_to_label = {cid: label for label, cid in COCO_IDS.items()}
        # Rows below every label's minimum can be dropped before any per-row Python work.
        self._floor = min([*self.settings.min_score.values(), DEFAULT_MIN_SCORE])

    def _blob(self, crop: np.ndarray) -> tuple[np.ndarray, float]:
        """The network input for a crop, and the factor from input pixels back to crop pixels.

        Non-square crops are padded (right/bottom, grey) to a square first: keeping people's
        aspect ratio finds ~5% more of them on 4:3 footage than stretching does, at no cost.
        """
        h, w = crop.shape[:2]
        side = max(h, w)
        if h != w:
            crop = cv2.copyMakeBorder(
                crop, 0, side - h, 0, side - w, cv2.BORDER_CONSTANT, value=_PAD_GREY
            )
        s = self.input_size
        interp = cv2.INTER_AREA if side > s else cv2.INTER_LINEAR
        resized = cv2.resize(crop, (s, s), interpolation=interp)
        blob = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32)[None]
        return blob, side / s

    def _run(self, image: np.ndarray, region: Region) -> Detections:
        x1, y1, x2, y2 = (round(v) for v in region)
        crop = image[y1:y2, x1:x2]
        if crop.size == 0:
            return Detections.empty()
        blob, scale = self._blob(crop)
        rows = self._session.run([self._output_name], {self._input_name: blob})[0][0]
        classes = rows[:, 5].astype(np.int64)
        keep = np.isin(classes, list(self._class_to_label)) & (rows[:, 4] >= self._floor)
        rows, classes = rows[keep], classes[keep]
        boxes = rows[:, :4] * scale + np.array([x1, y1, x1, y1], dtype=np.float32)
        labels = [self._class_to_label[int(c)] for c in classes]
        return Detections.from_arrays(boxes, rows[:, 4], labels)

    def detect(self, image: np.ndarray, regions: Sequence[Region] | None = None) -> Detections:
        h, w = image.shape[:2]
        regions = list(regions) if regions else [(0.0, 0.0, float(w), float(h))]
        t0 = time.perf_counter()
        found = Detections.concat([self._run(image, r) for r in regions])
        self.last_inference_ms = (time.perf_counter() - t0) * 1000.0
        found = found.above_scores(self.settings.min_score, DEFAULT_MIN_SCORE)
        found = found.clipped(w, h).nms(self.label_iou, per_label=True)
        return found.nms(self.cross_label_iou, per_label=False)
