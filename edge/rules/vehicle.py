"""``StoppedVehicle``: a car, truck, bus or motorcycle standing still in a no-parking zone.

A vehicle is *still* while its box centre stays within ``still_fraction`` of its box size
(mean of width and height) of where it stopped — the *anchor*. Detector jitter of a few
pixels never moves the anchor; driving on does, and restarts the clock. The alert comes when
a vehicle whose feet (box bottom centre, where it meets the road) are inside the polygon
has been still for ``after_s`` seconds; once per stop.

A parked car makes no motion, so the detector may not look at it for a while and the tracker
may end its track; when it is seen again at the same spot under a new id, the new track takes
over the stop (same anchor within the still tolerance) and the clock runs on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from contract.rule_settings import NoParkingRule
from edge.detections import Detections
from edge.rules.base import FORGET_S, Region, RuleHit, TimedRule, tracked_rows
from edge.rules.cooldown import AlertGate


@dataclass
class _Stop:
    track: int
    anchor: np.ndarray  # box centre where it stopped (px)
    size: float  # box size there (px)
    since: float  # event time it has been still since
    last_seen: float
    inside: bool = False
    alerted: bool = False


class StoppedVehicle(TimedRule):
    """A :class:`~contract.rule_settings.NoParkingRule` applied to frames of one size."""

    kind = "stopped_vehicle"

    def __init__(
        self, rule: NoParkingRule, frame_size: tuple[int, int], timezone: str = "UTC"
    ) -> None:
        self._bind(rule, frame_size, timezone)
        self.region = Region(rule.polygon, frame_size)
        self.polygon = self.region.polygon
        # Parked vehicles do not walk: grouping uses no walking allowance.
        self.gate = AlertGate(rule.cooldown_s, rule.group_s, rule.group_distance, speed=0.0)
        self._stops: dict[int, _Stop] = {}
        self._now = 0.0
        self.alerts = 0

    @property
    def outline(self) -> np.ndarray:
        return self.polygon

    def _still(self, centre: np.ndarray, size: float, stop: _Stop) -> bool:
        moved = float(np.hypot(*(centre - stop.anchor)))
        return moved <= self.rule.still_fraction * max(size, stop.size)

    def _take_over(self, centre: np.ndarray, size: float, seen: set[int]) -> _Stop | None:
        for stop in self._stops.values():
            if stop.track not in seen and self._still(centre, size, stop):
                return stop
        return None

    def evaluate(self, detections: Detections, when: datetime) -> list[RuleHit]:
        now = self._now = when.timestamp()
        tracked = tracked_rows(detections, self.rule.objects)
        xyxy = tracked.xyxy.astype(np.float64)
        centres = (xyxy[:, :2] + xyxy[:, 2:]) / 2
        sizes = ((xyxy[:, 2] - xyxy[:, 0]) + (xyxy[:, 3] - xyxy[:, 1])) / 2
        inside = self.region.contains(tracked.feet)
        seen = {int(t) for t in tracked.track_id}
        for centre, size, track, is_in in zip(
            centres, sizes, tracked.track_id, inside, strict=True
        ):
            track = int(track)
            stop = self._stops.get(track)
            if stop is None:
                stop = self._take_over(centre, float(size), seen)
                if stop is not None:
                    del self._stops[stop.track]
                    stop.track = track
                else:
                    stop = _Stop(track, centre, float(size), now, now)
                self._stops[track] = stop
            if not self._still(centre, float(size), stop):
                stop.anchor, stop.size, stop.since, stop.alerted = centre, float(size), now, False
            stop.last_seen, stop.inside = now, bool(is_in)
        self._stops = {t: s for t, s in self._stops.items() if now - s.last_seen <= FORGET_S}
        self.gate.observe(tracked, now)
        if not self.active_at(when):
            return []
        due = np.array(
            [
                bool(is_in)
                and not (s := self._stops[int(t)]).alerted
                and now - s.since >= self.rule.after_s
                for t, is_in in zip(tracked.track_id, inside, strict=True)
            ],
            dtype=bool,
        ).reshape(len(tracked))
        return self._fire(tracked, due, self._stops, "since", now, when, "stopped in")

    def state(self) -> dict[str, Any]:
        still = {
            str(t): round(self._now - s.since, 1)
            for t, s in self._stops.items()
            if s.inside and s.last_seen == self._now
        }
        return {
            "kind": self.kind,
            "stopped_s": still,
            "alerts": self.alerts,
            "merged": self.gate.merged,
        }
