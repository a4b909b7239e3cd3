"""``FaceWatch``: the face stage, right after tracking, and only where the law allows it.

**Off unless three things hold**, checked in this order on every detector run:

1. the site enables it (``watchlists.faces.enabled``); otherwise :func:`build_face_watch`
   returns None, the stage does not exist and no face model is ever loaded;
2. the camera has ``signage_confirmed: true`` (people are told);
3. :meth:`edge.watchlist.WatchlistHolder.faces_for` returns at least one entry for this camera
   now: an authorisation covering the camera (scope), in its time window and not expired,
   judged on this gateway's clock, with unexpired entries under it.

When 2 or 3 fails the stage returns at once without touching the image or a model, and counts
why in :attr:`FaceWatch.stats` (``not_run_no_signage``, ``not_run_no_authorisation``), so a
test can prove the model never ran (:attr:`FaceDescriber.invocations` stays 0).

**What it does when allowed.** For each confirmed ``person`` track, at most every
:data:`RETRY_S` and at most :data:`MAX_LOOKS_PER_S` looks per second on the camera, it runs
CenterFace on the upper part of the person's box. The best face at least
:data:`~contract.face_descriptor.MIN_FACE_PX` wide is embedded with the shared
:class:`~contract.face_descriptor.FaceDescriber` and compared with the allowed entries, at
most :data:`MAX_EMBEDDINGS` times per track: the frames of one track are alike, so more looks
at a face that matched nothing ten times mostly cost CPU (a person who leaves and comes back
is a new track and gets new looks).
A best similarity at or above ``faces.match_threshold`` gives one hit per (track, entry): kind
``watchlist_face``, severity major, a neutral message, **no objects**, a
:class:`~contract.protocol.WatchlistHit` (entry, score, authorisation), and as its snapshot
the face crop **not blurred** (:attr:`RuleHit.image`) — the only unblurred image the system
sends, because two officers must compare it with the enrolment before anything happens.

**A face that matches nobody leaves no trace.** Its embedding lives in a local variable for
the few microseconds of the comparison and is dropped; it is never stored on the track,
logged, counted by value or sent. Only the counts of faces seen and compared are kept.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from contract.face_descriptor import MIN_FACE_PX, MIN_FACE_SCORE, FaceDescriber
from contract.protocol import Severity, WatchlistHit
from contract.siteconfig import Camera
from contract.watchlist import FACE_KIND
from contract.watchlist_settings import FaceSettings
from edge.detections import Detections
from edge.rules.base import RuleHit
from edge.track_stages import NOTHING, StageResult
from edge.watchlist import WatchlistHolder

#: Seconds between two looks at one person (the next frames show the same face).
RETRY_S = 0.5
#: Faces of one track embedded and compared before the stage stops looking at it.
MAX_EMBEDDINGS = 10
#: Looks (face searches) per second of event time on one camera, whatever the crowd.
MAX_LOOKS_PER_S = 4.0
#: A track unseen this long (event time) is forgotten, with the entries it matched.
FORGET_S = 60.0
#: Alert ``zone`` of the stage's hits.
RULE_NAME = "faces"
#: The part of a person box searched for the face: from a little above its top to this
#: fraction of its height (a close-up's face sits lower than a standing figure's).
HEAD_SEARCH = 0.7
#: The head crop is searched at most this many pixels on its longer side.
SEARCH_SIDE = 320
#: The crop sent with a match: the face box enlarged by this factor (hair, chin, ears).
CROP_ENLARGE = 1.8
MESSAGE = "possible face watchlist match: to be verified by two officers"


@dataclass
class _Track:
    seen: float
    embedded: int = 0
    last_try: float = -math.inf
    matched: set[str] = field(default_factory=set)


def build_face_watch(
    camera: Camera,
    settings: FaceSettings,
    watchlist: WatchlistHolder,
    describer: Callable[[], FaceDescriber],
) -> FaceWatch | None:
    """The camera's face stage, or None when the site has face recognition off.

    ``describer`` is called only when the stage is built (the gateway passes one that returns
    its single shared, loaded :class:`FaceDescriber`), so with ``enabled: false`` no face
    model is constructed, let alone loaded."""
    if not settings.enabled:
        return None
    return FaceWatch(camera, settings, watchlist, describer())


class FaceWatch:
    """One camera's face stage. Call :meth:`process` on each detector run, in time order."""

    def __init__(
        self,
        camera: Camera,
        settings: FaceSettings,
        watchlist: WatchlistHolder,
        describer: FaceDescriber,
    ) -> None:
        if not settings.enabled:
            raise ValueError("face recognition is off (watchlists.faces.enabled: false)")
        self.camera = camera
        self.settings = settings
        self.watchlist = watchlist
        self.describer = describer
        self._tracks: dict[int, _Track] = {}
        self._last_look = -math.inf
        self._last_ts = -math.inf
        #: The allowed entries' ids and their unit embeddings: decoded once per list, not
        #: per frame (base64 and a norm of 1024 floats per entry, every detector run).
        self._vectors: tuple[tuple[str, ...], np.ndarray] = ((), np.empty((0, 0), np.float32))
        #: Why the stage did or did not run, frame by frame; faces seen, compared, matched.
        self.stats: Counter[str] = Counter()

    def process(self, image: np.ndarray, tracked: Detections, ts: float) -> StageResult:
        """Look for listed faces among ``tracked`` (confirmed tracks) on ``image`` at ``ts``."""
        if not self.camera.signage_confirmed:
            self.stats["not_run_no_signage"] += 1
            return NOTHING
        allowed = self.watchlist.faces_for(self.camera.name, self.camera.area)
        if not allowed:
            self.stats["not_run_no_authorisation"] += 1
            self._tracks.clear()
            return NOTHING
        people = tracked[(tracked.label == "person") & (tracked.track_id >= 0)]
        if ts < self._last_ts:  # a new timeline (a file looped): every track is new
            self._tracks.clear()
        self._last_ts = ts
        self._forget(ts)
        if not len(people):
            self.stats["not_run_no_people"] += 1
            return NOTHING
        self.stats["runs"] += 1
        vectors = self._enrolled(allowed)
        when = datetime.fromtimestamp(ts, UTC)
        hits: list[RuleHit] = []
        for i in range(len(people)):
            tid = int(people.track_id[i])
            track = self._tracks.setdefault(tid, _Track(ts))
            track.seen = ts
            if not self._due(track, ts):
                continue
            hits += self._look(image, people.xyxy[i], track, allowed, vectors, when)
        return StageResult(hits)

    def _enrolled(self, allowed: list) -> np.ndarray:
        """Unit embeddings of ``allowed``, one row each, cached while the entries stay."""
        ids = tuple(face.id for face, _ in allowed)
        if ids != self._vectors[0]:
            vectors = np.stack([face.vector() for face, _ in allowed])
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            self._vectors = (ids, vectors)
        return self._vectors[1]

    def _due(self, track: _Track, ts: float) -> bool:
        if track.embedded >= MAX_EMBEDDINGS or ts - track.last_try < RETRY_S:
            return False
        return ts - self._last_look >= 1.0 / MAX_LOOKS_PER_S

    def _forget(self, ts: float) -> None:
        """Drop tracks unseen for :data:`FORGET_S` (not at once: a track the tracker misses
        for a run and then finds again must not raise its match a second time)."""
        for tid in [t for t, track in self._tracks.items() if track.seen < ts - FORGET_S]:
            del self._tracks[tid]

    def _look(self, image, person, track: _Track, allowed, vectors, when) -> list[RuleHit]:
        """Find, embed and compare the face of one person; the embedding dies here."""
        track.last_try = self._last_look = track.seen
        face = self._find_face(image, person)
        if face is None:
            return []
        track.embedded += 1
        self.stats["faces_compared"] += 1
        scores = np.clip(vectors @ self.describer.embed(image, face), 0.0, 1.0)
        best = int(np.argmax(scores))
        score = float(scores[best])
        if score < self.settings.match_threshold:
            return []  # no match: the embedding (a temporary above) is already gone
        entry, authorisation = allowed[best]
        if entry.id in track.matched:
            return []
        track.matched.add(entry.id)
        self.stats["matches"] += 1
        hit = WatchlistHit(
            list="face", entry_id=entry.id, score=round(score, 3), authorisation=authorisation.id
        )
        return [
            RuleHit(
                FACE_KIND,
                RULE_NAME,
                Severity.MAJOR,
                when,
                Detections.empty(),
                MESSAGE,
                watchlist=hit,
                image=match_crop(image, face),
            )
        ]

    def _find_face(self, image: np.ndarray, person: np.ndarray) -> np.ndarray | None:
        """The best face (x1, y1, x2, y2 in ``image`` pixels) in the upper part of a person
        box, or None when there is none wide enough to recognise."""
        h_img, w_img = image.shape[:2]
        x1, y1, x2, y2 = (float(v) for v in person)
        bh = y2 - y1
        cx1, cy1 = max(0, math.floor(x1)), max(0, math.floor(y1 - 0.1 * bh))
        cx2, cy2 = min(w_img, math.ceil(x2)), min(h_img, math.ceil(y1 + HEAD_SEARCH * bh))
        if cx2 - cx1 < MIN_FACE_PX or cy2 - cy1 < MIN_FACE_PX:
            self.stats["people_too_small"] += 1
            return None
        crop = image[cy1:cy2, cx1:cx2]
        scale = min(1.0, SEARCH_SIDE / max(crop.shape[:2]))
        faces = self.describer.detector.detect(crop, scale, MIN_FACE_SCORE)
        faces = faces[(faces[:, 2] - faces[:, 0]) >= MIN_FACE_PX]
        if not len(faces):
            self.stats["no_face"] += 1
            return None
        self.stats["faces_found"] += 1
        return faces[0, :4] + np.float32([cx1, cy1, cx1, cy1])


def match_crop(image: np.ndarray, face: np.ndarray) -> np.ndarray:
    """The face of a match, enlarged by :data:`CROP_ENLARGE`, clipped to the image (a copy)."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in face)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = CROP_ENLARGE * max(x2 - x1, y2 - y1) / 2
    left, top = max(0, math.floor(cx - half)), max(0, math.floor(cy - half))
    right, bottom = min(w, math.ceil(cx + half)), min(h, math.ceil(cy + half))
    return image[top:bottom, left:right].copy()
