"""``Heatmap``: where people have been standing lately, as a picture an organiser can read.

Every detector run adds each person's feet to a coarse grid (one cell per ``cell_px`` pixels),
weighted by the time since the previous run, so a cell holds *person-seconds* whatever the
detector's rate (a pause longer than ``max_step_s`` counts as ``max_step_s``: nobody knows
what happened meanwhile). All heat decays exponentially with event time: after
``half_life_s`` half of it is gone, so the map shows the last minutes, not the whole day.

Rendering blurs the grid (a person occupies more than one cell), scales it to the frame,
normalises it to its hottest cell and colours it with OpenCV's *inferno* map (black → purple
→ orange → yellow: brightness grows with heat, also in greyscale print). Over a camera
frame, the colour's opacity follows the heat, so cold areas show the scene unchanged.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


class Heatmap:
    """A decaying person-seconds grid for frames of one size."""

    def __init__(
        self,
        frame_size: tuple[int, int],
        half_life_s: float = 300.0,
        cell_px: int = 8,
        *,
        first_step_s: float = 0.2,
        max_step_s: float = 1.0,
    ) -> None:
        if half_life_s <= 0 or cell_px < 1:
            raise ValueError("half_life_s must be > 0 and cell_px >= 1")
        self.frame_size = frame_size
        self.half_life_s = half_life_s
        self.cell_px = cell_px
        self.first_step_s = first_step_s
        self.max_step_s = max_step_s
        w, h = frame_size
        self.grid = np.zeros((math.ceil(h / cell_px), math.ceil(w / cell_px)), dtype=np.float64)
        self._last: float | None = None

    def decay_to(self, now: float) -> None:
        """Let the heat decay up to event time ``now`` (never backwards)."""
        if self._last is not None and now > self._last:
            self.grid *= 0.5 ** ((now - self._last) / self.half_life_s)
            self._last = now

    def add(self, points: np.ndarray, now: float) -> None:
        """Add feet ``points`` ([N,2] pixels) seen at event time ``now``."""
        step = (
            self.first_step_s
            if self._last is None
            else min(max(now - self._last, 0.0), self.max_step_s)
        )
        self.decay_to(now)
        if self._last is None:
            self._last = now
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if len(pts) and step > 0:
            rows = np.clip((pts[:, 1] // self.cell_px).astype(int), 0, self.grid.shape[0] - 1)
            cols = np.clip((pts[:, 0] // self.cell_px).astype(int), 0, self.grid.shape[1] - 1)
            np.add.at(self.grid, (rows, cols), step)

    @property
    def total(self) -> float:
        """Person-seconds held now (after decay)."""
        return float(self.grid.sum())

    def heat(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """float32 [H, W] in 0..1 (1 = hottest spot) at ``size`` (default: the frame size)."""
        w, h = size or self.frame_size
        blurred = cv2.GaussianBlur(self.grid.astype(np.float32), (0, 0), 1.5)
        peak = float(blurred.max())
        if peak <= 0:
            return np.zeros((h, w), dtype=np.float32)
        return cv2.resize(blurred / peak, (w, h), interpolation=cv2.INTER_LINEAR).clip(0, 1)

    def overlay(self, image: np.ndarray, opacity: float = 0.6) -> np.ndarray:
        """A copy of BGR ``image`` with the heat painted over it (cold areas untouched)."""
        h, w = image.shape[:2]
        heat = self.heat((w, h))
        colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
        alpha = (opacity * np.sqrt(heat))[:, :, None]
        out = image.astype(np.float32) * (1 - alpha) + colour.astype(np.float32) * alpha
        return out.round().astype(np.uint8)

    def render_png(self, background: np.ndarray | None = None) -> bytes:
        """PNG bytes: the heat over ``background`` (a BGR frame), or alone on black."""
        if background is None:
            heat = self.heat()
            image = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
        else:
            image = self.overlay(background)
        ok, buf = cv2.imencode(".png", image)
        if not ok:
            raise ValueError("PNG encoding failed")
        return buf.tobytes()
