"""Tracker benchmark: ``ByteTracker`` vs ``IouTracker`` on real pedestrian tracks.

Run: ``.venv/bin/python bench/tracker.py`` (add ``--seeds 5`` to average more corruptions).

**Ground truth.** The ``motmetrics`` package ships the MOT15 ground truth of two real street
sequences, TUD-Campus (71 frames) and TUD-Stadtmitte (179 frames), 640x480 at 25 fps, in
``motmetrics/data/<seq>/gt.txt``, and a reference tracker's output for each in ``test.txt``.
No images ship, so the detector is simulated from the ground truth.

**Simulated detector** (:func:`corrupt`, seeded, the same boxes for every tracker):

* *Occlusion.* A box's occlusion is the largest fraction of it covered by one nearer box
  (a box whose bottom edge is lower in the image stands closer to the camera).
* *Misses.* A box is dropped with probability ``p_drop + occ_drop * occlusion``.
* *Scores.* Boxes at least 30 % occluded, and a random ``p_low`` of the others, score
  uniformly in 0.15-0.50 (the range ByteTrack's second stage exists for); the rest 0.55-0.95.
* *Jitter.* The centre moves by N(0, ``jitter``) box sizes; width and height scale by
  exp(N(0, ``jitter``)).
* *False positives.* Poisson(``fp_per_frame``) person-shaped boxes per frame anywhere in the
  frame, scoring 0.1-0.7.

**Conditions.** ``clean`` = the ground truth boxes scoring 0.9; ``noisy`` = the simulated
detector; ``/2``, ``/3``, ``/5`` = only every 2nd, 3rd, 5th frame is processed (12.5, 8.3,
5 fps), like the pipeline's detector fps cap, and only those frames are scored;
``ref-boxes`` = the reference tracker's boxes from ``test.txt`` with its ids removed,
scoring 0.9. The ``reference`` row scores ``test.txt`` itself, ids included.

**Trackers.** ``ByteTracker()`` with its defaults gets every box with the frame time as
``timestamp``. ``IouTracker()`` (``bench/iou_tracker.py``) with its defaults gets the boxes
scoring ≥ 0.45 — what the pipeline's detector passes on today
(``DetectSettings.min_score["person"]``). Both output the detector's boxes with ids; those
are what is scored.

**Metrics** are computed by ``motmetrics`` (``MOTAccumulator``, ``metrics.compute``) with a box
counted as the same object as a ground truth box at IoU ≥ 0.5. The IoU distances are computed
here, not by ``motmetrics.distances.iou_matrix``: motmetrics 1.4.0, the latest release, calls
``np.asfarray``, which NumPy 2 removed (fixed upstream in py-motmetrics PR #200, unreleased).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import motmetrics as mm  # noqa: E402
import numpy as np  # noqa: E402

from bench.iou_tracker import IouTracker  # noqa: E402
from edge.bytetrack import ByteTracker  # noqa: E402
from edge.detections import Detections, box_iou  # noqa: E402

SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")
FPS = 25.0
FRAME_SIZE = (640, 480)
MATCH_IOU = 0.5
IOU_TRACKER_MIN_SCORE = 0.45


@dataclass(frozen=True)
class Boxes:
    """One frame of a MOT file: ids [N] and corner boxes [N,4]."""

    ids: np.ndarray
    xyxy: np.ndarray


@dataclass(frozen=True)
class Sequence:
    name: str
    frames: dict[int, Boxes]  # 1-based frame number → ground truth
    reference: dict[int, Boxes]  # the reference tracker's output (test.txt)
    n_frames: int


@dataclass(frozen=True)
class Corruption:
    p_drop: float = 0.08
    occ_drop: float = 0.4
    p_low: float = 0.1
    jitter: float = 0.04
    fp_per_frame: float = 0.5


def data_dir() -> Path:
    return Path(mm.__file__).parent / "data"


def load_mot(path: Path) -> dict[int, Boxes]:
    """A MOTChallenge text file (frame, id, left, top, width, height, ...) by frame."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    frames: dict[int, Boxes] = {}
    for f in np.unique(rows[:, 0]).astype(int):
        r = rows[rows[:, 0] == f]
        xyxy = np.concatenate([r[:, 2:4], r[:, 2:4] + r[:, 4:6]], axis=1).astype(np.float32)
        frames[int(f)] = Boxes(r[:, 1].astype(np.int64), xyxy)
    return frames


