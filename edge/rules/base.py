"""What every rule shares: the hit it returns, the interface it offers, polygons in pixels.

A rule is built once per camera and frame size (site-file fractions become pixels then) and
called once per detector run with the tracked objects and the frame's *event* time. It never
reads the wall clock, so a replay gives the same hits as the live camera did.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from contract.protocol import Severity, WatchlistHit
from contract.rule_settings import Schedule
from edge.detections import Detections

#: Per-track memories unseen this long are dropped (track ids are never reused).
FORGET_S = 300.0


@dataclass(frozen=True, eq=False)
class RuleHit:
    """A rule fired. ``objects`` are the tracked objects that made it fire.

    ``outline`` is the pixel geometry that fired — a zone's or ring's polygon [N,1,2], or a
    line's two points — for drawing on the snapshot; None when there is nothing to draw.
    """

    kind: str
    rule: str
    severity: Severity
    when: datetime
    objects: Detections
    message: str
    outline: np.ndarray | None = None
    #: Watchlist hits (edge/plates.py): the match, for ``Alert.watchlist``.
    watchlist: WatchlistHit | None = None
    #: False for hits that must go without a picture (a plate-log read: text only).
    snapshot: bool = True
    #: The picture to send as it is, instead of a face-blurred view of the frame. Only a
    #: watchlist face match has one: its face crop (edge/face_watch.py).
    image: np.ndarray | None = None


@runtime_checkable
class Rule(Protocol):
    """The interface of every rule in :mod:`edge.rules`."""

    kind: str

    @property
    def name(self) -> str: ...

    @property
    def outline(self) -> np.ndarray | None:
        """Pixel geometry to draw on an alert's snapshot."""
        ...

    def evaluate(self, detections: Detections, when: datetime) -> list[RuleHit]:
        """Feed one detector run (tracked objects at event time ``when``); get the hits."""
        ...

    def state(self) -> dict[str, Any]:
        """Plain-JSON figures for stats and replay summaries (counts, occupancy, dwell)."""
        ...


class Region:
    """A polygon given in frame fractions, held in pixels of one frame size."""

    def __init__(self, fractions: Sequence[tuple[float, float]], frame_size: tuple[int, int]):
        w, h = frame_size
        self.polygon = np.asarray([[x * w, y * h] for x, y in fractions], dtype=np.float32).reshape(
            -1, 1, 2
        )

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean mask: which [N,2] pixel points are inside (points on the edge count)."""
        pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
        return np.array(
            [cv2.pointPolygonTest(self.polygon, (float(x), float(y)), False) >= 0 for x, y in pts],
            dtype=bool,
        ).reshape(len(pts))


class Scheduled:
    """What every rule class shares: its ``name`` (from its config) and ``active_at(when)``
    from its optional schedule, in site-local time."""

    rule: Any
    schedule: Schedule | None
    tz: ZoneInfo

    def _bind(self, rule: Any, frame_size: tuple[int, int], timezone: str) -> None:
        """Keep the rule's config, frame size, schedule and site time zone (every rule's
        constructor starts here)."""
        self.rule = rule
        self.frame_size = frame_size
        self.schedule = rule.schedule
        self.tz = ZoneInfo(timezone)

    @property
    def name(self) -> str:
        return self.rule.name

    def active_at(self, when: datetime) -> bool:
        """True when the schedule (site-local time) covers ``when``; no schedule = always."""
        if self.schedule is None:
            return True
        aware = when if when.tzinfo else when.replace(tzinfo=UTC)
        return self.schedule.covers(aware.astimezone(self.tz))


class TimedRule(Scheduled):
    """Mixin for rules that fire once a track has stayed long enough (loitering, stopped
    vehicles): each keeps a clock per track with an ``alerted`` flag and a start time."""

    kind: str
    rule: Any
    gate: Any  # cooldown.AlertGate
    polygon: np.ndarray
    alerts: int

    def _fire(
        self,
        tracked: Detections,
        due: np.ndarray,
        clocks: dict,
        started: str,
        now: float,
        when: datetime,
        doing: str,
    ) -> list[RuleHit]:
        """One hit for the ``due`` tracks the alert gate admits; marks their clocks alerted.

        ``started`` names the clock attribute the duration is measured from; ``doing`` words
        the message: "<2 people> <loitering in> 'bins' for 75 s"."""
        if not due.any():
            return []
        for t in tracked.track_id[due]:
            clocks[int(t)].alerted = True
        admitted = self.gate.admit(tracked[due], now)
        if not len(admitted):
            return []
        self.alerts += 1
        longest = max(now - getattr(clocks[int(t)], started) for t in admitted.track_id)
        message = f"{describe(admitted)} {doing} {self.rule.name!r} for {longest:.0f} s"
        return [
            RuleHit(
                self.kind, self.rule.name, self.rule.severity, when, admitted, message, self.polygon
            )
        ]


def tracked_rows(detections: Detections, labels: Iterable[str]) -> Detections:
    """Rows of confirmed tracks (``track_id >= 0``) with one of ``labels``.

    Unconfirmed objects never alert: a one-frame false detection never reaches a phone.
    """
    return detections[np.isin(detections.label, list(labels)) & (detections.track_id >= 0)]


def box_heights(detections: Detections) -> np.ndarray:
    return np.clip(detections.xyxy[:, 3] - detections.xyxy[:, 1], 1.0, None)


_PLURAL = {"person": "people", "bus": "buses"}


def count_phrase(n: int, label: str) -> str:
    """``"1 person"``, ``"2 people"``, ``"3 cars"``."""
    return f"{n} {label if n == 1 else _PLURAL.get(label, label + 's')}"


def describe(objects: Detections) -> str:
    """``"2 people, 1 bicycle"`` for a hit's objects (labels sorted)."""
    counts: dict[str, int] = {}
    for label in objects.label:
        counts[str(label)] = counts.get(str(label), 0) + 1
    return ", ".join(count_phrase(n, label) for label, n in sorted(counts.items()))
