"""``LineCrossing``: count objects crossing a line in each direction; alert on a direction.

The line runs from its first point A to its second point B. Stand on A, look at B (as drawn
on the image): the side on your left hand is *in* when ``in_side: left`` (the default), so
for a line drawn top → bottom *in* is the screen's right, for left → right it is the top.

A track's feet are on a side only when at least ``min_distance`` (times the frame width) from the
line; nearer, they are on the line — on neither side. A crossing counts once the track has
been on the other side for ``min_frames`` detector frames (frames where it was not detected
do not break the run). So a box jittering ±5 px around the line never counts: it never
leaves the dead band, and a single stray frame is not ``min_frames``. A person who turns back
before settling on the far side does not count either.

A crossing must also pass *between* A and B: the path from the last position on the old
side to the first on the new side must cut the segment, not the line's extension — someone
walking round the end of a fence line has not crossed it.

Counts (``counts``, ``in_count``, ``out_count``) include every confirmed track, always.
Alerts (``alert_on``) honour the schedule and the cooldown/grouping policy of
:mod:`edge.rules.cooldown`; crossings on the same frame in the same direction make one hit
("2 people crossed 'gate' inbound").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from contract.rule_settings import LineRule
from edge.detections import Detections
from edge.rules.base import FORGET_S, RuleHit, Scheduled, describe, tracked_rows
from edge.rules.cooldown import AlertGate

_WORD = {"in": "inbound", "out": "outbound"}


@dataclass
class _TrackSide:
    settled: int  # +1 in side, -1 out side, 0 not yet known
    last_seen: float
    anchor: np.ndarray | None = None  # last feet on the settled side (outside the dead band)
    pending_frames: int = 0  # frames seen on the other side since
    pending_first: np.ndarray | None = field(default=None)  # first feet on the other side


class LineCrossing(Scheduled):
    """A :class:`~contract.rule_settings.LineRule` applied to frames of one size."""

    kind = "line_crossing"

    def __init__(self, rule: LineRule, frame_size: tuple[int, int], timezone: str = "UTC") -> None:
        self._bind(rule, frame_size, timezone)
        w, h = frame_size
        self.points = np.asarray([[x * w, y * h] for x, y in rule.points], dtype=np.float32)
        self._a = self.points[0].astype(np.float64)
        self._d = (self.points[1] - self.points[0]).astype(np.float64)
        self._length = float(np.hypot(*self._d))
        # In image coordinates (y down) the cross product d x (p - a) is negative on the
        # left hand of someone looking from A to B.
        self._in_sign = -1.0 if rule.in_side == "left" else 1.0
        self._band = rule.min_distance * w
        self.gate = AlertGate(rule.cooldown_s, rule.group_s, rule.group_distance)
        self.counts: dict[str, dict[str, int]] = {
            label: {"in": 0, "out": 0} for label in rule.objects
        }
        self._tracks: dict[int, _TrackSide] = {}
        self.alerts = 0

    @property
    def outline(self) -> np.ndarray:
        return self.points

    @property
    def in_count(self) -> int:
        return sum(c["in"] for c in self.counts.values())

    @property
    def out_count(self) -> int:
        return sum(c["out"] for c in self.counts.values())

    @property
    def in_normal(self) -> np.ndarray:
        """Unit vector (pixels) pointing from the line into the *in* side (for drawing)."""
        n = np.array([-self._d[1], self._d[0]]) * self._in_sign / self._length
        return n.astype(np.float32)

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Pixels from the (infinite) line: positive on the *in* side, negative on *out*."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2) - self._a
        cross = self._d[0] * p[:, 1] - self._d[1] * p[:, 0]
        return self._in_sign * cross / self._length

    def _through_segment(self, before: np.ndarray, after: np.ndarray) -> bool:
        """Does the path ``before`` → ``after`` (on opposite sides) cut the segment A-B?"""
        d0, d1 = self.signed_distance(np.stack([before, after]))
        cut = before + (after - before) * (d0 / (d0 - d1))
        u = float(np.dot(cut - self._a, self._d)) / self._length**2
        return 0.0 <= u <= 1.0

    def _step(self, track: int, feet: np.ndarray, dist: float, now: float) -> str | None:
        """Advance one track's side state; return "in"/"out" when it has just crossed."""
        side = 0 if abs(dist) < self._band else (1 if dist > 0 else -1)
        st = self._tracks.get(track)
        if st is None:
            st = self._tracks[track] = _TrackSide(side, now, feet if side else None)
            return None
        st.last_seen = now
        if side == 0:
            return None  # on the line: neither confirms nor cancels anything
        if st.settled == 0 or side == st.settled:
            st.settled, st.anchor, st.pending_frames = side, feet, 0
            return None
        if st.pending_frames == 0:
            st.pending_first = feet
        st.pending_frames += 1
        if st.pending_frames < self.rule.min_frames:
            return None
        crossed = (
            st.anchor is not None
            and st.pending_first is not None
            and self._through_segment(st.anchor, st.pending_first)
        )
        st.settled, st.anchor, st.pending_frames = side, feet, 0
        if not crossed:
            return None
        return "in" if side > 0 else "out"

    def evaluate(self, detections: Detections, when: datetime) -> list[RuleHit]:
        """Count this frame's crossings; return one hit per alerting direction."""
        now = when.timestamp()
        tracked = tracked_rows(detections, self.rule.objects)
        dists = self.signed_distance(tracked.feet)
        crossed: dict[str, list[int]] = {"in": [], "out": []}
        for i, (feet, dist, track) in enumerate(
            zip(tracked.feet.astype(np.float64), dists, tracked.track_id, strict=True)
        ):
            direction = self._step(int(track), feet, float(dist), now)
            if direction:
                crossed[direction].append(i)
                self.counts[str(tracked.label[i])][direction] += 1
        self._tracks = {t: s for t, s in self._tracks.items() if now - s.last_seen <= FORGET_S}
        self.gate.observe(tracked, now)
        if self.rule.alert_on == "none" or not self.active_at(when):
            return []
        hits = []
        for direction in ("in", "out"):
            if not crossed[direction] or self.rule.alert_on not in (direction, "both"):
                continue
            admitted = self.gate.admit(tracked[np.asarray(crossed[direction])], now)
            if not len(admitted):
                continue
            self.alerts += 1
            hits.append(
                RuleHit(
                    self.kind,
                    self.rule.name,
                    self.rule.severity,
                    when,
                    admitted,
                    f"{describe(admitted)} crossed {self.rule.name!r} {_WORD[direction]}",
                    self.points,
                )
            )
        return hits

    def state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "in": self.in_count,
            "out": self.out_count,
            "by_label": {label: dict(c) for label, c in self.counts.items()},
            "alerts": self.alerts,
            "merged": self.gate.merged,
        }
