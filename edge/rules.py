"""Rules turn tracked objects into alerts. ``ZoneIntrusion`` is the one a village needs first.

An object is *in* a zone when its feet — the middle of its box's bottom edge — are inside
the zone's polygon. Feet, not the box centre, because a camera looks down at an angle: a
person standing on the path just outside the lawn has their upper body drawn over the lawn.

One person walking across a lawn is seen on dozens of frames; officers want one alert. So a
zone remembers, per track, when it last alerted and stays quiet about that track for
``cooldown_s``. Objects the tracker has not confirmed yet (``track_id == -1``) never alert:
a one-frame false detection never reaches an officer's phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from contract.protocol import Severity
from contract.siteconfig import ZoneRule
from edge.detections import Detections


@dataclass(frozen=True, eq=False)
class RuleHit:
    """A rule fired. ``objects`` are the tracked objects that made it fire."""

    kind: str
    rule: str
    severity: Severity
    when: datetime
    objects: Detections
    message: str


class ZoneIntrusion:
    """A :class:`~contract.siteconfig.ZoneRule` applied to frames of one size.

    Build it once per camera (the polygon is converted to pixels here), then call
    :meth:`evaluate` with each tracked detector result.
    """

    kind = "intrusion"

    def __init__(self, rule: ZoneRule, frame_size: tuple[int, int], timezone: str = "UTC") -> None:
        self.rule = rule
        self.frame_size = frame_size
        self.tz = ZoneInfo(timezone)
        w, h = frame_size
        self.polygon = np.asarray(
            [[x * w, y * h] for x, y in rule.polygon], dtype=np.float32
        ).reshape(-1, 1, 2)
        self._labels = set(rule.objects)
        self._last_alert: dict[int, float] = {}  # track id -> event time (Unix s) of its alert

    @property
    def name(self) -> str:
        return self.rule.name

    def active_at(self, when: datetime) -> bool:
        """True when the rule's schedule (site-local time) covers ``when``; no schedule = always."""
        if self.rule.schedule is None:
            return True
        aware = when if when.tzinfo else when.replace(tzinfo=UTC)
        return self.rule.schedule.contains(aware.astimezone(self.tz).time())

    def inside(self, detections: Detections) -> np.ndarray:
        """Boolean mask: whose feet are inside the polygon (points on the edge count)."""
        return np.array(
            [
                cv2.pointPolygonTest(self.polygon, (float(x), float(y)), False) >= 0
                for x, y in detections.feet
            ],
            dtype=bool,
        ).reshape(len(detections))

    def evaluate(self, detections: Detections, when: datetime) -> list[RuleHit]:
        """Return at most one hit: the confirmed objects newly in the zone at ``when``."""
        if not self.active_at(when):
            return []
        now = when.timestamp()
        cooldown = self.rule.cooldown_s
        self._last_alert = {t: ts for t, ts in self._last_alert.items() if now - ts < cooldown}
        candidates = detections[
            np.isin(detections.label, list(self._labels)) & (detections.track_id >= 0)
        ]
        if not len(candidates):
            return []
        candidates = candidates[self.inside(candidates)]
        fresh = np.array([int(t) not in self._last_alert for t in candidates.track_id], dtype=bool)
        triggering = candidates[fresh] if len(candidates) else candidates
        if not len(triggering):
            return []
        for t in triggering.track_id:
            self._last_alert[int(t)] = now
        counts: dict[str, int] = {}
        for label in triggering.label:
            counts[str(label)] = counts.get(str(label), 0) + 1
        what = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
        return [
            RuleHit(
                self.kind,
                self.rule.name,
                self.rule.severity,
                when,
                triggering,
                f"{what} in zone {self.rule.name}",
            )
        ]
