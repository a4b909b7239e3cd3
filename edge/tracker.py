"""Trackers give each object a stable ``track_id`` from one detector run to the next.

Rules need identities — "this person already raised an alert" — not just boxes.

:class:`CameraTracker` is what the pipeline uses: one :class:`~edge.bytetrack.ByteTracker`
per object group (people; bicycles; motorcycles; cars, trucks and buses together, which
detectors confuse), each with the thresholds of its label's filter
(:class:`contract.detect_settings.ObjectFilter`):

* a detection scoring ``min_score`` or more leads a track (ByteTrack's first stage), and
  starts a new one when it scores ``START_MARGIN`` (0.1) more, as in ByteTrack; weaker ones
  down to ``low_score`` (0.1) only continue a track that exists (its second stage: a
  half-hidden person scores low and keeps their track). On the full vtest.avi the margin
  cuts CenterNet's tracks from 30 to 29 and SSDLite's from 70 to 65;
* :meth:`CameraTracker.confident` keeps the rows of confirmed tracks whose *median* score
  over their life reaches the label's ``threshold``: what rules may see.

Ids are unique across groups and never reused: 1, 2, 3 ... in order of confirmation.

:class:`IouTracker`, the first tracker (Hungarian IoU matching with a smoothed velocity), is
kept as the baseline ``bench/tracker.py`` compares with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from contract.detect_settings import ObjectFilter
from edge.bytetrack import DEFAULT_SAME_OBJECT, ByteTracker, TrackInfo
from edge.detections import NO_TRACK, Detections, box_iou

#: Detections weaker than this are noise even for continuing a track.
LOW_SCORE = 0.1
#: A new track needs this much more than ``min_score`` (ByteTrack's ``track_thresh + 0.1``).
START_MARGIN = 0.1


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


class CameraTracker:
    """Per-group ByteTrackers of one camera behind one ``ByteTracker``-like interface.

    ``filter_for(label)`` gives each label's filter with its scores filled in
    (:meth:`edge.detectors.ObjectFilters.filter_for`). ``options`` go to every ByteTracker.
    """

    def __init__(
        self,
        filter_for: Callable[[str], ObjectFilter],
        *,
        low_score: float = LOW_SCORE,
        same_object: tuple[tuple[str, ...], ...] = DEFAULT_SAME_OBJECT,
        **options: object,
    ) -> None:
        self.filter_for = filter_for
        self.low_score = low_score
        self.options = options
        self._group_of = {lab: min(g) for g in same_object for lab in g}
        self._members = {min(g): tuple(g) for g in same_object}
        self._trackers: dict[str, ByteTracker] = {}
        self._public: dict[tuple[str, int], int] = {}  # (group, tracker id) -> public id
        self._next_id = 1
        # The confirmed tracks as of the last update: building them costs a median per
        # track, so it is done once per update rather than per question.
        self._tracks: list[TrackInfo] = []

    def _group(self, label: str) -> str:
        return self._group_of.get(label, label)

    def _tracker(self, group: str) -> ByteTracker:
        if group not in self._trackers:
            labels = self._members.get(group, (group,))
            start = min(float(self.filter_for(lab).min_score or 0.0) for lab in labels)
            self._trackers[group] = ByteTracker(
                track_thresh=start,
                new_track_thresh=min(1.0, start + START_MARGIN),
                low_thresh=min(self.low_score, start),
                same_object=[labels],
                **self.options,  # type: ignore[arg-type]
            )
        return self._trackers[group]

    def _public_id(self, group: str, local: int) -> int:
        key = (group, local)
        if key not in self._public:
            self._public[key] = self._next_id
            self._next_id += 1
        return self._public[key]

    # --- the ByteTracker interface --------------------------------------------------------

    def reset(self) -> None:
        """Forget every track (the scene jumped). Ids keep counting up, never reused."""
        for tracker in self._trackers.values():
            tracker.reset()
        self._public.clear()
        self._tracks = []

    @property
    def active_boxes(self) -> np.ndarray:
        boxes = [t.active_boxes for t in self._trackers.values()]
        return np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)

    def update(
        self,
        detections: Detections,
        searched: np.ndarray | None = None,
        timestamp: float | None = None,
    ) -> Detections:
        """Track one detector run (see :meth:`ByteTracker.update`). Every group's tracker
        is updated, with no rows when none of its labels was seen, so its tracks age."""
        groups = np.array([self._group(str(lab)) for lab in detections.label], dtype=object)
        for group in sorted(set(groups.tolist())):
            self._tracker(group)
        parts = []
        tracks: list[TrackInfo] = []
        for group in sorted(self._trackers):
            rows = detections[groups == group] if len(detections) else detections
            out = self._trackers[group].update(rows, searched, timestamp)
            ids = [
                self._public_id(group, int(i)) if i != NO_TRACK else NO_TRACK for i in out.track_id
            ]
            parts.append(out.with_track_ids(ids))
            alive = self._trackers[group].tracks()
            for info in alive:
                public = self._public_id(group, info.track_id)
                tracks.append(dataclasses.replace(info, track_id=public))
            alive_ids = {t.track_id for t in alive}
            for key in [k for k in self._public if k[0] == group and k[1] not in alive_ids]:
                del self._public[key]
        self._tracks = sorted(tracks, key=lambda t: t.track_id)
        return Detections.concat(parts)

    def tracks(self) -> list[TrackInfo]:
        """Every confirmed track alive after the last update, with public ids, in order."""
        return list(self._tracks)

    def track_info(self, track_id: int) -> TrackInfo | None:
        return next((t for t in self.tracks() if t.track_id == track_id), None)

    def median_scores(self, detections: Detections) -> np.ndarray:
        """float32 [N]: each row's track's median score over its life; NaN if untracked."""
        medians = {t.track_id: t.median_score for t in self.tracks()}
        return np.array(
            [medians.get(int(i), np.nan) for i in detections.track_id], dtype=np.float32
        ).reshape(len(detections))

    def confident(self, detections: Detections) -> Detections:
        """The rows of confirmed tracks whose median score reaches their label's
        ``threshold``: what the rules may see."""
        if not len(detections):
            return detections
        need = np.array(
            [float(self.filter_for(str(lab)).threshold or 0.0) for lab in detections.label],
            dtype=np.float32,
        )
        medians = np.nan_to_num(self.median_scores(detections), nan=-1.0)
        return detections[(detections.track_id >= 0) & (medians >= need)]
