"""One alert per incident: per-track cooldown plus grouping of nearby tracks.

Frigate users know the problem (blakeblackshear/frigate#15255): one person walking through a
garden raises four alerts — the tracker lost them behind a bush and gave them a new id, and
their companion got a third. :class:`AlertGate` is the policy every track-based rule
(intrusion, line crossing, loitering, stopped vehicle) passes its would-be alerts through:

1. **Cooldown per track.** A track that raised an alert — or was merged into one — stays
   quiet for ``cooldown_s`` (then it may remind, once per cooldown).
2. **Grouping.** The gate remembers every track it alerted or merged: where its feet were
   last seen, its box height there, and when. A new would-be alert is *merged* into the
   earlier alert (suppressed) when its feet are near a remembered track's last feet, and that
   track was seen within ``group_s`` seconds. "Near" is measured in body heights, so it means
   the same distance close to the camera and far from it::

       distance(feet) <= height * (group_distance + min(seconds since seen, 3 s) * 1 /s)

   The allowance of one body height per second (≈ 1.7 m/s, a brisk walk) covers the gap of a
   tracker id switch: the old id vanishes, the same person reappears a little further on
   under a new id, seconds later. A companion walking alongside is near at once.
   A stranger across the lawn is not near, and raises their own alert.

Tracks that would alert on the same frame and are not near any earlier one alert *together*
(one hit listing all of them), never merged into each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.detections import Detections
from edge.rules.base import box_heights

#: The walking allowance grows for at most this long after a track was last seen.
HANDOVER_S = 3.0


@dataclass
class _Member:
    alerted_at: float  # event time (s) of the alert it raised or was merged into
    feet: np.ndarray  # [2] last seen
    height: float  # box height there (px)
    last_seen: float


def near(
    feet: np.ndarray,
    height: float,
    other_feet: np.ndarray,
    other_height: float,
    seconds_apart: float,
    distance: float,
    speed: float = 1.0,
) -> bool:
    """Could these two sightings be the same object, or companions? (see module docstring)."""
    scale = max(height, other_height)
    allowance = min(max(seconds_apart, 0.0), HANDOVER_S) * speed
    return float(np.hypot(*(np.asarray(feet) - np.asarray(other_feet)))) <= scale * (
        distance + allowance
    )


class AlertGate:
    """Cooldown and grouping for one rule. Call :meth:`observe` then :meth:`admit` per frame."""

    def __init__(
        self, cooldown_s: float, group_s: float, group_distance: float, speed: float = 1.0
    ) -> None:
        self.cooldown_s = cooldown_s
        self.group_s = group_s
        self.group_distance = group_distance
        self.speed = speed  # walking allowance, body heights per second (0 for parked cars)
        self._members: dict[int, _Member] = {}
        self.merged = 0  # would-be alerts suppressed by grouping (for stats)

    def observe(self, detections: Detections, now: float) -> None:
        """Note where remembered tracks are now; forget those past cooldown and group time."""
        heights = box_heights(detections)
        for feet, height, track in zip(detections.feet, heights, detections.track_id, strict=True):
            member = self._members.get(int(track))
            if member is not None:
                member.feet, member.height, member.last_seen = feet, float(height), now
        self._members = {
            t: m
            for t, m in self._members.items()
            if now - m.alerted_at < self.cooldown_s or now - m.last_seen <= self.group_s
        }

    def cooling(self, track_id: int, now: float) -> bool:
        member = self._members.get(track_id)
        return member is not None and now - member.alerted_at < self.cooldown_s

    def admit(self, candidates: Detections, now: float) -> Detections:
        """The candidates that raise a new alert; the others are cooling down or merged."""
        if not len(candidates):
            return candidates
        earlier = list(self._members.items())
        keep = np.zeros(len(candidates), dtype=bool)
        heights = box_heights(candidates)
        for i, (feet, height, track) in enumerate(
            zip(candidates.feet, heights, candidates.track_id, strict=True)
        ):
            track = int(track)
            if self.cooling(track, now):
                continue
            grouped = self.group_s > 0 and any(
                other != track
                and now - m.last_seen <= self.group_s
                and near(
                    feet,
                    float(height),
                    m.feet,
                    m.height,
                    now - m.last_seen,
                    self.group_distance,
                    self.speed,
                )
                for other, m in earlier
            )
            if grouped:
                self.merged += 1
            else:
                keep[i] = True
            self._members[track] = _Member(now, feet, float(height), now)
        return candidates[keep]
