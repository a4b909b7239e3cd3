"""``Detections``: the one value object every stage after the detector passes along.

Like supervision's ``sv.Detections`` it is a bundle of parallel numpy arrays, one row per
object, so filtering is a boolean mask and never a Python loop::

    people = detections[detections.label == "person"]

Boxes are ``x1, y1, x2, y2`` in pixels of the full camera frame. ``track_id`` is -1 until the
tracker gives an object an identity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from contract.protocol import DetectedObject

NO_TRACK = -1


def _f32(a: object, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).reshape(shape)


@dataclass(frozen=True, eq=False)
class Detections:
    """N detected objects. All arrays have length N; build with :meth:`from_arrays`."""

    xyxy: np.ndarray  # float32 [N, 4]
    score: np.ndarray  # float32 [N]
    label: np.ndarray  # str [N], e.g. "person"
    track_id: np.ndarray  # int64 [N], -1 = not tracked

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if not (len(self.score) == len(self.label) == len(self.track_id) == n):
            raise ValueError("Detections arrays must all have the same length")

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def from_arrays(
        cls,
        xyxy: object,
        score: object,
        label: Iterable[str],
        track_id: object | None = None,
    ) -> Detections:
        boxes = _f32(xyxy, (-1, 4))
        n = len(boxes)
        labels = np.asarray(list(label), dtype=object).reshape(n)
        tracks = (
            np.full(n, NO_TRACK, dtype=np.int64)
            if track_id is None
            else np.asarray(track_id, dtype=np.int64).reshape(n)
        )
        return cls(boxes, _f32(score, (n,)), labels, tracks)

    @classmethod
    def empty(cls) -> Detections:
        return cls.from_arrays(np.zeros((0, 4)), [], [])

    @classmethod
    def concat(cls, parts: Iterable[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.label for p in parts]),
            np.concatenate([p.track_id for p in parts]),
        )

    # --- access ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: object) -> Detections:
        """A subset by boolean mask, index array or slice (always returns Detections)."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        return Detections(
            self.xyxy[index], self.score[index], self.label[index], self.track_id[index]
        )

    @property
    def feet(self) -> np.ndarray:
        """[N, 2] bottom-centre of each box: where a person stands on the ground."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    @property
    def area(self) -> np.ndarray:
        w = np.clip(self.xyxy[:, 2] - self.xyxy[:, 0], 0, None)
        h = np.clip(self.xyxy[:, 3] - self.xyxy[:, 1], 0, None)
        return w * h

    def with_track_ids(self, track_id: object) -> Detections:
        return Detections(
            self.xyxy,
            self.score,
            self.label,
            np.asarray(track_id, dtype=np.int64).reshape(len(self)),
        )

    # --- filtering ------------------------------------------------------------------------

    def with_labels(self, labels: Iterable[str]) -> Detections:
        return self[np.isin(self.label, list(labels))]

    def clipped(self, width: int, height: int) -> Detections:
        """Boxes clipped to the frame; boxes left with no area are dropped."""
        xyxy = self.xyxy.copy()
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
        out = Detections(xyxy, self.score, self.label, self.track_id)
        return out[out.area > 0]

    def nms(self, iou: float, per_label: bool = True) -> Detections:
        """Non-maximum suppression; the result is sorted by score, highest first."""
        if len(self) == 0:
            return self
        keep: list[int] = []
        groups = np.unique(self.label) if per_label else [None]
        for group in groups:
            idx = np.flatnonzero(self.label == group) if per_label else np.arange(len(self))
            xywh = [
                [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]
                for b in self.xyxy[idx]
            ]
            kept = cv2.dnn.NMSBoxes(xywh, self.score[idx].tolist(), 0.0, iou)
            keep.extend(int(idx[k]) for k in np.asarray(kept).reshape(-1))
        keep.sort(key=lambda i: (-float(self.score[i]), i))
        return self[np.asarray(keep, dtype=np.int64)]

    # --- output ---------------------------------------------------------------------------

    def to_objects(self) -> list[DetectedObject]:
        """The wire form (``contract.protocol.DetectedObject``), boxes rounded to 0.1 px."""
        return [
            DetectedObject(
                label=str(lab),
                score=round(float(s), 3),
                box=tuple(round(float(v), 1) for v in box),  # type: ignore[arg-type]
                track_id=int(t) if t >= 0 else None,
            )
            for box, s, lab, t in zip(self.xyxy, self.score, self.label, self.track_id, strict=True)
        ]

    def to_json(self) -> list[dict]:
        """Plain dicts for JSONL files: label, score, box, track_id (None when untracked)."""
        return [o.model_dump() for o in self.to_objects()]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of two box arrays [N,4] and [M,4] → [N,M]."""
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)
