"""``RuleAnnotator``: draw what the rules see onto a frame (for replay videos and debugging).

Rules expose their geometry in pixels and their figures in ``state()``; drawing lives here,
apart from them, so the rules stay free of presentation. One call draws, in this order:

* crowd heatmaps (under everything else),
* zones (amber), loitering zones (orange, with the longest dwell), no-parking zones (red,
  with the longest stop) — each with its name,
* crowd rings (cyan) with "name: occupancy/limit" and people per m² when calibrated,
* lines (magenta) with an arrow into the *in* side and the running "in N / out M",
* the tracked objects: box, label, track id and a dot on the feet.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from edge.detections import Detections
from edge.rules.base import Rule
from edge.rules.crowd import CrowdRings
from edge.rules.line import LineCrossing
from edge.rules.loiter import Loitering
from edge.rules.vehicle import StoppedVehicle
from edge.rules.zone import ZoneIntrusion

# BGR colours
_ZONE = (0, 215, 255)
_LOITER = (0, 140, 255)
_NO_PARKING = (40, 40, 230)
_RING = (230, 200, 0)
_LINE = (230, 60, 230)
_BOX = (80, 220, 80)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _pts(polygon: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(polygon, dtype=np.float32).reshape(-1, 1, 2)).astype(np.int32)


def _label(image: np.ndarray, text: str, at: tuple[int, int], colour: tuple[int, int, int]):
    """Text on a dark plate, kept inside the frame."""
    h, w = image.shape[:2]
    scale = max(0.4, w / 1600)
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    x = int(min(max(at[0], 0), max(w - tw - 2, 0)))
    y = int(min(max(at[1], th + 2), h - base - 2))
    cv2.rectangle(image, (x - 1, y - th - 2), (x + tw + 1, y + base), (0, 0, 0), cv2.FILLED)
    cv2.putText(image, text, (x, y), _FONT, scale, colour, 1, cv2.LINE_AA)


def _top_left(polygon: np.ndarray) -> tuple[int, int]:
    p = np.asarray(polygon, dtype=np.float32).reshape(-1, 2)
    i = int(np.argmin(p[:, 1] * 4 + p[:, 0]))
    return int(p[i, 0]) + 3, int(p[i, 1]) + 14


class RuleAnnotator:
    """Draws rules and detections; ``thickness`` 0 picks one from the frame width."""

    def __init__(self, *, heatmap: bool = True, objects: bool = True, thickness: int = 0):
        self.heatmap = heatmap
        self.objects = objects
        self.thickness = thickness

    def draw(
        self, image: np.ndarray, rules: Iterable[Rule], detections: Detections | None = None
    ) -> np.ndarray:
        """A copy of BGR ``image`` with ``rules`` and ``detections`` drawn on it."""
        rules = list(rules)
        out = image.copy()
        thick = self.thickness or max(1, round(out.shape[1] / 400))
        if self.heatmap:
            for rule in rules:
                if isinstance(rule, CrowdRings) and rule.heatmap.total > 0:
                    out = rule.heatmap.overlay(out)
        for rule in rules:
            if isinstance(rule, CrowdRings):
                self._rings(out, rule, thick)
            elif isinstance(rule, LineCrossing):
                self._line(out, rule, thick)
            elif isinstance(rule, ZoneIntrusion | Loitering | StoppedVehicle):
                self._zone(out, rule, thick)
        if self.objects and detections is not None:
            self._objects(out, detections, thick)
        return out

    def _zone(self, image: np.ndarray, rule: Rule, thick: int) -> None:
        state = rule.state()
        if isinstance(rule, Loitering):
            colour, text = _LOITER, f"{rule.name}: max {state['max_dwell_s']:.0f} s"
        elif isinstance(rule, StoppedVehicle):
            longest = max(state["stopped_s"].values(), default=0.0)
            colour, text = _NO_PARKING, f"{rule.name}: still {longest:.0f} s"
        else:
            colour, text = _ZONE, f"{rule.name}: {state['inside']}"
        cv2.polylines(image, [_pts(rule.outline)], True, colour, thick, cv2.LINE_AA)
        _label(image, text, _top_left(rule.outline), colour)

    def _rings(self, image: np.ndarray, rule: CrowdRings, thick: int) -> None:
        for ring in rule.rings:
            cv2.polylines(image, [_pts(ring.region.polygon)], True, _RING, thick, cv2.LINE_AA)
            text = f"{ring.name}: {ring.occupancy}" + (f"/{ring.limit}" if ring.limit else "")
            if ring.per_m2 is not None:
                text += f" {ring.per_m2:.2f}/m2"
            colour = (0, 0, 255) if ring.limit and ring.occupancy > ring.limit else _RING
            _label(image, text, _top_left(ring.region.polygon), colour)

    def _line(self, image: np.ndarray, rule: LineCrossing, thick: int) -> None:
        a, b = (tuple(round(float(v)) for v in p) for p in rule.points)
        cv2.line(image, a, b, _LINE, thick + 1, cv2.LINE_AA)
        mid = (rule.points[0] + rule.points[1]) / 2
        tip = mid + rule.in_normal * max(20.0, image.shape[1] / 30)
        cv2.arrowedLine(
            image,
            tuple(int(v) for v in mid),
            tuple(int(v) for v in tip),
            _LINE,
            thick,
            cv2.LINE_AA,
            tipLength=0.3,
        )
        _label(image, f"{rule.name} in {rule.in_count} / out {rule.out_count}", a, _LINE)

    def _objects(self, image: np.ndarray, detections: Detections, thick: int) -> None:
        for box, label, track, feet in zip(
            detections.xyxy, detections.label, detections.track_id, detections.feet, strict=True
        ):
            x1, y1, x2, y2 = (round(float(v)) for v in box)
            cv2.rectangle(image, (x1, y1), (x2, y2), _BOX, thick)
            cv2.circle(image, (int(feet[0]), int(feet[1])), thick + 2, _BOX, cv2.FILLED)
            text = f"{label}" + (f" #{track}" if track >= 0 else "")
            _label(image, text, (x1, y1 - 3), _BOX)
