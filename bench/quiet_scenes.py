"""What a quiet camera costs: a 60 s replay of a tree in the wind (OpenCV's ``tree.avi``, no
people, looped back and forth) and of a still scene, beside merely decoding the same files,
in one run (issue 11's goal: the tree within 3x of decode-only).

    .venv/bin/python bench/quiet_scenes.py

Three ways through each file, each in its own fresh replay (``edge.replay.replay``, the demo
site's ``plaza`` camera: CenterNet at 5 detect-fps, its zones, camera health, face blur):

``decode only``  OpenCV reads the frames and does nothing else;
``before``       the pipeline as it was: idle back-off at ``idle_fps`` 1, no barren cells
                 (``detect.barren_after: 0``);
``after``        the default settings: barren cells on (:mod:`edge.quiet_cells`), learning
                 them from nothing during the minute;
``restarted``    the same again as a gateway that learned the scene before a restart (a
                 power cut): it starts from the cells the ``after`` run kept
                 (``replay(quiet_cells=...)``, as the agent keeps them in its data dir).

The 60 s clips are written once to ``.cache/quiet-scenes/`` as MPEG-4 part 2 (``mp4v``; this
OpenCV build has no H.264 encoder, and part 2 decodes at a similar cost per pixel): tree.avi
decodes to 68 frames at 15 fps (320x240), played 0..67..1 and again for 900 frames. The still
clip is its first frame for 60 s. This machine is shared and has 2 cores: wall times are
noisy, so compare the ratios printed beside them, not absolute seconds.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from contract.siteconfig import SiteConfig, load_site_config  # noqa: E402
from edge.replay import replay  # noqa: E402
from tests.footage import opencv_sample, read_clip  # noqa: E402

CACHE = REPO / ".cache" / "quiet-scenes"
SECONDS = 60.0


def write_clip(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """``frames`` as an mp4v file at ``path`` (written once; the bytes are what is timed)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    tmp = path.with_suffix(".part.mp4")
    out = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for image in frames:
        out.write(image)
    out.release()
    tmp.rename(path)
    return path


def quiet_clips(tree: Path) -> tuple[Path, Path, float]:
    """(the tree looped back and forth for 60 s, its first frame still for 60 s, fps)."""
    frames, fps = read_clip(tree, 15.0)
    cycle = frames + frames[-2:0:-1]
    n = round(SECONDS * fps)
    swaying = write_clip(CACHE / "tree_60s.mp4", [cycle[i % len(cycle)] for i in range(n)], fps)
    still = write_clip(CACHE / "still_60s.mp4", [frames[0]] * n, fps)
    return swaying, still, fps


def decode_only(video: Path) -> tuple[int, float]:
    t = time.perf_counter()
    cap = cv2.VideoCapture(str(video))
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    return frames, time.perf_counter() - t


def with_detect(config: SiteConfig, camera: str, **detect: object) -> SiteConfig:
    """``config`` with these ``detect`` settings on ``camera``."""

    def cam(c):
        if c.name != camera:
            return c
        return c.model_copy(update={"detect": c.detect.model_copy(update=detect)})

    gateways = [
        g.model_copy(update={"cameras": [cam(c) for c in g.cameras]}) for g in config.gateways
    ]
    return config.model_copy(update={"gateways": gateways})


def main() -> int:
    tree = opencv_sample("tree.avi")
    if tree is None:
        print("tree.avi unavailable (needs apt-get download opencv-doc)", file=sys.stderr)
        return 1
    swaying, still, fps = quiet_clips(tree)
    config = load_site_config(REPO / "config" / "site.example.yaml")
    modes = {
        "before": with_detect(config, "plaza", idle_fps=1.0, barren_after=0),
        "after": config,
    }
    print(
        f"{SECONDS:.0f} s at {fps:g} fps, 320x240 mp4v; plaza camera (CenterNet, 5 detect-fps), "
        f"{cv2.getNumberOfCPUs()} CPUs, onnxruntime 1 thread; shared machine: read the ratios"
    )
    print(
        f"{'clip':8} {'mode':12} {'frames':>6} {'det.runs':>8} {'alerts':>6} {'wall s':>7} "
        f"{'x decode':>8}"
    )
    for name, video in (("tree", swaying), ("still", still)):
        frames, base = decode_only(video)
        print(f"{name:8} {'decode only':12} {frames:6d} {0:8d} {0:6d} {base:7.2f} {1.0:8.2f}")
        with tempfile.TemporaryDirectory() as kept:
            cells = Path(kept) / "plaza.npz"
            for mode, cfg in (*modes.items(), ("restarted", config)):
                with tempfile.TemporaryDirectory() as out:
                    s = replay(
                        video,
                        Path(out),
                        config=cfg,
                        camera="plaza",
                        progress=False,
                        quiet_cells=cells if mode != "before" else None,
                    )
                print(
                    f"{name:8} {mode:12} {s.frames:6d} {s.detected_frames:8d} {s.alerts:6d} "
                    f"{s.seconds:7.2f} {s.seconds / base:8.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
