"""Replay throughput on the full vtest.avi (795 frames, 768x576, 10 fps), beside the rate at
which the same machine merely decodes the same file, in the same run (so the ratio holds on a
noisy machine).

    .venv/bin/python bench/replay_throughput.py [VIDEO]

Modes: ``decode`` (OpenCV read only), ``default`` (motion gate + detector at most
``detect.fps`` per second of video, the live configuration) and ``every-frame`` (detector on
every frame). The clip comes from Debian's opencv-doc (fetched through apt once).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import cv2  # noqa: E402

from contract.siteconfig import load_site_config  # noqa: E402
from edge.replay import replay  # noqa: E402
from tests.footage import opencv_sample  # noqa: E402


def decode_only(video: Path) -> tuple[int, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    cap = cv2.VideoCapture(str(video))
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    return frames, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    video = Path(sys.argv[1]) if len(sys.argv) > 1 else opencv_sample("vtest.avi")
    if video is None:
        print("vtest.avi unavailable (needs apt-get download opencv-doc)", file=sys.stderr)
        return 1
    config = load_site_config(REPO / "config" / "site.example.yaml")
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    cap.release()

    rows = []
    frames, wall, cpu = decode_only(video)
    rows.append(("decode only", frames, wall, cpu, 0, 0, 0.0))
    for label, every in (("replay default", False), ("replay --every-frame", True)):
        with tempfile.TemporaryDirectory() as out:
            c0 = time.process_time()
            s = replay(
                video, Path(out), config=config, camera="plaza", every_frame=every, progress=False
            )
            rows.append(
                (
                    label,
                    s.frames,
                    s.seconds,
                    time.process_time() - c0,
                    s.detected_frames,
                    s.alerts,
                    s.inference_ms,
                )
            )

    decode_fps = rows[0][1] / rows[0][2]
    print(
        f"{video.name}: {frames} frames at {fps:g} fps ({frames / fps:.1f} s of video), "
        f"{cv2.getNumberOfCPUs()} CPUs, onnxruntime 1 thread"
    )
    print(
        f"{'mode':22} {'frames':>6} {'det.runs':>8} {'alerts':>6} {'wall s':>7} {'fps':>7} "
        f"{'x decode':>8} {'x realtime':>10} {'cpu s':>6} {'infer ms':>8}"
    )
    for label, n, wall, cpu, det, alerts, inf in rows:
        f = n / wall
        print(
            f"{label:22} {n:6d} {det:8d} {alerts:6d} {wall:7.2f} {f:7.1f} {f / decode_fps:8.3f} "
            f"{f / fps:10.1f} {cpu:6.2f} {inf:8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
