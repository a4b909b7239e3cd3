"""``DetectSchedule``: decides, frame by frame, whether the detector runs.

The detector is by far the costliest stage (20-80 ms a run, against ~1 ms for everything
else), so it runs only when it can tell us something:

1. **Motion.** Frames in which nothing moved never reach it (the processor's motion gate).
2. **Rate cap.** ``detect.fps`` runs per second of *event time* (so a replay is
   deterministic); Frigate's default of 5 is plenty to follow a walking person. Runs are
   due on a running deadline (``next += period``), not "last run + period": a frame that
   comes a little late (capture jitter, a slow stage) shifts only that run, not all the ones
   after it, so a busy camera reaches the configured rate instead of losing a few percent to
   every late frame. Catch-up is bounded: a run is never due sooner than a quarter period
   after the previous one (a camera at 6-8 fps needs that much to average 5), and a run
   more than a period late re-anchors the deadline, so at most one run is ever owed: no
   bursts after a stall.
3. **Idle back-off.** A tree in the wind, a flag, rain or a flickering sign move all day, and
   the detector finds nothing there run after run. After ``idle_after_s`` of runs that found
   nothing, the schedule remembers which cells of a coarse grid (16x12) that fruitless motion
   covers, and while motion stays inside those cells it runs the detector only
   ``detect.idle_fps`` times a second (1 by default). Motion in any *other* cell — someone
   walking in from the street — runs it at once, at the full rate, and so does any run that
   finds something. Cells forget their motion after ``memory_s`` without it.

4. **Barren cells.** Idle back-off alone still spends ``idle_fps`` runs a second on the tree
   all day. :class:`edge.quiet_cells.BarrenCells` goes further and replaces it whenever the
   motion gate says where motion is: a grid cell whose motion has had ``detect.barren_after``
   fruitless looks (3) is *barren*, and motion that stays entirely in barren cells runs the
   detector only once every ``detect.barren_recheck_s`` (30 s); motion at the edge of what is
   being learned runs it at ``idle_fps``; motion anywhere else at once (within 2). Anything
   found resets the cells around it, and while anything is tracked the rate is ``fps``.

The price of 3 and 4: someone who appears *inside* the fruitlessly moving area (behind the
swaying tree) is seen only when their motion reaches a cell the leaves do not cover, or at
the next idle run / recheck. Set ``idle_fps`` equal to ``fps`` and ``barren_after`` to 0 to
turn both off.
"""

from __future__ import annotations

import numpy as np

from contract.detect_settings import DetectSettings
from edge.quiet_cells import GRID, BarrenCells, box_cells

_SLACK_S = 1e-3


class DetectSchedule:
    """Feed it, in order: :meth:`due` for each frame with motion, :meth:`ran` after a run."""

    def __init__(
        self,
        settings: DetectSettings,
        *,
        cap_fps: bool = True,
        idle_after_s: float = 2.0,
        memory_s: float = 30.0,
        novel_share: float = 0.25,
    ) -> None:
        self.fps = settings.fps
        self.idle_fps = min(settings.idle_fps, settings.fps)
        self.cap_fps = cap_fps
        self.idle_after_s = idle_after_s
        self.memory_s = memory_s
        #: Motion boxes with at least this share of their cells outside the fruitless area
        #: count as new.
        self.novel_share = novel_share
        self.barren_recheck_s = settings.barren_recheck_s
        self.barren = (
            BarrenCells(settings.barren_after, settings.barren_forget_s)
            if settings.barren_after > 0 and cap_fps
            else None
        )
        self.reset()

    def reset(self) -> None:
        """Forget the timeline (after a reconnect or loop): rate, idleness, what is tracked.
        The barren cells stay learned: the trees are where they were, and their own
        forgetting (``barren_forget_s``) and any find there still un-learn them."""
        self._last_run: float | None = None
        self._next_due: float | None = None  # the running deadline of the rate cap
        self._empty_since: float | None = None  # first of the current run of fruitless runs
        self._moved_at = np.full(GRID[::-1], -np.inf)  # [rows, cols]: last fruitless motion
        #: Cells around what the last runs found while anything is tracked (None: nothing
        #: is): motion there runs the detector at the full rate, barren or not.
        self._busy: np.ndarray | None = None

    @property
    def idle(self) -> bool:
        return (
            self._empty_since is not None
            and self._last_run is not None
            and (self._last_run - self._empty_since >= self.idle_after_s)
        )

    def _cells(self, boxes: np.ndarray, frame_size: tuple[int, int]) -> list[np.ndarray]:
        """Per motion box, a boolean [rows, cols] of the grid cells it touches."""
        return [box_cells(b, frame_size) for b in np.asarray(boxes).reshape(-1, 4)]

    def due(
        self,
        ts: float,
        boxes: np.ndarray | None,
        frame_size: tuple[int, int],
        cells: np.ndarray | None = None,
    ) -> bool:
        """Should the detector run on this frame (taken at event time ``ts``, with these
        motion boxes in frame pixels; None when motion gating is off)? ``cells``: the share
        of each grid cell that moved (:attr:`edge.motion.MotionResult.cells`)."""
        moving = None
        if self.barren is not None and cells is not None and boxes is not None:
            moving = self.barren.moving(cells, boxes, frame_size)
            self.barren.moved(ts, moving)
        if not self.cap_fps or self._last_run is None or self._next_due is None:
            return True
        since = ts - self._last_run
        # A millisecond of slack absorbs float rounding (0.1 * 6 != 0.2 * 3).
        if ts < self._next_due - _SLACK_S:
            return False
        if moving is not None and not (self._busy is not None and (moving & self._busy).any()):
            verdict = self.barren.verdict(ts, moving)
            if verdict == "barren":
                return since >= self.barren_recheck_s - _SLACK_S
            if verdict == "learning":
                return since >= 1.0 / self.idle_fps - _SLACK_S
            return True
        if not self.idle or boxes is None or since >= 1.0 / self.idle_fps - _SLACK_S:
            return True
        fruitless = ts - self._moved_at <= self.memory_s
        for cells in self._cells(boxes, frame_size):
            new = cells & ~fruitless
            if new.sum() >= self.novel_share * cells.sum():
                return True
        return False

    def ran(
        self,
        ts: float,
        found: bool,
        boxes: np.ndarray | None,
        frame_size: tuple[int, int],
        found_boxes: np.ndarray | None = None,
    ) -> None:
        """The detector ran at ``ts`` and ``found`` something (or tracks are alive);
        ``found_boxes``: where (frame pixels), so the barren cells there are reset."""
        if self.barren is not None:
            hits = None
            if found_boxes is not None and len(found_boxes):
                hits = self.barren.found_cells(found_boxes, frame_size)
            self.barren.looked(ts, hits, self._busy if found else None)
            # A track lives on through a run that missed it: keep its last cells till then.
            if not found:
                self._busy = None
            elif hits is not None:
                self._busy = hits  # the same cells: under what was found, one around
        period = 1.0 / self.fps
        if self._next_due is None or ts - self._next_due > period:
            # First run, or nothing was due for over a period (a still scene, a stall):
            # start a fresh timeline here rather than owe the runs that were not needed.
            self._next_due = ts + period
        else:
            # On time or a little late: the next deadline keeps the rhythm, but never comes
            # sooner than a quarter period after this run (no bursts).
            self._next_due = max(self._next_due + period, ts + period / 4)
        self._last_run = ts
        if found:
            self._empty_since = None
            return
        if self._empty_since is None:
            self._empty_since = ts
        if boxes is not None:
            for cells in self._cells(boxes, frame_size):
                self._moved_at[cells] = ts
