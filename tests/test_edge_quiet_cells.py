"""Barren cells: motion that never yields an object stops costing the detector, and a person
walking through it is still found.

The unit rules run on synthetic cells; the safety test on real footage: the committed vtest
lawn excerpt (people walking) with OpenCV's tree.avi (a tree in the wind) blended over the
part of the lawn they walk across, through the real processor and CenterNet.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import EXCERPT

from contract.detect_settings import DetectSettings
from contract.rule_settings import ZoneRule
from contract.siteconfig import Camera
from edge.capture import Frame
from edge.detect_schedule import DetectSchedule
from edge.detections import box_iou
from edge.detectors import make_detector
from edge.processor import FrameProcessor
from edge.quiet_cells import GRID, BarrenCells, box_cells

SIZE = (640, 480)
LEAVES = np.array([[400.0, 40.0, 520.0, 160.0]])  # a bush that moves all day
PATH = np.array([[40.0, 300.0, 100.0, 460.0]])  # a footpath, far from it


def cells(boxes: np.ndarray) -> np.ndarray:
    return box_cells(boxes, SIZE)


def test_cells_become_barren_after_the_set_number_of_fruitless_looks():
    b = BarrenCells(after=3)
    for k in range(3):
        assert b.verdict(k, cells(LEAVES)) != "barren"
        b.moved(k, cells(LEAVES))
        b.looked(k)
    assert b.verdict(3.0, cells(LEAVES)) == "barren"
    assert b.verdict(3.0, cells(PATH)) == "new"  # somewhere else entirely


def test_the_edge_of_the_learned_area_is_learning_not_new():
    b = BarrenCells(after=3)
    b.moved(0.0, cells(LEAVES))
    b.looked(0.0)
    wider = cells(LEAVES + np.array([[-40.0, 0.0, 40.0, 40.0]]))  # a cell further each way
    assert b.verdict(0.5, wider) == "learning"
    assert b.verdict(0.5, cells(LEAVES) | cells(PATH)) == "new"


def test_a_find_resets_the_cells_around_it_and_stillness_is_forgotten():
    b = BarrenCells(after=2, forget_s=60.0)
    for k in range(2):
        b.moved(k, cells(LEAVES))
        b.looked(k)
    assert b.verdict(2.0, cells(LEAVES)) == "barren"
    b.looked(2.0, found=b.found_cells(LEAVES, SIZE))  # someone in the bush
    assert b.verdict(2.1, cells(LEAVES)) != "barren"
    for k in range(2):
        b.moved(3 + k, cells(LEAVES))
        b.looked(3 + k)
    assert b.verdict(5.0, cells(LEAVES)) == "barren"
    assert b.verdict(5.0 + 61.0, cells(LEAVES)) != "barren"  # a calm minute: learn afresh


def test_only_cells_under_a_motion_box_count_as_moving():
    b = BarrenCells()
    shares = np.zeros(GRID[::-1], np.float32)
    shares[:, :] = 0.5  # changed pixels everywhere, but the gate kept only one box
    moving = b.moving(shares, PATH, SIZE)
    assert moving.sum() == cells(PATH).sum()
    assert np.array_equal(moving, cells(PATH))  # those very cells, not just as many
    # ...and under the box, only cells with at least min_share of their pixels changed.
    row, col = np.argwhere(cells(PATH))[0]
    shares[row, col] = b.min_share / 2
    moving = b.moving(shares, PATH, SIZE)
    assert not moving[row, col] and moving.sum() == cells(PATH).sum() - 1


# --- the safety test on footage ------------------------------------------------------------

TREE_AT = (192, 216)  # where the tree texture goes: over the lawn the people walk across
TREE_SIZE = (448, 336)
QUIET_S = 12.0


def _read(path, limit: int | None = None) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while limit is None or len(frames) < limit:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames, fps


def _leaves(base: np.ndarray, tree: np.ndarray) -> np.ndarray:
    """``base`` with the swaying tree blended over part of the lawn (40% tree)."""
    out = base.copy()
    x, y = TREE_AT
    w, h = TREE_SIZE
    patch = cv2.resize(tree, (w, h), interpolation=cv2.INTER_LINEAR)
    out[y : y + h, x : x + w] = cv2.addWeighted(out[y : y + h, x : x + w], 0.6, patch, 0.4, 0)
    return out


@pytest.fixture(scope="module")
def blended(tree_clip) -> list[np.ndarray]:
    """12 s of the empty lawn with the tree moving over it (the quiet part), then the 20 s
    excerpt with the same tree moving over the people (deterministic: no randomness)."""
    people, _ = _read(EXCERPT)
    tree, _ = _read(tree_clip)
    cycle = tree + tree[-2:0:-1]
    empty = np.median(np.stack(people[::4]), axis=0).astype(np.uint8)  # walkers removed
    quiet = int(QUIET_S * 10)
    bases = [empty] * quiet + people
    return [_leaves(base, cycle[i % len(cycle)]) for i, base in enumerate(bases)]


def test_what_was_learned_survives_a_restart_and_a_foreign_file_is_ignored(tmp_path):
    b = BarrenCells(after=2)
    for k in range(2):
        b.moved(k, cells(LEAVES))
        b.looked(k)
    b.save(tmp_path / "lawn.npz")
    again = BarrenCells(after=2)
    assert again.load(tmp_path / "lawn.npz")
    assert again.verdict(3.0, cells(LEAVES)) == "barren"
    assert again.verdict(3.0, cells(PATH)) == "new"
    other = BarrenCells(after=2, grid=(8, 6))
    assert not other.load(tmp_path / "lawn.npz")  # another grid: start afresh
    (tmp_path / "torn.npz").write_bytes(b"PK\x03\x04 half a file")
    assert not BarrenCells().load(tmp_path / "torn.npz")
    assert not BarrenCells().load(tmp_path / "missing.npz")


def test_a_reconnect_keeps_the_learned_cells_but_not_the_timeline():
    schedule = DetectSchedule(DetectSettings(barren_after=2))
    for k in range(2):
        schedule.barren.moved(k, cells(LEAVES))
        schedule.barren.looked(k)
    schedule.reset()  # the stream reconnected: same pole, same bush
    assert schedule.barren.verdict(3.0, cells(LEAVES)) == "barren"
    assert schedule.idle is False


def _run(
    frames: list[np.ndarray], detect: DetectSettings, keep: Path | None = None
) -> tuple[list, list[float]]:
    whole = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    camera = Camera(
        name="lawn",
        source="lawn.mp4",
        area="lawn",
        detect=detect,
        zones=[ZoneRule(name="lawn", polygon=whole, objects=["person"])],
    )
    processor = FrameProcessor(camera, make_detector(camera.detect, "centernet"))
    if keep is not None and keep.is_file():
        assert processor.schedule.barren.load(keep)
    hits, runs = [], []
    for i, image in enumerate(frames):
        result = processor.process(Frame(i, i / 10.0, image.copy(), restarted=i == 0))
        if result.detected:
            runs.append(i / 10.0)
        hits += [(i / 10.0, hit) for hit in result.hits]
    if keep is not None:
        processor.schedule.barren.save(keep)
    return hits, runs


def test_a_person_walking_through_leaves_is_still_found(blended):
    off_hits, off_runs = _run(blended, DetectSettings(barren_after=0))
    on_hits, on_runs = _run(blended, DetectSettings())
    assert off_hits, "the people on the lawn raise zone alerts without suppression"
    # Every alert raised without suppression is raised with it too: same person (their box
    # overlaps), within a second.
    for t, hit in off_hits:
        matches = [
            t2
            for t2, h2 in on_hits
            if abs(t2 - t) <= 1.0 and box_iou(hit.objects.xyxy, h2.objects.xyxy).max() > 0.3
        ]
        assert matches, f"the alert at {t:.1f} s is lost with barren cells"
    assert len(on_hits) >= len(off_hits)
    # And the quiet part costs far fewer detector runs: learned, then rechecked.
    quiet_off = [t for t in off_runs if t < QUIET_S]
    quiet_on = [t for t in on_runs if t < QUIET_S]
    print(
        f"quiet runs {len(quiet_off)} -> {len(quiet_on)}; alerts {len(off_hits)} -> {len(on_hits)}"
    )
    assert len(quiet_on) <= len(quiet_off) / 2


def test_a_person_walking_through_leaves_learned_before_a_restart_is_still_found(blended, tmp_path):
    """The gateway learned the tree, lost power, and came back with the map it kept."""
    quiet = int(QUIET_S * 10)
    keep = tmp_path / "lawn.npz"
    _run(blended[:quiet], DetectSettings(), keep)
    off_hits, _ = _run(blended[quiet:], DetectSettings(barren_after=0))
    on_hits, _ = _run(blended[quiet:], DetectSettings(), keep)
    assert off_hits
    for t, hit in off_hits:
        assert any(
            abs(t2 - t) <= 1.0 and box_iou(hit.objects.xyxy, h2.objects.xyxy).max() > 0.3
            for t2, h2 in on_hits
        ), f"the alert at {t:.1f} s is lost with the kept map"
