"""``PlateReader``: the plate stage, right after tracking, on cameras with ``plates: true``.

For each confirmed vehicle track (:data:`VEHICLE_LABELS`) it tries to read the plate once the
track is close enough (box at least ``watchlists.plates.min_box_height`` px high) and the
plate area sharp enough (variance of the Laplacian at least ``min_sharpness``: a car in
motion blur gives a confident wrong read). Each track gets at most ``max_attempts`` OCR runs,
:data:`RETRY_S` apart, and the camera at most ``max_reads_per_s`` runs per second of event
time, so a car park full of cars costs no more than one car at a time.

It keeps the **best read per track**: the most confident plate-shaped text
(:func:`contract.plates.looks_like_plate`) at or above ``min_confidence``. Each new best read is
matched against the gateway's watchlist (:meth:`edge.watchlist.WatchlistHolder.plates`, which
leaves out expired entries) with :func:`contract.plates.best_match`, and so is every live
track's best read when a new list arrives; a match gives one hit of kind ``watchlist_plate``
per (track, entry), severity major, carrying a :class:`~contract.protocol.WatchlistHit`.
Every alert whose objects include a vehicle track carries that track's best read in
``DetectedObject.plate`` (:attr:`PlateResult.reads`).

A read that matches nothing is kept nowhere but in this stage's memory of live tracks (and in
the objects of alerts raised meanwhile): it is forgotten with the track and never logged.
Only if the site states a purpose for a plate log (``watchlists.plates.logging``) does each
track's final best read leave as an alert of kind ``plate_read`` (severity info, no
snapshot), when the track has not been seen for :data:`LINGER_S`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import cv2
import numpy as np

from contract.plates import PLATE_READ_KIND, best_match
from contract.protocol import Severity, WatchlistHit
from contract.siteconfig import Camera
from contract.watchlist import PLATE_KIND
from contract.watchlist_settings import PlateSettings
from edge.detections import Detections
from edge.detectors import VEHICLE_LABELS
from edge.plate_ocr import PlateOCR, TextRead
from edge.rules.base import RuleHit
from edge.track_stages import StageResult
from edge.watchlist import WatchlistHolder

#: Seconds between two OCR runs on one track (the next frames look alike).
RETRY_S = 0.5
#: A track unseen this long (event time) is finished: its final read is logged, if logging.
LINGER_S = 10.0
#: The plate sits in the lower part of a vehicle box, seen from front or back.
PLATE_AREA_TOP = 0.45
#: The sharpness measure looks at the plate area scaled to this width.
SHARPNESS_WIDTH = 160
#: Alert ``zone`` of the stage's hits.
RULE_NAME = "plates"


@dataclass
class _Track:
    seen: float
    row: Detections
    attempts: int = 0
    last_try: float = -math.inf
    best: TextRead | None = None
    matched: set[str] = field(default_factory=set)


def plate_area(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The lower part of a vehicle box (a view, clipped to the image)."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    top = y1 + (y2 - y1) * PLATE_AREA_TOP
    pad = (x2 - x1) * 0.05
    return image[
        max(0, int(top)) : min(h, math.ceil(y2 + pad)),
        max(0, int(x1 - pad)) : min(w, math.ceil(x2 + pad)),
    ]


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of ``crop`` scaled to :data:`SHARPNESS_WIDTH` px wide: edges
    of characters give high values, motion or focus blur low ones."""
    if crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    scale = SHARPNESS_WIDTH / grey.shape[1]
    grey = cv2.resize(grey, (SHARPNESS_WIDTH, max(1, round(grey.shape[0] * scale))))
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


