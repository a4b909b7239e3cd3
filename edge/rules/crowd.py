"""``CrowdRings``: occupancy of nested crowd areas for event security, plus a heatmap.

The event-security model has three nested areas: *diversion* (outermost: traffic is
diverted), *control* (access is controlled) and *core* (the stage front, the square).
Configured rings are bands: a person is in the innermost ring whose polygon holds their
feet, so the three occupancies add up to the people inside the outermost ring.

Crowds are counted per detector frame, tracked or not: in a dense crowd the tracker confirms
people later than the count needs. Each ring with a ``limit`` alerts when its occupancy has
been above it for ``min_frames`` frames in a row, then stays quiet until the occupancy falls
below ``rearm_below`` * limit (hysteresis: a count hovering at 40 ± 1 alerts once, not on
every wobble). Outside the rule's schedule the rings count but do not alert (nor disarm).

With a ground calibration (:class:`~edge.rules.ground.GroundPlane`) each ring also reports
people per m²: occupancy over the band's ground area (its polygon's area minus the next inner
ring's, both mapped through the homography).

``heatmap`` (:class:`~edge.rules.heatmap.Heatmap`) collects where people stood, decaying with
``heatmap_half_life_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from contract.rule_settings import CrowdRule
from edge.detections import Detections
from edge.rules.base import Region, RuleHit, Scheduled, count_phrase
from edge.rules.ground import GroundPlane
from edge.rules.heatmap import Heatmap


@dataclass(eq=False)
class RingState:
    """One ring's geometry, figures and alarm state."""

    name: str
    region: Region
    limit: int | None
    area_m2: float | None  # the band's ground area; None without calibration
    occupancy: int = 0
    frames_over: int = 0
    armed: bool = True
    alerts: int = 0

    @property
    def per_m2(self) -> float | None:
        if self.area_m2 is None or self.area_m2 <= 0:
            return None
        return self.occupancy / self.area_m2


class CrowdRings(Scheduled):
    """A :class:`~contract.rule_settings.CrowdRule` applied to frames of one size."""

    kind = "crowd"

    def __init__(
        self,
        rule: CrowdRule,
        frame_size: tuple[int, int],
        timezone: str = "UTC",
        ground: GroundPlane | None = None,
    ) -> None:
        self._bind(rule, frame_size, timezone)
        self.ground = ground
        self.rings: list[RingState] = []  # outermost first
        present = [(n, r) for n, r in rule.rings() if r is not None]
        for i, (name, ring) in enumerate(present):
            region = Region(ring.polygon, frame_size)
            area = None
            if ground is not None:
                area = ground.area_m2(region.polygon)
                if i + 1 < len(present):
                    inner = Region(present[i + 1][1].polygon, frame_size)
                    area -= ground.area_m2(inner.polygon)
            self.rings.append(RingState(name, region, ring.limit, area))
        self.heatmap = Heatmap(frame_size, rule.heatmap_half_life_s)
        self.alerts = 0
        #: The time of the last frame evaluated: when the rings' occupancies were measured
        #: (the gateway reports them with it, for the hub's event rings).
        self.measured_at: datetime | None = None

    @property
    def outline(self) -> np.ndarray:
        """The outermost ring (a hit carries the outline of the ring that fired)."""
        return self.rings[0].region.polygon

    def ring(self, name: str) -> RingState:
        return next(r for r in self.rings if r.name == name)

    def ring_of(self, detections: Detections) -> np.ndarray:
        """Index into :attr:`rings` of each object's ring (innermost holding its feet), -1: none."""
        which = np.full(len(detections), -1, dtype=np.int64)
        for i, ring in enumerate(self.rings):
            which[ring.region.contains(detections.feet)] = i  # inner rings overwrite outer
        return which

    def occupancy(self, detections: Detections) -> dict[str, int]:
        """People per ring on this frame (does not change the rule's state)."""
        which = self.ring_of(detections.with_labels(self.rule.objects))
        return {r.name: int((which == i).sum()) for i, r in enumerate(self.rings)}

    def evaluate(self, detections: Detections, when: datetime) -> list[RuleHit]:
        now = when.timestamp()
        people = detections.with_labels(self.rule.objects)
        self.heatmap.add(people.feet, now)
        which = self.ring_of(people)
        active = self.active_at(when)
        hits = []
        self.measured_at = when
        for i, ring in enumerate(self.rings):
            ring.occupancy = int((which == i).sum())
            if ring.limit is None:
                continue
            ring.frames_over = ring.frames_over + 1 if ring.occupancy > ring.limit else 0
            if not ring.armed and ring.occupancy < self.rule.rearm_below * ring.limit:
                ring.armed = True
            if ring.armed and active and ring.frames_over >= self.rule.min_frames:
                ring.armed = False
                ring.alerts += 1
                self.alerts += 1
                hits.append(
                    RuleHit(
                        self.kind,
                        self.rule.name,
                        self.rule.severity,
                        when,
                        people[which == i],
                        self._message(ring),
                        ring.region.polygon,
                    )
                )
        return hits

    def _message(self, ring: RingState) -> str:
        labels = self.rule.objects
        what = (
            count_phrase(ring.occupancy, labels[0])
            if len(labels) == 1
            else f"{ring.occupancy} objects"
        )
        text = f"{ring.name} ring: {what} (limit {ring.limit})"
        if ring.per_m2 is not None:
            text += f", {ring.per_m2:.1f} /m²"
        return text

    def state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rings": {
                r.name: {
                    "occupancy": r.occupancy,
                    "limit": r.limit,
                    "area_m2": None if r.area_m2 is None else round(r.area_m2, 2),
                    "per_m2": None if r.per_m2 is None else round(r.per_m2, 3),
                    "alerts": r.alerts,
                }
                for r in self.rings
            },
            "people": sum(r.occupancy for r in self.rings),
            "heat_person_s": round(self.heatmap.total, 1),
            "alerts": self.alerts,
        }
