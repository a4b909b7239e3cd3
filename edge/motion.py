"""``MotionGate``: cheap motion detection that decides whether the detector runs at all.

Most of the time nothing moves in front of a village camera. Running the neural detector on
every frame would burn the gateway's two cores for nothing, so — like Frigate — each frame is
first compared with a running-average background on a tiny grey copy (120 px high). Only the
places that changed become *regions* for the detector; a static scene costs ~1 ms per frame.

Three habits keep light from looking like motion:

* the background is a running average, so dawn, dusk and slow clouds fade into it;
* each frame's overall brightness is scaled to the background's before comparing, so a
  camera's auto-exposure or a passing cloud does not light up the whole frame;
* a sudden jump in mean brightness (lights switched on, IR mode) or a change over most of the
  frame is treated as a *global* change: the background is re-seeded and no motion is
  reported for that frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from contract.siteconfig import MotionSettings
from edge.quiet_cells import cell_shares

Box = tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class MotionResult:
    """What changed in one frame. ``boxes`` are [N,4] x1,y1,x2,y2 in full-frame pixels."""

    boxes: np.ndarray
    ratio: float  # share of the frame that changed
    global_change: bool = False  # a lighting change was ignored on this frame
    #: Share of each cell of :data:`edge.quiet_cells.GRID` that changed, float32 [rows, cols]
    #: (None when nothing moved): where the motion is, for learning barren cells.
    cells: np.ndarray | None = None

    @property
    def has_motion(self) -> bool:
        return len(self.boxes) > 0


_NO_BOXES = np.zeros((0, 4), dtype=np.float32)


class MotionGate:
    """Call :meth:`detect` on every frame, in order; it keeps the background between calls."""

    def __init__(
        self,
        settings: MotionSettings | None = None,
        *,
        alpha: float = 0.05,
        brightness_jump: float = 10.0,
        max_motion_ratio: float = 0.6,
    ) -> None:
        self.settings = settings or MotionSettings()
        #: How fast the background follows the scene (per frame): 0.05 ≈ 2 s at 10 fps.
        self.alpha = alpha
        #: Mean grey-level change between consecutive frames that counts as a lighting switch.
        self.brightness_jump = brightness_jump
        #: A change over more than this share of the frame is lighting, not an intruder.
        self.max_motion_ratio = max_motion_ratio
        self._background: np.ndarray | None = None
        self._last_mean: float | None = None

    def reset(self) -> None:
        """Forget the background (after a loop or reconnect the old one is meaningless)."""
        self._background = None
        self._last_mean = None

    def _small_grey(self, image: np.ndarray) -> np.ndarray:
        h = self.settings.frame_height
        w = max(1, round(image.shape[1] * h / image.shape[0]))
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        small = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA)
        # Blur away sensor noise and compression blocks, which would otherwise "move".
        return cv2.GaussianBlur(small, (5, 5), 0).astype(np.float32)

    def detect(self, image: np.ndarray) -> MotionResult:
        """Compare ``image`` (BGR, full size) with the background and update it."""
        small = self._small_grey(image)
        mean = float(small.mean())
        bg = self._background
        last_mean, self._last_mean = self._last_mean, mean
        if bg is None or bg.shape != small.shape:
            self._background = small
            return MotionResult(_NO_BOXES, 0.0)
        if last_mean is not None and abs(mean - last_mean) > self.brightness_jump:
            self._background = small  # lights switched: start over from this frame
            return MotionResult(_NO_BOXES, 0.0, global_change=True)

        # Match the frame's overall brightness to the background's before comparing.
        gain = float(bg.mean()) / max(mean, 1.0)
        delta = cv2.absdiff(bg, small * gain)
        mask = (delta > self.settings.threshold).astype(np.uint8)
        mask = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=2)
        ratio = float(mask.mean())
        if ratio > self.max_motion_ratio:
            self._background = small
            return MotionResult(_NO_BOXES, ratio, global_change=True)
        cv2.accumulateWeighted(small, bg, self.alpha)

        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_px = self.settings.min_area * small.shape[0] * small.shape[1]
        sx = image.shape[1] / small.shape[1]
        sy = image.shape[0] / small.shape[0]
        boxes = []
        for c in contours:
            x, y, w, h = cv2.boundingRect(c)
            if w * h >= min_px:
                boxes.append((x * sx, y * sy, (x + w) * sx, (y + h) * sy))
        arr = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        cells = cell_shares(mask) if len(arr) else None
        return MotionResult(merge_boxes(arr), ratio, cells=cells)


def merge_boxes(boxes: np.ndarray, gap: float = 0.0) -> np.ndarray:
    """Union boxes that overlap (or come within ``gap`` pixels) until none do."""
    out = [list(map(float, b)) for b in np.asarray(boxes).reshape(-1, 4)]
    merged = True
    while merged and len(out) > 1:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if (
                    a[0] - gap <= b[2]
                    and b[0] - gap <= a[2]
                    and a[1] - gap <= b[3]
                    and b[1] - gap <= a[3]
                ):
                    out[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return np.asarray(out, dtype=np.float32).reshape(-1, 4)


def detection_regions(
    boxes: np.ndarray | Sequence[Box],
    frame_size: tuple[int, int],
    *,
    min_side: int,
    max_regions: int = 2,
    max_area_ratio: float = 0.5,
    margin: float = 0.25,
) -> list[Box]:
    """Squares around groups of moving boxes for the detector to look at.

    Each group becomes a square at least ``min_side`` wide (the model's input size, so crops
    are never upscaled into mush) with ``margin`` padding, shifted to stay inside the frame.
    When the squares would be many or cover most of the frame anyway, one whole-frame region
    ``(0, 0, W, H)`` is cheaper and just as good.
    """
    w, h = frame_size
    whole: list[Box] = [(0.0, 0.0, float(w), float(h))]
    arr = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(arr) == 0:
        return []
    squares = np.asarray([_square(b, min_side, margin, w, h) for b in arr], dtype=np.float32)
    squares = merge_boxes(squares)
    # Merging can create non-square unions; square them again (once is enough in practice).
    squares = merge_boxes(np.asarray([_square(b, min_side, 0.0, w, h) for b in squares]))
    area = float(((squares[:, 2] - squares[:, 0]) * (squares[:, 3] - squares[:, 1])).sum())
    if len(squares) > max_regions or area >= max_area_ratio * w * h:
        return whole
    return [tuple(map(float, s)) for s in squares]  # type: ignore[misc]


def _square(box: np.ndarray, min_side: int, margin: float, w: int, h: int) -> Box:
    x1, y1, x2, y2 = map(float, box)
    if max(x2 - x1, y2 - y1) > min(w, h):
        return (0.0, 0.0, float(w), float(h))  # no square fits it: the whole frame will do
    side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    side = min(max(side, float(min_side)), float(min(w, h)))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = min(max(cx - side / 2, 0.0), w - side)
    top = min(max(cy - side / 2, 0.0), h - side)
    return (left, top, left + side, top + side)