class PlateReader:
    """One camera's plate stage. Call :meth:`process` on each detector run, in time order."""

    def __init__(
        self,
        camera: Camera,
        settings: PlateSettings,
        watchlist: WatchlistHolder,
        ocr: PlateOCR,
    ) -> None:
        if not camera.plates:
            raise ValueError(f"camera {camera.name} does not read plates (plates: false)")
        self.camera = camera
        self.settings = settings
        self.watchlist = watchlist
        self.ocr = ocr
        self._tracks: dict[int, _Track] = {}
        self._last_ocr = -math.inf
        self._last_ts = -math.inf
        self._list_issued = watchlist.issued_at
        #: OCR runs so far (for benches and stats).
        self.runs = 0

    def process(self, image: np.ndarray, tracked: Detections, ts: float) -> StageResult:
        """Read plates of ``tracked`` (confirmed tracks) on ``image`` at event time ``ts``."""
        when = datetime.fromtimestamp(ts, UTC)
        restarted = ts < self._last_ts  # a new timeline (a file looped) ends every track
        reads, hits = self._finish(math.inf if restarted else ts - LINGER_S, when)
        if restarted:
            self._last_ocr = -math.inf
        self._last_ts = ts
        vehicles = tracked[np.isin(tracked.label, list(VEHICLE_LABELS)) & (tracked.track_id >= 0)]
        live: list[_Track] = []
        for i in range(len(vehicles)):
            row = vehicles[np.array([i])]
            track = self._tracks.setdefault(int(row.track_id[0]), _Track(ts, row))
            track.seen, track.row = ts, row
            live.append(track)
        if self.watchlist.issued_at != self._list_issued:  # a new list: match reads again
            self._list_issued = self.watchlist.issued_at
            hits += [h for t in self._tracks.values() if t.best for h in self._match(t, when)]
        # The rate cap lets few runs through: unread tracks first, then the least tried.
        for track in sorted(live, key=lambda t: (t.best is not None, t.attempts)):
            read = self._try_read(image, track, ts)
            if read is not None:
                hits += self._better(track, read, when)
        reads.update({tid: t.best.text for tid, t in self._tracks.items() if t.best is not None})
        return StageResult(hits, reads)

    def _try_read(self, image: np.ndarray, track: _Track, ts: float) -> TextRead | None:
        s = self.settings
        height = float(track.row.xyxy[0, 3] - track.row.xyxy[0, 1])
        if track.attempts >= s.max_attempts or height < s.min_box_height:
            return None
        if ts - track.last_try < RETRY_S or ts - self._last_ocr < 1.0 / s.max_reads_per_s:
            return None
        crop = plate_area(image, track.row.xyxy[0])
        if sharpness(crop) < s.min_sharpness:
            return None
        track.attempts += 1
        track.last_try = self._last_ocr = ts
        self.runs += 1
        read = self.ocr.read_plate(np.ascontiguousarray(crop))
        if read is None or read.confidence < s.min_confidence:
            return None
        return read

    def _better(self, track: _Track, read: TextRead, when: datetime) -> list[RuleHit]:
        """Keep ``read`` if it beats the track's best; match a new best against the list."""
        if track.best is not None and read.confidence <= track.best.confidence:
            return []
        track.best = read
        return self._match(track, when)

    def _match(self, track: _Track, when: datetime) -> list[RuleHit]:
        """The track's best read against the list: a hit for an entry not yet alerted."""
        read = track.best
        if read is None:
            return []
        found = best_match(read.text, self.watchlist.plates(), self.settings.fuzzy_min_score)
        if found is None:
            return []
        entry, score = found
        if entry.id in track.matched:
            return []
        track.matched.add(entry.id)
        hit = WatchlistHit(list="plate", entry_id=entry.id, score=round(score, 3), plate=read.text)
        message = f"listed vehicle {entry.plate}: {entry.reason} (case {entry.case_ref})"
        return [
            RuleHit(
                PLATE_KIND,
                RULE_NAME,
                Severity.MAJOR,
                when,
                track.row,
                message[:200],
                watchlist=hit,
            )
        ]

    def _finish(self, before: float, when: datetime) -> tuple[dict[int, str], list[RuleHit]]:
        """Forget tracks last seen before ``before``. When the site keeps a plate log, their
        final reads become ``plate_read`` hits (returned with those reads, for the alerts'
        objects); otherwise the reads are simply gone."""
        done = [tid for tid, t in self._tracks.items() if t.seen < before]
        reads: dict[int, str] = {}
        hits: list[RuleHit] = []
        for tid in done:
            track = self._tracks.pop(tid)
            if self.settings.logging is not None and track.best is not None:
                reads[tid] = track.best.text
                hits.append(
                    RuleHit(
                        PLATE_READ_KIND,
                        RULE_NAME,
                        Severity.INFO,
                        when,
                        track.row,
                        f"plate read ({track.best.confidence:.2f})",
                        snapshot=False,
                    )
                )
        return reads, hits
