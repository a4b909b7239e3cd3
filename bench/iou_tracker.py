"""``IouTracker``: the first tracker of the pipeline, kept as the baseline ``bench/tracker.py``
compares :class:`edge.bytetrack.ByteTracker` with.

Hungarian IoU matching, one label at a time, with a smoothed velocity so an object hidden for
a few detector runs is looked for where it walked to. Same interface as the ByteTracker:
``update(detections) -> Detections`` with ``track_id`` filled in, ``reset()``,
``active_boxes``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge.detections import NO_TRACK, Detections, box_iou


@dataclass
class Track:
    id: int
    box: np.ndarray
    label: str
    hits: int = 1
    misses: int = 0
    velocity: np.ndarray | None = None  # box change per detector run (smoothed)

    def predicted(self) -> np.ndarray:
        """Where the box should be now, assuming the object kept its pace while unseen."""
        if self.velocity is None:
            return self.box
        return self.box + self.velocity * (self.misses + 1)

    def matched(self, box: np.ndarray) -> None:
        step = (box - self.box) / (self.misses + 1)
        self.velocity = step if self.velocity is None else 0.5 * self.velocity + 0.5 * step
        self.box = box.copy()
        self.hits += 1
        self.misses = 0


class IouTracker:
    """Hungarian IoU matching, one label at a time (a person never becomes a car).

    A track is *confirmed* after ``min_hits`` matches and forgotten after ``max_age``
    detector runs without a match.
    """

    def __init__(self, iou_threshold: float = 0.3, max_age: int = 10, min_hits: int = 2) -> None:
        self.iou_threshold = iou_threshold
        self.max_age = max_age
        self.min_hits = min_hits
        self._tracks: list[Track] = []
        self._next_id = 1

    def reset(self) -> None:
        """Forget every track (the scene jumped: a file looped or a stream reconnected)."""
        self._tracks.clear()

    @property
    def active_boxes(self) -> np.ndarray:
        """[N,4] last boxes of confirmed tracks: where the detector should keep looking."""
        boxes = [t.box for t in self._tracks if t.hits >= self.min_hits]
        return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)

    def update(self, detections: Detections, searched: np.ndarray | None = None) -> Detections:
        """Match ``detections`` to tracks; unconfirmed objects keep ``track_id = -1``.

        ``searched`` ([N,4] boxes) says where the detector looked when it ran on regions only:
        a track whose centre lies outside them was not seen because nobody looked, so it does
        not age.
        """
        ids = np.full(len(detections), NO_TRACK, dtype=np.int64)
        matched_tracks: set[int] = set()
        for label in np.unique(detections.label) if len(detections) else []:
            det_idx = np.flatnonzero(detections.label == label)
            tr_idx = [i for i, t in enumerate(self._tracks) if t.label == label]
            pairs: list[tuple[int, int]] = []
            if tr_idx:
                predicted = np.stack([self._tracks[i].predicted() for i in tr_idx])
                iou = box_iou(detections.xyxy[det_idx], predicted)
                rows, cols = linear_sum_assignment(-iou)
                pairs = [
                    (r, c)
                    for r, c in zip(rows, cols, strict=True)
                    if iou[r, c] >= self.iou_threshold
                ]
            paired_dets = set()
            for r, c in pairs:
                track = self._tracks[tr_idx[c]]
                track.matched(detections.xyxy[det_idx[r]])
                matched_tracks.add(track.id)
                paired_dets.add(r)
                if track.hits >= self.min_hits:
                    ids[det_idx[r]] = track.id
            for r in range(len(det_idx)):
                if r in paired_dets:
                    continue
                track = Track(self._next_id, detections.xyxy[det_idx[r]].copy(), str(label))
                self._next_id += 1
                self._tracks.append(track)
                matched_tracks.add(track.id)
                if self.min_hits <= 1:
                    ids[det_idx[r]] = track.id
        for track in self._tracks:
            if track.id not in matched_tracks and _looked_at(track.box, searched):
                track.misses += 1
        # Tentative tracks (likely false positives) die after one miss; confirmed ones linger.
        self._tracks = [
            t for t in self._tracks if t.misses <= (self.max_age if t.hits >= self.min_hits else 1)
        ]
        return detections.with_track_ids(ids)


def _looked_at(box: np.ndarray, searched: np.ndarray | None) -> bool:
    if searched is None or len(searched) == 0:
        return True
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    s = np.asarray(searched).reshape(-1, 4)
    return bool(np.any((s[:, 0] <= cx) & (cx <= s[:, 2]) & (s[:, 1] <= cy) & (cy <= s[:, 3])))
