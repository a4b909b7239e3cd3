"""``Loitering``: one person staying in a zone for ``threshold_s`` seconds (default 60).

A *visit* starts on the first frame a confirmed track's feet are inside the polygon. Its
dwell time is the time since, and it alerts once, when the dwell reaches the threshold.

A visit survives short absences — ``grace_s`` (default 3 s) — so a missed detection, a
person hidden behind a passer-by for a second, or a step over the zone's edge does not reset
the clock. It ends when the person has been *seen outside* for longer than that. A person
who is simply not seen (standing still: no motion, so the detector may not look at them)
keeps their visit, so a loiterer who stands motionless is still reported when next seen.

When the tracker loses someone for longer than it can bridge and gives them a new id, the
new track takes over the visit if it appears inside the zone within ``grace_s`` of the old
one's last moment inside, near where the old one was last seen
(:func:`edge.rules.cooldown.near`): the dwell clock runs on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from contract.rule_settings import LoiterRule
from edge.detections import Detections
from edge.rules.base import (
    FORGET_S,
    Region,
    RuleHit,
    TimedRule,
    box_heights,
    tracked_rows,
)
from edge.rules.cooldown import AlertGate, near


@dataclass
class _Visit:
    track: int
    started: float
    last_inside: float
    last_seen: float
    feet: np.ndarray
    height: float
    alerted: bool = False


class Loitering(TimedRule):
    """A :class:`~contract.rule_settings.LoiterRule` applied to frames of one size."""

    kind = "loitering"

    def __init__(
        self, rule: LoiterRule, frame_size: tuple[int, int], timezone: str = "UTC"
    ) -> None:
        self._bind(rule, frame_size, timezone)
        self.region = Region(rule.polygon, frame_size)
        self.polygon = self.region.polygon
        self.gate = AlertGate(rule.cooldown_s, rule.group_s, rule.group_distance)
        self._visits: dict[int, _Visit] = {}
        self._now = 0.0
        self.alerts = 0

    @property
    def outline(self) -> np.ndarray:
        return self.polygon

    def dwell(self, track_id: int) -> float | None:
        """Seconds the track's current visit has lasted (to its last sighting inside)."""
        visit = self._visits.get(track_id)
        return None if visit is None else visit.last_inside - visit.started

    def _take_over(self, feet: np.ndarray, height: float, now: float, seen: set[int]):
        """A live visit (inside within ``grace_s``) whose track vanished near ``feet``."""
        best: _Visit | None = None
        for visit in self._visits.values():
            if visit.track in seen or now - visit.last_inside > self.rule.grace_s:
                continue
            gap = now - visit.last_seen
            if near(feet, height, visit.feet, visit.height, gap, self.rule.group_distance):
                best = visit if best is None or visit.started < best.started else best
        return best

    def evaluate(self, detections: Detections, when: datetime) -> list[RuleHit]:
        now = self._now = when.timestamp()
        tracked = tracked_rows(detections, self.rule.objects)
        inside = self.region.contains(tracked.feet)
        seen = {int(t) for t in tracked.track_id}
        for feet, height, track, is_in in zip(
            tracked.feet, box_heights(tracked), tracked.track_id, inside, strict=True
        ):
            track = int(track)
            visit = self._visits.get(track)
            if visit is None and is_in:
                visit = self._take_over(feet, float(height), now, seen)
                if visit is not None:
                    del self._visits[visit.track]
                    visit.track = track
                else:
                    visit = _Visit(track, now, now, now, feet, float(height))
                self._visits[track] = visit
            if visit is None:
                continue
            visit.last_seen, visit.feet, visit.height = now, feet, float(height)
            if is_in:
                visit.last_inside = now
        self._visits = {
            t: v
            for t, v in self._visits.items()
            # Seen outside past the grace gap: left. Unseen for very long: forgotten.
            if not (v.last_seen > v.last_inside and now - v.last_inside > self.rule.grace_s)
            and now - v.last_seen <= FORGET_S
        }
        self.gate.observe(tracked, now)
        if not self.active_at(when):
            return []
        due = np.array(
            [
                (v := self._visits.get(int(t))) is not None
                and not v.alerted
                and bool(is_in)
                and now - v.started >= self.rule.threshold_s
                for t, is_in in zip(tracked.track_id, inside, strict=True)
            ],
            dtype=bool,
        ).reshape(len(tracked))
        return self._fire(tracked, due, self._visits, "started", now, when, "loitering in")

    def state(self) -> dict[str, Any]:
        dwell = {
            str(t): round(v.last_inside - v.started, 1)
            for t, v in self._visits.items()
            if self._now - v.last_inside <= self.rule.grace_s
        }
        return {
            "kind": self.kind,
            "visitors": len(dwell),
            "dwell_s": dwell,
            "max_dwell_s": max(dwell.values(), default=0.0),
            "alerts": self.alerts,
            "merged": self.gate.merged,
        }
