"""Synthetic scenes with exact ground truth for the rule tests.

An :class:`Actor` is one object whose feet follow straight legs between waypoints at a known
speed, pauses where told, may be hidden (no detection: an occlusion) and may jitter (the
detector's box noise, uniform ±``jitter`` px, seeded). :func:`run` turns a scene into detector
runs at 5 fps, passes them through the real :class:`edge.bytetrack.ByteTracker` — so tracking
noise (late confirmation, lost tracks, new ids after an occlusion) is part of every test —
and feeds the tracked rows to the rules at the frame's event time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from edge.bytetrack import ByteTracker
from edge.detections import Detections
from edge.rules import Rule, RuleHit

FPS = 5.0
STEP_S = 1.0 / FPS
FRAME = (768, 576)
T0 = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)  # a Wednesday noon


def at(t: float) -> datetime:
    return T0 + timedelta(seconds=t)


@dataclass
class Wait:
    seconds: float


def route(start_s: float, speed: float, *legs: tuple[float, float] | Wait) -> list:
    """Waypoints ``(t, x, y)``: walk from point to point at ``speed`` px/s, ``Wait`` to pause."""
    t = start_s
    points: list[tuple[float, float, float]] = []
    for leg in legs:
        if isinstance(leg, Wait):
            t += leg.seconds
            points.append((t, *points[-1][1:]))
            continue
        if points:
            t += float(np.hypot(leg[0] - points[-1][1], leg[1] - points[-1][2])) / speed
        points.append((t, float(leg[0]), float(leg[1])))
    return points


@dataclass
class Actor:
    """One object; ``feet(t)`` is its exact ground truth, ``None`` when not in the scene."""

    waypoints: list[tuple[float, float, float]]
    label: str = "person"
    height: float = 100.0
    width: float = 40.0
    jitter: float = 0.0
    hidden: list[tuple[float, float]] = field(default_factory=list)  # [start, end) in s
    score: float = 0.9
    seed: int = 0

    @property
    def start(self) -> float:
        return self.waypoints[0][0]

    @property
    def end(self) -> float:
        return self.waypoints[-1][0]

    def feet(self, t: float) -> tuple[float, float] | None:
        if not self.start - 1e-9 <= t <= self.end + 1e-9:
            return None
        ts = [w[0] for w in self.waypoints]
        return (
            float(np.interp(t, ts, [w[1] for w in self.waypoints])),
            float(np.interp(t, ts, [w[2] for w in self.waypoints])),
        )

    def visible(self, t: float) -> bool:
        return self.feet(t) is not None and not any(a <= t < b for a, b in self.hidden)

    def box(self, t: float, rng: np.random.Generator) -> list[float]:
        x, y = self.feet(t)  # type: ignore[misc]
        dx, dy = rng.uniform(-self.jitter, self.jitter, 2) if self.jitter else (0.0, 0.0)
        x, y = x + dx, y + dy
        return [x - self.width / 2, y - self.height, x + self.width / 2, y]


def car(waypoints, **kw) -> Actor:
    return Actor(waypoints, label="car", height=60.0, width=120.0, **kw)


@dataclass
class SceneFrame:
    t: float
    detections: Detections  # what the "detector" reported
    tracked: Detections  # what the tracker made of it
    hits: list[RuleHit]


def detections_at(actors: Sequence[Actor], t: float, rngs) -> Detections:
    rows = [
        (a.box(t, rng), a.score, a.label)
        for a, rng in zip(actors, rngs, strict=True)
        if a.visible(t)
    ]
    if not rows:
        return Detections.empty()
    boxes, scores, labels = zip(*rows, strict=True)
    return Detections.from_arrays(boxes, scores, labels)


def run(
    actors: Sequence[Actor],
    rules: Sequence[Rule],
    duration_s: float,
    *,
    tracker: ByteTracker | None = None,
    on_frame: Callable[[SceneFrame], None] | None = None,
) -> list[SceneFrame]:
    """Play the scene at 5 fps from t = 0 to ``duration_s``; return every frame's outcome."""
    tracker = tracker or ByteTracker()
    rngs = [np.random.default_rng(a.seed) for a in actors]
    frames = []
    for k in range(round(duration_s * FPS) + 1):
        t = k / FPS
        found = detections_at(actors, t, rngs)
        tracked = tracker.update(found, timestamp=t)
        hits = [hit for rule in rules for hit in rule.evaluate(tracked, at(t))]
        frame = SceneFrame(t, found, tracked, hits)
        if on_frame:
            on_frame(frame)
        frames.append(frame)
    return frames


def hits_of(frames: Sequence[SceneFrame]) -> list[tuple[float, RuleHit]]:
    return [(f.t, h) for f in frames for h in f.hits]


def first_time(actor: Actor, inside: Callable[[float, float], bool], after: float = 0.0) -> float:
    """The first frame time ≥ ``after`` at which ``actor``'s true feet are ``inside``."""
    k = round(after * FPS)
    while k / FPS <= actor.end:
        p = actor.feet(k / FPS)
        if p is not None and inside(*p):
            return k / FPS
        k += 1
    raise AssertionError("the actor never gets there")


def px(fx: float, fy: float) -> tuple[float, float]:
    return fx * FRAME[0], fy * FRAME[1]
