"""``ObjectFilters``: drop detections no rule should ever see, whatever they scored.

Per label (``detect.filters.<label>``): boxes too small or too large for the frame (a person
filling the whole frame is an insect on the lens), of the wrong shape (a "person" twice as
wide as tall is a bench), or standing in a mask. ``detect.object_masks`` apply to every
label. A detection is *in* a mask when its feet (box bottom centre) are — the same point the
zone rules use, so a statue on the lawn can be masked without masking the lawn around it.

Scores are not judged here: per-label ``min_score`` is the detector's and the tracker's job,
``threshold`` (the median over a track) the processor's.
"""

from __future__ import annotations

import cv2
import numpy as np

from contract.detect_settings import DetectSettings, ObjectFilter
from edge.detections import Detections


def _mask_pixels(polygons: list, size: tuple[int, int]) -> np.ndarray | None:
    """Boolean [H, W]: inside any polygon (frame fractions); None when there are none."""
    if not polygons:
        return None
    w, h = size
    mask = np.zeros((h, w), dtype=np.uint8)
    scale = np.array([w, h], dtype=np.float64) * 16  # 1/16-px precision (shift=4)
    pts = [np.round(np.asarray(p, np.float64) * scale).astype(np.int32) for p in polygons]
    cv2.fillPoly(mask, [p.reshape(-1, 1, 2) for p in pts], 255, cv2.LINE_8, shift=4)
    return mask > 0


class ObjectFilters:
    """The filters of one camera under one model. Call :meth:`apply` on each detector run."""

    def __init__(self, settings: DetectSettings, model: str) -> None:
        self.settings = settings
        self.model = model
        self._filters: dict[str, ObjectFilter] = {}
        self._masks: dict[tuple[str, tuple[int, int]], np.ndarray | None] = {}

    def filter_for(self, label: str) -> ObjectFilter:
        """``label``'s filter with the model's score defaults filled in."""
        if label not in self._filters:
            self._filters[label] = self.settings.filter_for(label, self.model)
        return self._filters[label]

    def _mask(self, label: str, size: tuple[int, int]) -> np.ndarray | None:
        key = (label, size)
        if key not in self._masks:
            polygons = list(self.settings.object_masks) + list(self.filter_for(label).masks)
            self._masks[key] = _mask_pixels(polygons, size)
        return self._masks[key]

    def apply(self, detections: Detections, frame_size: tuple[int, int]) -> Detections:
        """The rows that pass their label's area, shape and mask filters."""
        n = len(detections)
        if n == 0:
            return detections
        w, h = frame_size
        xyxy = detections.xyxy
        bw = np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None)
        bh = np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)
        area = bw * bh / float(w * h)
        ratio = bw / np.maximum(bh, 1e-6)
        feet = detections.feet
        fx = np.clip(feet[:, 0].astype(np.int64), 0, w - 1)
        fy = np.clip(feet[:, 1].astype(np.int64), 0, h - 1)
        keep = np.ones(n, dtype=bool)
        for label in np.unique(detections.label):
            rows = detections.label == label
            f = self.filter_for(str(label))
            ok = (area >= f.min_area) & (area <= f.max_area)
            ok &= (ratio >= f.min_ratio) & (ratio <= f.max_ratio)
            mask = self._mask(str(label), (w, h))
            if mask is not None:
                ok &= ~mask[fy, fx]
            keep &= ~rows | ok
        return detections if keep.all() else detections[keep]