def load_sequence(name: str) -> Sequence:
    gt = load_mot(data_dir() / name / "gt.txt")
    ref = load_mot(data_dir() / name / "test.txt")
    return Sequence(name, gt, ref, max(gt))


def clean(seq: Sequence) -> dict[int, Detections]:
    """The ground truth as a perfect detector would report it."""
    return {f: _persons(b.xyxy, np.full(len(b.ids), 0.9)) for f, b in seq.frames.items()}


def reference_boxes(seq: Sequence) -> dict[int, Detections]:
    """The reference tracker's boxes with its ids thrown away."""
    return {f: _persons(b.xyxy, np.full(len(b.ids), 0.9)) for f, b in seq.reference.items()}


def corrupt(seq: Sequence, c: Corruption = Corruption(), seed: int = 0) -> dict[int, Detections]:
    """A simulated detector's output for every frame (see the module docstring)."""
    rng = np.random.default_rng(seed)
    out: dict[int, Detections] = {}
    width, height = FRAME_SIZE
    for f in range(1, seq.n_frames + 1):
        gt = seq.frames.get(f, Boxes(np.zeros(0, np.int64), np.zeros((0, 4), np.float32)))
        occ = _occlusion(gt.xyxy)
        keep = rng.random(len(occ)) >= c.p_drop + c.occ_drop * occ
        low = (occ >= 0.3) | (rng.random(len(occ)) < c.p_low)
        score = np.where(low, rng.uniform(0.15, 0.5, len(occ)), rng.uniform(0.55, 0.95, len(occ)))
        w = gt.xyxy[:, 2] - gt.xyxy[:, 0]
        h = gt.xyxy[:, 3] - gt.xyxy[:, 1]
        cx = (gt.xyxy[:, 0] + gt.xyxy[:, 2]) / 2 + rng.normal(0, c.jitter, len(w)) * w
        cy = (gt.xyxy[:, 1] + gt.xyxy[:, 3]) / 2 + rng.normal(0, c.jitter, len(h)) * h
        w = w * np.exp(rng.normal(0, c.jitter, len(w)))
        h = h * np.exp(rng.normal(0, c.jitter, len(h)))
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)[keep]
        n_fp = rng.poisson(c.fp_per_frame)
        fh = rng.uniform(60, 220, n_fp)
        fw = fh * rng.uniform(0.3, 0.5, n_fp)
        fx = rng.uniform(0, width - fw)
        fy = rng.uniform(0, height - fh)
        fps_boxes = np.stack([fx, fy, fx + fw, fy + fh], axis=1)
        out[f] = _persons(
            np.concatenate([boxes, fps_boxes]),
            np.concatenate([score[keep], rng.uniform(0.1, 0.7, n_fp)]),
        )
    return out


def run_tracker(
    make: Callable[[], object],
    detections: dict[int, Detections],
    n_frames: int,
    stride: int = 1,
    min_score: float = 0.0,
) -> tuple[dict[int, Detections], float]:
    """Feed every ``stride``-th frame to a fresh tracker; return its output and ms per frame."""
    tracker = make()
    out: dict[int, Detections] = {}
    spent = 0.0
    for f in range(1, n_frames + 1, stride):
        dets = detections.get(f, Detections.empty())
        dets = dets[dets.score >= min_score] if len(dets) else dets
        t0 = time.perf_counter()
        if isinstance(tracker, ByteTracker):
            out[f] = tracker.update(dets, timestamp=(f - 1) / FPS)
        else:
            out[f] = tracker.update(dets)  # type: ignore[attr-defined]
        spent += time.perf_counter() - t0
    return out, 1000.0 * spent / max(len(out), 1)


