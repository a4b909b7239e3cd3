"""``ZoneIntrusion``: a listed object stands inside a polygon — the rule a village needs first.

An object is *in* a zone when its feet — the middle of its box's bottom edge — are inside
the zone's polygon. Feet, not the box centre, because a camera looks down at an angle: a
person standing on the path just outside the lawn has their upper body drawn over the lawn.

**Inertia** (Frigate's word): a track counts as in the zone only after its feet were inside
on ``inertia`` detector frames in a row, so a box flickering over the zone's edge for one
frame does not alert. A frame on which the track was not detected neither adds nor resets.

**Schedule**: outside it the rule keeps watching (inertia, cooldowns) but raises nothing;
someone still on the lawn when the after-hours window opens is reported then.

Alerts pass through :class:`~edge.rules.cooldown.AlertGate` (cooldown per track, grouping of
companions and tracker id switches). Objects the tracker has not confirmed yet
(``track_id == -1``) never alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from contract.rule_settings import ZoneRule
from edge.detections import Detections
from edge.rules.base import FORGET_S, Region, RuleHit, Scheduled, describe, tracked_rows
from edge.rules.cooldown import AlertGate


class ZoneIntrusion(Scheduled):
    """A :class:`~contract.rule_settings.ZoneRule` applied to frames of one size.

    Build it once per camera (the polygon is converted to pixels here), then call
    :meth:`evaluate` with each tracked detector result.
    """

    kind = "intrusion"

    def __init__(self, rule: ZoneRule, frame_size: tuple[int, int], timezone: str = "UTC") -> None:
        self._bind(rule, frame_size, timezone)
        self.region = Region(rule.polygon, frame_size)
        self.polygon = self.region.polygon  # [N,1,2] float32 pixels
        self.gate = AlertGate(rule.cooldown_s, rule.group_s, rule.group_distance)
        self._runs: dict[int, tuple[int, float]] = {}  # track -> (frames inside in a row, seen)
        self._present: list[int] = []
        self.alerts = 0

    @property
    def outline(self) -> np.ndarray:
        return self.polygon

    def inside(self, detections: Detections) -> np.ndarray:
        """Boolean mask: whose feet are inside the polygon (points on the edge count)."""
        return self.region.contains(detections.feet)

    def evaluate(self, detections: Detections, when: datetime) -> list[RuleHit]:
        """Return at most one hit: the confirmed objects newly in the zone at ``when``."""
        now = when.timestamp()
        tracked = tracked_rows(detections, self.rule.objects)
        inside = self.inside(tracked)
        runs = np.zeros(len(tracked), dtype=np.int64)
        for i, (track, is_in) in enumerate(zip(tracked.track_id, inside, strict=True)):
            before = self._runs.get(int(track), (0, now))[0]
            runs[i] = before + 1 if is_in else 0
            self._runs[int(track)] = (int(runs[i]), now)
        self._runs = {t: r for t, r in self._runs.items() if now - r[1] <= FORGET_S}
        self.gate.observe(tracked, now)
        present = tracked[runs >= self.rule.inertia]
        self._present = [int(t) for t in present.track_id]
        if not len(present) or not self.active_at(when):
            return []
        triggering = self.gate.admit(present, now)
        if not len(triggering):
            return []
        self.alerts += 1
        return [
            RuleHit(
                self.kind,
                self.rule.name,
                self.rule.severity,
                when,
                triggering,
                f"{describe(triggering)} in zone {self.rule.name}",
                self.polygon,
            )
        ]

    def state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "inside": len(self._present),
            "tracks": self._present,
            "alerts": self.alerts,
            "merged": self.gate.merged,
        }
