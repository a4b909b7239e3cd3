"""``BarrenCells``: learn where motion never yields an object, so it stops costing the detector.

Leaves, a flag, rippling water or a flickering sign move all day in front of some cameras. The
motion gate cannot tell them from a person, so without help the detector runs on them over and
over and finds nothing. This map learns them, per cell of a coarse grid over the frame
(:data:`GRID`, 16x12: cells of ~48x48 px on a 768x576 camera, about a person's width):

* every detector run that finds nothing is one *fruitless look* for each cell that moved since
  the previous run (the detector saw the whole area those cells cover and nothing was there);
* after ``after`` fruitless looks (3 by default) a cell is **barren**: motion there is not
  worth the detector;
* anything the detector finds resets the cells under it and around it (one cell of margin),
  so they must be learned again from zero; so does a cell still for ``forget_s``.

The schedule (:mod:`edge.detect_schedule`) then lets motion that stays *entirely* inside
barren cells run the detector only once every ``recheck_s`` (30 s). Motion that stays within
barren cells, cells already looked at in vain and their direct neighbours (the swaying area
and its edge, still being learned) runs it at ``idle_fps`` (1 a second). Motion that reaches
any cell further out — a person walking out of the hedge, across the lawn, into the frame —
runs it at once, and while anything is tracked the detector runs at the full rate wherever
the motion is. So a person walking out of the leaves is looked for within a second, and at
once when they are a cell away; they are tracked from there, and the cells they were found in
are no longer barren.

Why a grid and counts rather than a learned background model of "typical" motion (e.g. an
MOG2 variance per pixel)? It is cheap (192 cells), explainable ("this cell moved 10 times and
the detector never found anything there"), it learns from the detector's own verdict rather
than from pixel statistics, and a person changes pixels in the same way leaves do.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import cv2
import numpy as np

GRID = (16, 12)  # cells across, down


def cell_shares(mask: np.ndarray, grid: tuple[int, int] = GRID) -> np.ndarray:
    """Share of each grid cell's pixels set in ``mask`` (any size): float32 [rows, cols]."""
    return cv2.resize(mask.astype(np.float32), grid, interpolation=cv2.INTER_AREA)


def box_cells(
    boxes: np.ndarray, frame_size: tuple[int, int], grid: tuple[int, int] = GRID, margin: int = 0
) -> np.ndarray:
    """Boolean [rows, cols]: the cells any of ``boxes`` (x1,y1,x2,y2 in frame pixels)
    touches, grown by ``margin`` cells on each side."""
    w, h = frame_size
    cols, rows = grid
    out = np.zeros((rows, cols), dtype=bool)
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        c1, c2 = int(x1 * cols // w) - margin, int(np.ceil(x2 * cols / w)) + margin
        r1, r2 = int(y1 * rows // h) - margin, int(np.ceil(y2 * rows / h)) + margin
        out[max(r1, 0) : max(r2, r1 + 1), max(c1, 0) : max(c2, c1 + 1)] = True
    return out


class BarrenCells:
    """The per-cell memory. Feed it with :meth:`moved` (each motion frame) and :meth:`looked`
    (each detector run); ask :meth:`wakes` whether a frame's motion is worth a run."""

    def __init__(
        self,
        after: int = 3,
        forget_s: float = 600.0,
        *,
        min_share: float = 0.05,
        grid: tuple[int, int] = GRID,
    ) -> None:
        #: Fruitless looks after which a cell is barren.
        self.after = after
        #: A cell without motion for this long is learned afresh (the wind dropped, the
        #: scene may have changed).
        self.forget_s = forget_s
        #: A cell moves when at least this share of its pixels changed (and a motion box
        #: covers it, so specks the gate ignored do not count).
        self.min_share = min_share
        self.grid = grid
        self.reset()

    def reset(self) -> None:
        rows = self.grid[1], self.grid[0]
        self._fruitless = np.zeros(rows, dtype=np.int32)
        self._moved_at = np.full(rows, -np.inf)
        self._since_look = np.zeros(rows, dtype=bool)  # moved since the last detector run

    def moving(
        self, shares: np.ndarray, boxes: np.ndarray, frame_size: tuple[int, int]
    ) -> np.ndarray:
        """Boolean [rows, cols]: the cells this frame's motion really occupies."""
        return (shares >= self.min_share) & box_cells(boxes, frame_size, self.grid)

    def barren(self, ts: float) -> np.ndarray:
        """Boolean [rows, cols]: cells whose motion is not worth the detector at ``ts``."""
        return (self._fruitless >= self.after) & (ts - self._moved_at <= self.forget_s)

    def moved(self, ts: float, cells: np.ndarray) -> None:
        """Motion occupied ``cells`` at ``ts`` (call on every motion frame, run or not)."""
        self._moved_at[cells] = ts
        self._since_look |= cells

    def verdict(self, ts: float, cells: np.ndarray) -> str:
        """How much motion in ``cells`` is worth: ``"barren"`` (every cell barren),
        ``"learning"`` (every cell barren, already looked at in vain, or next to one of
        those: the edge of the swaying area) or ``"new"`` (it reaches further)."""
        fresh = ts - self._moved_at > self.forget_s
        barren = (self._fruitless >= self.after) & ~fresh
        if not (cells & ~barren).any():
            return "barren"
        known = (self._fruitless > 0) & ~fresh
        near = cv2.dilate(known.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        return "learning" if not (cells & ~near).any() else "new"

    def looked(
        self, ts: float, found: np.ndarray | None = None, spare: np.ndarray | None = None
    ) -> None:
        """The detector ran at ``ts``. ``found``: the cells of what it found
        (:meth:`found_cells`), reset; ``spare``: cells not to count either (where a tracked
        object was last seen: a run that missed it behind the leaves is no proof). Every
        other cell that moved since the last run counts one fruitless look."""
        stale = ts - self._moved_at > self.forget_s
        self._fruitless[stale] = 0
        looked = self._since_look.copy()
        for cells in (found, spare):
            if cells is not None:
                looked &= ~cells
        self._fruitless[looked] += 1
        if found is not None:
            self._fruitless[found] = 0
        self._since_look[:] = False

    def found_cells(self, boxes: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
        """The cells to reset for objects found at ``boxes``: under them, one cell around."""
        return box_cells(boxes, frame_size, self.grid, margin=1)

    def save(self, path: Path) -> None:
        """Keep what was learned in ``path`` (written whole, then renamed: a power cut leaves
        the old file or the new one). A gateway that restarts after a power cut then does
        not spend its detector learning the same trees again."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        with tmp.open("wb") as f:
            np.savez(f, fruitless=self._fruitless, moved_at=self._moved_at)
        os.replace(tmp, path)

    def load(self, path: Path) -> bool:
        """Take up what :meth:`save` kept; False (and nothing changed) when ``path`` is
        missing, unreadable or from another grid. Forgetting still applies: cells saved more
        than ``forget_s`` before the next motion there are learned afresh."""
        try:
            with np.load(path) as kept:
                fruitless, moved_at = kept["fruitless"], kept["moved_at"]
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):  # torn by a power cut
            return False
        rows = self.grid[1], self.grid[0]
        if fruitless.shape != rows or moved_at.shape != rows:
            return False
        self._fruitless = fruitless.astype(np.int32)
        self._moved_at = moved_at.astype(np.float64)
        self._since_look[:] = False
        return True

    @property
    def barren_share(self) -> float:
        """Share of the grid learned barren (ignoring forgetting), for stats and tests."""
        return float((self._fruitless >= self.after).mean())