def evaluate(seq: Sequence, hyp: dict[int, Boxes | Detections], frames: list[int]) -> dict:
    """MOTA, IDF1, ID switches, FP, FN and the number of distinct ids output on ``frames``."""
    acc = mm.MOTAccumulator(auto_id=False)
    hyp_ids: set[int] = set()
    for f in frames:
        gt = seq.frames.get(f)
        gt_ids = gt.ids if gt is not None else np.zeros(0, np.int64)
        gt_xyxy = gt.xyxy if gt is not None else np.zeros((0, 4), np.float32)
        h = hyp.get(f)
        if isinstance(h, Detections):
            tracked = h[h.track_id >= 0] if len(h) else h
            h_ids, h_xyxy = tracked.track_id, tracked.xyxy
        elif h is not None:
            h_ids, h_xyxy = h.ids, h.xyxy
        else:
            h_ids, h_xyxy = np.zeros(0, np.int64), np.zeros((0, 4), np.float32)
        hyp_ids.update(int(i) for i in h_ids)
        dist = 1.0 - box_iou(gt_xyxy, h_xyxy).astype(np.float64)
        dist[dist > 1.0 - MATCH_IOU] = np.nan
        acc.update(gt_ids.tolist(), np.asarray(h_ids).tolist(), dist, frameid=f)
    names = ["mota", "idf1", "num_switches", "num_false_positives", "num_misses"]
    summary = mm.metrics.create().compute(acc, metrics=names, name=seq.name)
    row = {k: float(summary[k].iloc[0]) for k in names}
    row["tracks"] = len(hyp_ids)
    return row


def _persons(xyxy: np.ndarray, score: np.ndarray) -> Detections:
    return Detections.from_arrays(xyxy, score, ["person"] * len(score))


def _occlusion(xyxy: np.ndarray) -> np.ndarray:
    """Per box, the largest fraction of it covered by one box standing nearer the camera."""
    n = len(xyxy)
    if n == 0:
        return np.zeros(0)
    x1 = np.maximum(xyxy[:, None, 0], xyxy[None, :, 0])
    y1 = np.maximum(xyxy[:, None, 1], xyxy[None, :, 1])
    x2 = np.minimum(xyxy[:, None, 2], xyxy[None, :, 2])
    y2 = np.minimum(xyxy[:, None, 3], xyxy[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    nearer = xyxy[None, :, 3] > xyxy[:, None, 3]  # [i, j]: j's feet are lower than i's
    frac = np.where(nearer, inter / np.maximum(area[:, None], 1e-9), 0.0)
    return frac.max(axis=1)


TRACKERS: dict[str, tuple[Callable[[], object], float]] = {
    "ByteTracker": (ByteTracker, 0.0),
    "IouTracker": (IouTracker, IOU_TRACKER_MIN_SCORE),
}


def benchmark(seeds: int = 3) -> list[dict]:
    rows: list[dict] = []
    for name in SEQUENCES:
        seq = load_sequence(name)
        all_frames = list(range(1, seq.n_frames + 1))
        ref = evaluate(seq, seq.reference, all_frames)
        rows.append({"seq": name, "cond": "reference", "tracker": "test.txt", "ms": 0.0, **ref})
        conditions = [("clean", clean(seq), 1), ("ref-boxes", reference_boxes(seq), 1)]
        for label, stride in [("noisy", 1), ("noisy /2", 2), ("noisy /3", 3), ("noisy /5", 5)]:
            conditions.append((label, None, stride))
        for cond, dets, stride in conditions:
            frames = all_frames[::stride]
            for tracker_name, (make, min_score) in TRACKERS.items():
                runs = []
                for seed in range(seeds if dets is None else 1):
                    d = dets if dets is not None else corrupt(seq, seed=seed)
                    hyp, ms = run_tracker(make, d, seq.n_frames, stride, min_score)
                    runs.append({**evaluate(seq, hyp, frames), "ms": ms})
                mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
                rows.append({"seq": name, "cond": cond, "tracker": tracker_name, **mean})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="corruption seeds to average")
    args = parser.parse_args()
    rows = benchmark(args.seeds)
    head = (
        f"{'sequence':<15} {'condition':<10} {'tracker':<12} {'MOTA':>6} {'IDF1':>6} "
        f"{'IDsw':>5} {'FP':>6} {'FN':>6} {'tracks':>6} {'ms/frame':>8}"
    )
    print(f"noisy rows: mean of {args.seeds} corruption seeds; MOTA/IDF1 at IoU >= {MATCH_IOU}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['seq']:<15} {r['cond']:<10} {r['tracker']:<12} {r['mota']:>6.3f} "
            f"{r['idf1']:>6.3f} {r['num_switches']:>5.1f} {r['num_false_positives']:>6.1f} "
            f"{r['num_misses']:>6.1f} {r['tracks']:>6.1f} {r['ms']:>8.3f}"
        )


if __name__ == "__main__":
    main()
