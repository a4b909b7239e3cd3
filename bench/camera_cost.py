"""What one camera costs a gateway: CPU seconds per second of video, per scene and model.

    .venv/bin/python bench/camera_cost.py             # all scenes, both models
    .venv/bin/python bench/camera_cost.py --quick     # shorter quiet/static scenes

Each scene's frames are decoded once into memory (the decode cost is measured on its own and
added back, per frame), then fed through exactly what the gateway runs per frame — the
camera's :class:`~edge.processor.FrameProcessor` (privacy mask, motion gate, detection
schedule, detector, filters, tracker, rules) and its :class:`~edge.camera_health.CameraHealth`
— with event time = frame time, as fast as the machine goes. The CPU time of the whole process
(``time.process_time``: every thread, onnxruntime's included) divided by the video's duration
is the share of one core the camera needs in real time, measured for **one camera alone**.

**What it leaves out**, and why it never prints a camera count: the cost of N cameras is not
N times this. Measured live (issue 11), 8 busy cameras on 2 cores did not hold, although
``2 / cost`` said 8: with several cameras the detector runs compete for cores and caches
(inference slowed from ~41 to ~100 ms), frames are dropped, and the cost per camera rises.
Also left out here: real-time pacing and capture threads (frames come from memory as fast as
the machine goes), the live decoder of an RTSP stream (a file's decode cost is added back
per frame instead), snapshots and face blur (run only on alerts), the SQLite outbox and
MQTT, the live view, per-camera memory, and the OS. So this figure ranks scenes, models and
settings against each other; a gateway's capacity must be measured live, with N real
pipelines in one agent (issue 11: ``bench/gateway_capacity.py``).

Scenes (OpenCV's sample clips from Debian's opencv-doc, fetched through apt once):

``busy``
    vtest.avi: 795 frames, 768x576 at 10 fps; 4-10 people walk through every frame.
``quiet``
    tree.avi: a tree in the wind, no people, 320x240 at 15 fps; its 68 frames are played
    forward and backward (continuous motion, no jump) to make ``--quiet-s`` seconds.
``static``
    frame 150 of the committed excerpt (768x576, 10 fps) held still for ``--quiet-s``
    seconds with seeded Gaussian sensor noise (sigma 2 grey levels): an empty-looking scene
    where nothing moves.

Every scene has one zone over the whole frame watching people, ``detect.fps`` 5 (the
default). ``idle_fps`` is the default 1 ("as shipped") and, for the quiet scene, also 0.5
and 5 (back-off off) to show what the back-off saves. Targets per camera: busy <= 0.10
core-s per camera-s (issue 11), quiet and static <= 0.03 (issue 3).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from contract.siteconfig import Camera, DetectSettings, ZoneRule  # noqa: E402
from edge.camera_health import CameraHealth  # noqa: E402
from edge.capture import Frame  # noqa: E402
from edge.detectors import make_detector  # noqa: E402
from edge.processor import FrameProcessor  # noqa: E402
from tests.footage import opencv_sample  # noqa: E402

EXCERPT = REPO / "config" / "footage" / "vtest_lawn_excerpt.mp4"
WHOLE_FRAME = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
TARGETS = {"busy": 0.10, "quiet": 0.03, "static": 0.03}  # core-s per camera-s


@dataclass
class Scene:
    name: str
    frames: list[np.ndarray]
    fps: float
    decode_cpu_per_frame: float  # seconds of CPU to decode one frame of the source file

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps


def read_all(path: Path, tries: int = 3) -> tuple[list[np.ndarray], float, float]:
    """Every frame, the file's fps, and the CPU seconds one frame takes to decode (the
    least of ``tries`` whole reads: other processes only ever add to it)."""
    best = float("inf")
    for _ in range(tries):
        cap = cv2.VideoCapture(str(path))
        fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
        frames = []
        c0 = time.process_time()
        while True:
            ok, image = cap.read()
            if not ok:
                break
            frames.append(image)
        best = min(best, (time.process_time() - c0) / max(len(frames), 1))
        cap.release()
    return frames, fps, best


def scenes(quiet_s: float) -> list[Scene]:
    out = []
    vtest, tree = opencv_sample("vtest.avi"), opencv_sample("tree.avi")
    if vtest is None or tree is None:
        raise SystemExit("vtest.avi/tree.avi unavailable (needs apt-get download opencv-doc)")
    frames, fps, dec = read_all(vtest)
    out.append(Scene("busy", frames, fps, dec))
    frames, fps, dec = read_all(tree)
    cycle = frames + frames[-2:0:-1]  # forward, then backward without repeating the ends
    n = round(quiet_s * fps)
    out.append(Scene("quiet", [cycle[i % len(cycle)] for i in range(n)], fps, dec))
    frames, fps, dec = read_all(EXCERPT)
    rng = np.random.default_rng(0)
    still = frames[150].astype(np.int16)
    n = round(quiet_s * fps)
    noisy = [
        np.clip(still + rng.normal(0, 2, still.shape).round(), 0, 255).astype(np.uint8)
        for _ in range(n)
    ]
    out.append(Scene("static", noisy, fps, dec))
    return out


def measure(scene: Scene, model: str, idle_fps: float) -> dict:
    camera = Camera(
        name="bench",
        source="bench.mp4",
        area="bench",
        detect=DetectSettings(model=model, fps=5.0, idle_fps=idle_fps),
        zones=[ZoneRule(name="frame", polygon=WHOLE_FRAME, objects=["person"])],
    )
    processor = FrameProcessor(camera, make_detector(camera.detect, model), "UTC")
    health = CameraHealth(camera.health)
    runs = hits = 0
    inference = 0.0
    c0, w0 = time.process_time(), time.perf_counter()
    for i, image in enumerate(scene.frames):
        t = i / scene.fps
        result = processor.process(Frame(i, t, image, restarted=i == 0))
        health.observe(image, t)
        if result.detected:
            runs += 1
            inference += result.inference_ms
        hits += len(result.hits)
    pipeline_cpu = time.process_time() - c0
    cpu = pipeline_cpu + scene.decode_cpu_per_frame * len(scene.frames)
    cost = cpu / scene.seconds
    return {
        "scene": scene.name,
        "model": model,
        "idle_fps": idle_fps,
        "frames": len(scene.frames),
        "seconds": scene.seconds,
        "runs": runs,
        "runs_per_s": runs / scene.seconds,
        "infer_ms": inference / runs if runs else 0.0,
        "cpu_s": cpu,
        "wall_s": time.perf_counter() - w0,
        "decode_share": scene.decode_cpu_per_frame * scene.fps,
        "pipeline": pipeline_cpu / scene.seconds,
        "cost": cost,
        "alerts": hits,
    }


def main() -> int:
    cv2.setNumThreads(1)  # as the edge agent sets it
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quiet-s", type=float, default=60.0, help="length of quiet/static scenes")
    ap.add_argument("--quick", action="store_true", help="20 s quiet/static scenes")
    args = ap.parse_args()
    quiet_s = 20.0 if args.quick else args.quiet_s
    rows = []
    for scene in scenes(quiet_s):
        for model in ("centernet", "ssdlite"):
            rows.append(measure(scene, model, 1.0))
            if scene.name == "quiet":
                rows.append(measure(scene, model, 0.5))
                rows.append(measure(scene, model, 5.0))
    load = os.getloadavg()[0]
    print(
        f"{cv2.getNumberOfCPUs()} CPUs, load {load:.2f}; detect.fps 5, onnxruntime 1 thread; "
        "cost = CPU s per camera-second (decode included)"
    )
    head = (
        f"{'scene':7} {'model':9} {'idle':>4} {'video s':>7} {'runs/s':>6} {'infer ms':>8} "
        f"{'pipe':>6} {'decode':>6} {'cost':>6} {'target':>13} {'alerts':>6}"
    )
    print(head)
    for r in rows:
        limit = TARGETS[r["scene"]]
        ok = "ok" if r["cost"] <= limit else "MISSED"
        print(
            f"{r['scene']:7} {r['model']:9} {r['idle_fps']:4g} {r['seconds']:7.1f} "
            f"{r['runs_per_s']:6.2f} {r['infer_ms']:8.1f} {r['pipeline']:6.3f} "
            f"{r['decode_share']:6.3f} "
            f"{r['cost']:6.3f} {f'<={limit} {ok}':>13} {r['alerts']:6d}"
        )
    print(
        "pipe: the gateway's own stages; decode: OpenCV decoding the file (codec-bound); "
        "cost = pipe + decode, in core-seconds per camera-second, ONE camera alone"
    )
    print(
        "No camera count: N cameras cost more than N x this (they compete for cores and "
        "caches). Measure capacity live, N real pipelines at once (bench/gateway_capacity.py)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
