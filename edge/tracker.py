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

The first tracker, ``IouTracker`` (Hungarian IoU matching with a smoothed velocity), lives on
in ``bench/iou_tracker.py`` as the baseline ``bench/tracker.py`` compares with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from contract.detect_settings import ObjectFilter
from edge.bytetrack import DEFAULT_SAME_OBJECT, ByteTracker, TrackInfo
from edge.detections import NO_TRACK, Detections

#: Detections weaker than this are noise even for continuing a track.
LOW_SCORE = 0.1
#: A new track needs this much more than ``min_score`` (ByteTrack's ``track_thresh + 0.1``).
START_MARGIN = 0.1


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
