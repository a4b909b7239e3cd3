"""The tracker's share of a replay, before and after its score summary was made incremental.

    .venv/bin/python bench/tracker_share.py [VIDEO]     (default: the full vtest.avi)

Until issue 11 a track recomputed ``np.median`` over its scores (and its label from them) on
every read of ``median_score`` or ``label``, and the tracker reads them for every track on
every detector run. Now :class:`edge.score_window.ScoreWindow` updates them once per new
score. This bench replays the same video twice through :func:`edge.replay.replay` (the site
example's ``plaza`` camera, default settings) under ``cProfile``, once with the old
summary (:class:`LegacyScoreWindow`, the code as it was, patched in) and once with the new,
and prints side by side: the replay's profiled time, the time under the tracker's entry
points (``CameraTracker.update`` and ``.confident``), its share, and the reads of the
summary.

cProfile slows Python-heavy code (the tracker) more than native code (onnxruntime), so the
shares are upper bounds; the before/after ratio is the figure to quote. The machine is
shared and noisy: compare the two rows of one run, not runs with each other.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
from collections import deque
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import numpy as np  # noqa: E402

import edge.bytetrack  # noqa: E402
from contract.siteconfig import load_site_config  # noqa: E402
from edge.replay import replay  # noqa: E402
from edge.score_window import ScoreWindow  # noqa: E402
from tests.footage import opencv_sample  # noqa: E402


class LegacyScoreWindow:
    """The summary as it was before: recomputed from the window on every read."""

    def __init__(self, maxlen: int) -> None:
        self._window: deque[tuple[float, str]] = deque(maxlen=maxlen)

    def __len__(self) -> int:
        return len(self._window)

    def add(self, score: float, label: str) -> None:
        self._window.append((score, label))

    @property
    def median(self) -> float:
        return float(np.median([s for s, _ in self._window]))

    @property
    def max(self) -> float:
        return max(s for s, _ in self._window)

    @property
    def label(self) -> str:
        by_label: dict[str, list[float]] = {}
        for s, lab in self._window:
            by_label.setdefault(lab, []).append(s)
        return min(
            by_label, key=lambda lab: (-len(by_label[lab]), -float(np.median(by_label[lab])), lab)
        )


def profiled_replay(video: Path, window: type) -> tuple[float, float, int, int]:
    """(profiled replay s, s under the tracker, reads of median/label, detector runs)."""
    edge.bytetrack.ScoreWindow = window  # what ByteTracker._start builds its tracks with
    config = load_site_config(REPO / "config" / "site.example.yaml")
    profile = cProfile.Profile()
    with tempfile.TemporaryDirectory() as out:
        profile.enable()
        summary = replay(video, Path(out), config=config, camera="plaza", progress=False)
        profile.disable()
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    tracker = reads = 0.0
    for (path, _line, name), (_cc, calls, _tt, cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if path.endswith("edge/tracker.py") and name in ("update", "confident"):
            tracker += cum
        if name in ("median_score", "label") and path.endswith("edge/bytetrack.py"):
            reads += calls
    return total, tracker, int(reads), summary.detected_frames


def main() -> int:
    video = Path(sys.argv[1]) if len(sys.argv) > 1 else opencv_sample("vtest.avi")
    if video is None:
        print("vtest.avi unavailable (needs apt-get download opencv-doc)", file=sys.stderr)
        return 1
    rows = [
        ("before (median per read)", *profiled_replay(video, LegacyScoreWindow)),
        ("after (ScoreWindow)", *profiled_replay(video, ScoreWindow)),
    ]
    edge.bytetrack.ScoreWindow = ScoreWindow
    print(f"{video.name}, replay under cProfile (times inflated by the profiler; noisy machine)")
    print(
        f"{'tracker':26} {'replay s':>8} {'tracker s':>9} {'share':>6} {'ms/run':>6} "
        f"{'reads':>6} {'det.runs':>8}"
    )
    for label, total, tracker, reads, runs in rows:
        print(
            f"{label:26} {total:8.2f} {tracker:9.2f} {tracker / total:6.1%} "
            f"{1000 * tracker / max(runs, 1):6.2f} {reads:6d} {runs:8d}"
        )
    before, after = (r[2] / max(r[4], 1) for r in rows)
    print(f"tracker time per detector run, after / before: {after / before:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
