"""People-count accuracy and speed of every detector variant we offer, on hand-labelled frames
of vtest.avi, beside fp32 CenterNet on onnxruntime measured in the same run.

    .venv/bin/python bench/detector_accuracy.py [--runs N] [VIDEO]

Labels: ``tests/data/vtest_people_counts.json`` (26 frames over the whole 795-frame clip,
counted by eye; every visible person, however small or hidden). For each variant:

* **MAE** and **worst** error of the person count (found - labelled; negative = missed) at the
  model's configured thresholds (``detect.filters`` defaults, the same rows the tracker sees);
* **densest**: the errors on the two densest frames (135 and 735, 9 people each);
* **ms**: network time of one ``detect()`` on the densest frame, one thread, median of N runs.
  The runs go round-robin over the variants, so load from other work on this shared 2-core
  machine falls on all of them alike; the **ratio** to the baseline is the figure to quote.

Also CenterNet on *tiles* (the frame cut into overlapping squares, each seen at a larger scale)
and on the *busy region* at the top of the plaza, where the far people are: can a higher
effective input size find the people the whole-frame run misses?

OpenVINO variants run when the ``openvino`` package is importable (``pip install
villagewatch[openvino]``); otherwise the table says they were skipped. The clip comes from
Debian's opencv-doc (fetched through apt once).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from contract.detect_settings import DetectSettings  # noqa: E402
from edge.detectors import CenterNetDetector, SsdLiteDetector  # noqa: E402
from edge.detectors.sessions import openvino_installed  # noqa: E402
from tests.footage import opencv_sample, read_frames  # noqa: E402

LABELS = REPO / "tests" / "data" / "vtest_people_counts.json"
W, H = 768, 576
#: Two 448x576 tiles overlapping by 128 px: each is seen at 512/576 = 0.89x instead of 0.67x.
TILES_2 = [(0.0, 0.0, 448.0, 576.0), (320.0, 0.0, 768.0, 576.0)]
#: Three 320-px squares over the top of the plaza (far people) at 1.6x, plus the whole frame.
BUSY_TOP = [
    (0.0, 0.0, 768.0, 576.0),
    (0.0, 60.0, 320.0, 380.0),
    (224.0, 60.0, 544.0, 380.0),
    (448.0, 40.0, 768.0, 360.0),
]


@dataclass
class Variant:
    """One row of the table: a detector and the regions it looks at."""

    name: str
    model: str
    precision: str
    backend: str
    regions: list | None = None
    detector: object = None
    errors: dict[int, int] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)

    def build(self) -> None:
        settings = DetectSettings(model=self.model, precision=self.precision, backend=self.backend)
        make = CenterNetDetector if self.model == "centernet" else SsdLiteDetector
        self.detector = make(settings)

    def people(self, frame) -> int:
        return int((self.detector.detect(frame, self.regions).label == "person").sum())


def variants() -> list[Variant]:
    rows = [Variant("baseline", "centernet", "fp32", "onnxruntime")]
    backends = ["onnxruntime"] + (["openvino"] if openvino_installed() else [])
    for backend in backends:
        for model in ("centernet", "ssdlite"):
            precisions = ("fp32", "bf16", "int8") if backend == "openvino" else ("fp32", "int8")
            for precision in precisions:
                if (model, precision, backend) != ("centernet", "fp32", "onnxruntime"):
                    rows.append(Variant("", model, precision, backend))
    if openvino_installed():
        rows.append(Variant("auto", "centernet", "fp32", "auto"))
    rows.append(Variant("2 tiles", "centernet", "fp32", "onnxruntime", TILES_2))
    rows.append(Variant("frame + 3 top", "centernet", "fp32", "onnxruntime", BUSY_TOP))
    if openvino_installed():
        rows.append(Variant("2 tiles", "centernet", "fp32", "openvino", TILES_2))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", default=None)
    ap.add_argument("--runs", type=int, default=15, help="timed runs per variant (median)")
    args = ap.parse_args()
    video = Path(args.video) if args.video else opencv_sample("vtest.avi")
    if video is None:
        print("vtest.avi unavailable: needs Debian's opencv-doc (apt-get download opencv-doc)")
        return 1
    labels = {int(k): v for k, v in json.loads(LABELS.read_text())["counts"].items()}
    frames = read_frames(video, set(labels))
    densest = sorted(labels, key=lambda i: (-labels[i], i))[:2]
    rows = variants()
    for row in rows:
        row.build()
        row.errors = {i: row.people(frames[i]) - labels[i] for i in sorted(labels)}
    busy = frames[densest[0]]
    for row in rows:  # warm-up
        row.people(busy)
    for _ in range(args.runs):
        for row in rows:
            row.people(busy)
            row.times.append(row.detector.last_inference_ms)
    report(rows, labels, densest, video, args.runs)
    return 0


def report(rows: list[Variant], labels: dict, densest: list[int], video: Path, runs: int) -> None:
    base = statistics.median(rows[0].times)
    print(
        f"{video.name}: {len(labels)} labelled frames, {sum(labels.values())} people; "
        f"densest {densest} ({labels[densest[0]]} people); 1 thread; ms = median of {runs} "
        f"round-robin runs on frame {densest[0]}"
    )
    head = f"{'variant':<14}{'model':<10}{'prec':<6}{'backend':<12}{'MAE':>6}{'worst':>7}"
    print(head + f"{'densest':>10}{'ms':>8}{'x base':>8}")
    for row in rows:
        errs = list(row.errors.values())
        mae = sum(abs(e) for e in errs) / len(errs)
        worst = min(errs, key=lambda e: (-abs(e), e))
        dense = "/".join(f"{row.errors[i]:+d}" for i in densest)
        ms = statistics.median(row.times)
        shown = f"auto:{row.detector.backend[:4]}" if row.backend == "auto" else row.backend
        print(
            f"{row.name:<14}{row.model:<10}{row.precision:<6}{shown:<12}{mae:>6.2f}"
            f"{worst:>+7d}{dense:>10}{ms:>8.1f}{ms / base:>8.2f}"
        )
    if not openvino_installed():
        print("openvino: skipped (not installed; pip install 'villagewatch[openvino]')")
    print(
        "errors = found - labelled (negative: people missed). Timings share a busy 2-core "
        "machine with other work: quote the ratios."
    )


if __name__ == "__main__":
    sys.exit(main())
