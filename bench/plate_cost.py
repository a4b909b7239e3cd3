"""What the plate stage costs a camera, beside its detector, on footage with vehicles.

    .venv/bin/python bench/plate_cost.py            # both scenes
    .venv/bin/python bench/plate_cost.py --quick    # shorter scenes

Each scene's frames are decoded into memory first, then fed through the camera's
:class:`~edge.processor.FrameProcessor` (motion, detection schedule at ``detect.fps`` 5,
CenterNet, filters, tracker, **plate stage**, one people zone) with event time = frame time.
The CPU time of the process (``time.process_time``, onnxruntime's threads included; both
networks run with 1 intra-op thread) is taken around each detector run and each plate-stage
call, and divided by the scene's duration: core-seconds per camera-second.

Scenes:

``vtest``
    OpenCV's ``vtest.avi`` (Debian ``opencv-doc``), a real plaza at 768x576, 10 fps, with
    people walking and a parked van and car in the background. The vehicles are tracked, but
    at 59 px high and less they stay below ``min_box_height``: the stage looks and never
    reads. This is the stage's cost on a camera where no plate is legible.
``vans``
    The same footage with a van driving slowly across the foreground, every 8 s a new one with
    a new plate: **composited** (the vtest van upscaled 4x, a rendered plate on it: see
    ``tests/plate_kit.py``), because the footage has no vehicle close enough to read. Each van
    is a new track: up to ``max_attempts`` (3) OCR runs each.

Measured 2026-12-02 (48 s scenes, onnxruntime 1.32, rapidocr 3.10.0; the plate-stage / detector
ratio is the figure to quote):

=====  ========  ========  ======  ========  ========  ==========
scene  detector  plates    ratio   OCR runs  ms/OCR    vans found
=====  ========  ========  ======  ========  ========  ==========
vtest  0.2350    0.0015    0.6%    2         35        -
vans   0.2256    0.0126    5.6%    20        30        6/6
=====  ========  ========  ======  ========  ========  ==========

The machine is shared by other jobs and has 2 cores: absolute times are noisy, so compare the
plate stage with the detector of the same run (the ratio column). One camera alone; never
multiply this into a camera count (see bench/camera_cost.py for why).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contract.siteconfig import Camera, ZoneRule
from contract.watchlist import PLATE_KIND, PlateEntry, WatchlistUpdate
from contract.watchlist_settings import PlateSettings
from edge.capture import Frame
from edge.detectors import make_detector
from edge.plate_ocr import PlateOCR
from edge.plates import PlateReader, PlateResult
from edge.processor import FrameProcessor
from edge.watchlist import WatchlistHolder
from tests.footage import opencv_sample
from tests.plate_kit import render_plate, van_scene

FPS = 10.0
PASS_S = 8.0
PLATES = ["粤C·12345", "沪A·7K351", "京B·39946", "川A·D8821", "苏E·5Q207", "浙B·66T19"]


@dataclass
class Clock:
    cpu: float = 0.0
    calls: int = 0

    def timed(self, fn, *args, **kwargs):
        c0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            self.cpu += time.process_time() - c0
            self.calls += 1


class TimedDetector:
    """The real detector, with the CPU time of its runs counted."""

    def __init__(self, inner, clock: Clock) -> None:
        self.inner, self.clock = inner, clock

    def detect(self, *args, **kwargs):
        return self.clock.timed(self.inner.detect, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


class TimedPlateReader(PlateReader):
    """The real plate stage, with the CPU time of its calls counted."""

    clock: Clock

    def process(self, image: np.ndarray, tracked, ts: float) -> PlateResult:
        return self.clock.timed(super().process, image, tracked, ts)


def frames(count: int, vans: bool) -> list[np.ndarray]:
    import cv2

    path = opencv_sample("vtest.avi")
    if path is None:
        raise SystemExit("needs vtest.avi (Debian opencv-doc)")
    cap = cv2.VideoCapture(str(path))
    out = []
    for i in range(count):
        ok, image = cap.read()
        if not ok:
            break
        if vans:
            step = int(PASS_S * FPS)
            n, k = divmod(i, step)
            x = int(436 * k / (step - 1))
            plate = render_plate(PLATES[n % len(PLATES)], 40)
            image, _ = van_scene(plate, image, at=(x, 250))
        out.append(image)
    cap.release()
    return out


def run(scene: str, images: list[np.ndarray], ocr: PlateOCR) -> tuple[Clock, Clock, int, int]:
    """Detector clock, plate-stage clock, OCR runs, and watchlist alerts (every van's plate
    is on the list)."""
    camera = Camera(
        name=scene,
        source="x.mp4",
        area="plaza",
        plates=True,
        zones=[ZoneRule(name="all", polygon=[(0, 0), (1, 0), (1, 1), (0, 1)], objects=["person"])],
        detect={"filters": {"truck": {"min_score": 0.3, "threshold": 0.35}}},
    )
    det_clock, plate_clock = Clock(), Clock()
    holder = WatchlistHolder("site", "gw", "vw")
    listed = [
        PlateEntry(
            id=uuid.uuid4().hex,
            plate=p,
            reason="bench",
            owner="bench",
            case_ref="bench",
            expires_at=time_now() + timedelta(days=1),
        )
        for p in PLATES
    ]
    update = WatchlistUpdate(site="site", node="gw", issued_at=time_now(), plates=listed)
    holder.set(update)
    reader = TimedPlateReader(camera, PlateSettings(), holder, ocr)
    reader.clock = plate_clock
    detector = TimedDetector(make_detector(camera.detect, "centernet"), det_clock)
    processor = FrameProcessor(camera, detector, stages=[reader])
    found = 0
    for i, image in enumerate(images):
        result = processor.process(Frame(i, 1e6 + i / FPS, image.copy(), restarted=i == 0))
        found += sum(hit.kind == PLATE_KIND for hit in result.hits)
    return det_clock, plate_clock, reader.runs, found


def time_now() -> datetime:
    return datetime.now(UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="24 s scenes instead of 48 s")
    args = parser.parse_args()
    count = 240 if args.quick else 480
    ocr = PlateOCR()
    ocr.read_plate(render_plate("粤C·12345", 40))  # load the models outside the timing
    print("CPU core-seconds per camera-second (1 camera alone; shared 2-core machine)")
    print(
        f"{'scene':<7} {'video s':>7} {'detector':>9} {'plates':>8} {'ratio':>6} "
        f"{'det runs':>8} {'OCR runs':>8} {'ms/OCR':>7} {'vans found':>10}"
    )
    for scene in ("vtest", "vans"):
        images = frames(count, vans=scene == "vans")
        seconds = len(images) / FPS
        det, plates, runs, found = run(scene, images, ocr)
        vans = f"{found}/{len(images) // int(PASS_S * FPS)}" if scene == "vans" else "-"
        per_ocr = 1000 * plates.cpu / runs if runs else 0.0
        print(
            f"{scene:<7} {seconds:>7.0f} {det.cpu / seconds:>9.4f} {plates.cpu / seconds:>8.4f} "
            f"{plates.cpu / det.cpu:>6.1%} {det.calls:>8} {runs:>8} {per_ocr:>7.0f} {vans:>10}"
        )
    print("ratio = plate stage / detector; ms/OCR = the stage's CPU per OCR run (crop, OCR, match)")
    print("vans found: watchlist_plate alerts / vans that drove past (all their plates listed)")


if __name__ == "__main__":
    main()
