"""``ScoreWindow``: a track's last N detector scores, summarised as they come.

Rules read a track's median score and label on every frame (Frigate's ``threshold`` is a
median over the track's life), far more often than a track gets a new score. Recomputing
``np.median`` on each read cost 1.0 s of a replay of the excerpt (7,792 reads), so the
summary is updated once per new score instead: the window's scores are also kept sorted
(overall and per label), so a new score is an ``insort``, a leaving one a ``bisect`` and
the median an index. A window holds at most a few hundred scores; ``bisect`` on a Python
list beats any tree structure at that size.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque


class ScoreWindow:
    """The last ``maxlen`` (score, label) pairs with ``median``, ``max`` and ``label`` kept
    up to date: ``label`` is the one seen most often, ties going to the higher median score
    of that label, then to the name."""

    def __init__(self, maxlen: int) -> None:
        self._window: deque[tuple[float, str]] = deque(maxlen=maxlen)
        self._sorted: list[float] = []
        self._by_label: dict[str, list[float]] = {}
        self.median = 0.0
        self.max = 0.0
        self.label = ""

    def __len__(self) -> int:
        return len(self._window)

    def add(self, score: float, label: str) -> None:
        """Take one detection's score and label (the oldest leaves a full window)."""
        if len(self._window) == self._window.maxlen:
            old_score, old_label = self._window[0]
            _remove(self._sorted, old_score)
            _remove(self._by_label[old_label], old_score)
            if not self._by_label[old_label]:
                del self._by_label[old_label]
        self._window.append((score, label))
        insort(self._sorted, score)
        insort(self._by_label.setdefault(label, []), score)
        self.median = _median(self._sorted)
        self.max = self._sorted[-1]
        by = self._by_label
        self.label = min(by, key=lambda lab: (-len(by[lab]), -_median(by[lab]), lab))


def _median(ordered: list[float]) -> float:
    """Median of a sorted list, as ``np.median`` gives it (the mean of the middle two)."""
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _remove(ordered: list[float], value: float) -> None:
    del ordered[bisect_left(ordered, value)]
