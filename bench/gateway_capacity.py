"""Live gateway capacity: the largest number of cameras one agent holds, measured, never
extrapolated.

    .venv/bin/python bench/gateway_capacity.py [--window 8] [--max 16] [--no-baseline]
        [--quiet 20,40] [--streams 2] [--memory 1,4,8] [--precision bf16]

For each N a fresh process runs one real :class:`~edge.agent.EdgeAgent` with N cameras: the
example site's ``plaza`` camera (CenterNet at 5 detect-fps, the lawn zone, face blur on
snapshots, SQLite outbox, publisher to a real mosquitto, answered by a stand-in hub that
receipts like the real one, so the outbox drains). The sources are the committed excerpt
and, when Debian's opencv-doc is in ``.cache``, the whole vtest.avi, alternately, each
camera from its own offset (rotated copies written to a temp folder at start, mp4v), paced at
their 10 fps and looped. After a warm-up the process counts, over ``--window`` seconds:

* each camera's achieved **detect-fps** (its detector runs / window) and **dropped frames**
  (frames a live camera skipped because processing was not ready for them);
* **CPU-s per camera-second** (the process's user + system time / (N x window); mosquitto
  and the stand-in hub run in other processes and are not counted);
* **RSS** at the end of the window, and the mean network time and wait for the worker.

A busy N *holds* when every camera reached >= 4.8 detect-fps and none dropped a frame.
N goes 1, 2, 4, 6, 8, ... until one fails, then bisects between the last that held and the
first that failed: the answer is a run that held, never a division. A narrow failure (at
most 1% of frames dropped, every camera >= 4.6 detect-fps) is measured once more before the
search moves on (other work on this machine makes single dropped frames come and go); both
rows are printed, and N holds only if the second run held. A quiet run
uses a still source (the excerpt's first frame, 10 s, looped: the motion gate never fires)
at 20 and 40 cameras, and holds when no frame was dropped.

**Two streams.** ``--streams N`` cameras of a 1080p main stream (the excerpt stretched to
1920x1080, written at start) detect either on the main stream itself or on a 640x360
substream (``detect_source``) with snapshots from the main stream; the CPU-s per
camera-second of the two side by side show what decoding and looking at 1080p costs.

**Memory.** ``--memory 1,4,8`` runs the worker and the baseline at those N (RSS column):
the memory per added camera is the slope between them.

**Precision.** ``--precision bf16`` (or ``int8``) sets every camera's ``detect.precision``
and measures fp32 beside it, at the largest N that held and the first that failed.

The baseline, measured in the same run: the code before issue 11's worker (every camera with
its own session, running its network on its own thread) at the largest busy N and the first
that failed. This 2-core machine is shared with other work, so absolute figures are noisy;
compare the two modes side by side and read the ratios. The run prints the load average.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import cv2  # noqa: E402
import yaml  # noqa: E402

EXAMPLE = REPO / "config" / "site.example.yaml"
EXCERPT = REPO / "config" / "footage" / "vtest_lawn_excerpt.mp4"
FULL_CLIP = REPO / ".cache" / "opencv-doc" / "vtest.avi"
SITE, NODE = "riverside", "gw-plaza"
MIN_DETECT_FPS = 4.8
OFFSETS = 4  # distinct starting points per source clip


def write_clip(frames: list, path: Path, fps: float = 10.0) -> Path:
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        out.write(f)
    out.release()
    return path


def read_frames(path: Path) -> list:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def make_sources(folder: Path) -> dict[str, list[str]]:
    """Busy clips (each source rotated to ``OFFSETS`` starting points) and a still clip."""
    busy = []
    clips = [EXCERPT] + ([FULL_CLIP] if FULL_CLIP.is_file() else [])
    for k in range(OFFSETS):
        for clip in clips:
            frames = read_frames(clip)
            start = k * len(frames) // OFFSETS
            path = folder / f"{clip.stem}_from{start}.mp4"
            busy.append(str(write_clip(frames[start:] + frames[:start], path)))
    excerpt = read_frames(EXCERPT)
    quiet = [str(write_clip([excerpt[0]] * 100, folder / "still.mp4"))]
    big = [cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_LINEAR) for f in excerpt]
    main = str(write_clip(big, folder / "main1080.mp4"))
    sub = [cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA) for f in excerpt]
    return {
        "busy": busy,
        "quiet": quiet,
        "1080p": [main],
        "sub360": [str(write_clip(sub, folder / "sub360.mp4"))],
    }


def site_config(
    n: int, sources: list[str], detect_source: str | None = None, precision: str = "fp32"
):
    from contract.siteconfig import parse_site_config

    data = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
    gateway = data["gateways"][0]
    template = gateway["cameras"][0]
    template.setdefault("detect", {})["precision"] = precision
    gateway["cameras"] = [
        dict(
            copy.deepcopy(template),
            name=f"cam{i}",
            source=sources[i % len(sources)],
            realtime=True,
            loop=True,
            detect_source=detect_source,
        )
        for i in range(n)
    ]
    return parse_site_config(data, EXAMPLE)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def one(args: argparse.Namespace) -> dict:
    """Child process: one agent with ``args.n`` cameras; returns the window's figures."""
    from conftest import loopback_connection

    from edge.agent import EdgeAgent
    from edge.detectors import choose_model, make_detector

    clips = json.loads(args.sources)
    if args.kind == "1080p+360p":  # detect on the substream, snapshots from the main
        config = site_config(args.n, clips["1080p"], clips["sub360"][0], args.precision)
    else:
        config = site_config(args.n, clips[args.kind], precision=args.precision)
    connection = loopback_connection(NODE, args.password, args.port, site=SITE)
    agent = EdgeAgent(config, NODE, connection, Path(tempfile.mkdtemp(prefix="vw-cap-")))
    runs = {p.camera.name: [0] for p in agent.pipelines}
    for p in agent.pipelines:
        if args.mode == "baseline":  # before the worker: own session, own thread's network
            p.processor.detector = make_detector(p.camera.detect, choose_model(p.camera))

        def counted(result, count=runs[p.camera.name], original=p.stats.frame_processed):
            count[0] += result.detected
            original(result)

        p.stats.frame_processed = counted
    agent.start()
    time.sleep(args.warmup)
    before = {k: v[0] for k, v in runs.items()}
    skipped = {p.camera.name: p.stats.skipped_frames for p in agent.pipelines}
    read = {p.camera.name: p.stats.camera.rate() for p in agent.pipelines}
    alerts0 = sum(p.alerts for p in agent.pipelines)
    c0, t0 = cpu_s(), time.monotonic()
    time.sleep(args.window)
    c1, t1 = cpu_s(), time.monotonic()
    span = t1 - t0
    fps = [(runs[k][0] - before[k]) / span for k in runs]
    dropped = sum(p.stats.skipped_frames - skipped[p.camera.name] for p in agent.pipelines)
    snaps = [p.stats.snapshot() for p in agent.pipelines]
    service = agent.inference.service.values()
    waited = sum(s.waited_s for s in service) / max(1, sum(s.served for s in service))
    figures = {
        "n": args.n,
        "mode": args.mode,
        "kind": args.kind,
        "precision": args.precision,
        "min_fps": min(fps),
        "mean_fps": sum(fps) / len(fps),
        "camera_fps": min(read.values()),
        "dropped": dropped,
        "cpu_per_cam_s": (c1 - c0) / (args.n * span),
        "rss_mb": rss_mb(),
        "infer_ms": sum(s.inference_ms for s in snaps) / len(snaps),
        "wait_ms": 1000 * waited,
        "alerts": sum(p.alerts for p in agent.pipelines) - alerts0,
    }
    agent.stop()
    return figures


def narrow(row: dict, window: float) -> bool:
    """A failure close enough to the line to be worth a second run."""
    frames = row["n"] * row["camera_fps"] * window
    return row["dropped"] <= 0.01 * frames and row["min_fps"] >= 4.6


def holds(row: dict) -> bool:
    if row["kind"] != "busy":  # quiet scenes need no detector; 1080p is compared on CPU
        return row["dropped"] == 0
    return row["min_fps"] >= MIN_DETECT_FPS and row["dropped"] == 0


def measure(n: int, mode: str, kind: str, common: list[str], precision: str = "fp32") -> dict:
    cmd = [sys.executable, __file__, "--one", str(n), "--mode", mode, "--kind", kind, *common]
    cmd += ["--precision", precision]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"N={n} {mode} failed:\n{out.stderr[-2000:]}")
    row = json.loads(lines[-1])
    row["holds"] = holds(row)
    print(
        f"{row['kind']:>10} {row['mode']:>8} {row['precision']:>4} {n:>3}"
        f" | {row['min_fps']:5.2f} {row['mean_fps']:5.2f}"
        f" | {row['camera_fps']:5.1f} | {row['dropped']:>4} | {row['cpu_per_cam_s']:6.3f}"
        f" | {row['rss_mb']:6.0f} | {row['infer_ms']:6.1f} {row['wait_ms']:6.1f}"
        f" | {row['alerts']:>3} | {'holds' if row['holds'] else 'FAILS'}",
        flush=True,
    )
    return row


def search(measure_once, top: int, window: float) -> tuple[int, int | None]:
    """Largest N that holds (1, 2, 4, 6, ... then bisection) and the smallest that failed."""

    def measure_n(n: int) -> dict:
        row = measure_once(n)
        return row if row["holds"] or not narrow(row, window) else measure_once(n)

    good, bad = 0, None
    n = 1
    while n <= top:
        if measure_n(n)["holds"]:
            good = n
            n = 2 if n == 1 else n + 2
        else:
            bad = n
            break
    while bad is not None and bad - good > 1:
        mid = (good + bad) // 2
        if measure_n(mid)["holds"]:
            good = mid
        else:
            bad = mid
    return good, bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--window", type=float, default=6.0, help="seconds measured per N")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before the window")
    ap.add_argument("--max", type=int, default=16, help="largest busy N tried")
    ap.add_argument("--quiet", default="20,40", help="quiet N to try ('' = none)")
    ap.add_argument("--streams", type=int, default=2, help="N for the 1080p comparison (0 = none)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the pre-worker baseline")
    ap.add_argument("--memory", default="", help="N to run in both modes for RSS, e.g. 1,4,8")
    ap.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "int8"],
        help="detect.precision of every camera; not fp32: fp32 is measured beside it at the same N",
    )
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="worker", help=argparse.SUPPRESS)
    ap.add_argument("--kind", default="busy", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--password", help=argparse.SUPPRESS)
    ap.add_argument("--sources", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        args.n = args.one
        print(json.dumps(one(args)), flush=True)
        return 0
    return run(args)


def run(args: argparse.Namespace) -> int:
    from receipt_kit import ReceiptingHub

    from broker.credentials import CredentialStore
    from broker.mosquitto import MosquittoBroker
    from contract.protocol import NodeRole

    tmp = Path(tempfile.mkdtemp(prefix="vw-capacity-"))
    sources = make_sources(tmp)
    store = CredentialStore(tmp / "broker" / "identities.json")
    hub_password = store.add("hub", NodeRole.HUB, SITE)
    password = store.add(NODE, NodeRole.CAMERA_GATEWAY, SITE)
    broker = MosquittoBroker(tmp / "broker", store)
    broker.start()
    hub = ReceiptingHub(broker.hub_port, hub_password)
    common = ["--window", str(args.window), "--warmup", str(args.warmup)]
    common += ["--port", str(broker.port), "--password", password]
    common += ["--sources", json.dumps(sources)]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; busy sources:")
    print("  " + ", ".join(Path(s).name for s in sources["busy"]))
    print(
        "      kind     mode prec   N | detect-fps | cam  | drop | CPU-s/ |  RSS   | infer   wait "
        "| alr |\n" + " " * 29 + "|  min  mean |  fps |      | cam-s  |   MB   |  ms      ms  |"
    )
    started = time.monotonic()
    try:
        prec = args.precision
        good, bad = search(
            lambda n: measure(n, "worker", "busy", common, prec), args.max, args.window
        )
        base = []
        for n in sorted({max(good, 1), bad or good}):
            if not args.no_baseline:
                base.append(measure(n, "baseline", "busy", common))
            if prec != "fp32":
                base.append(measure(n, "worker", "busy", common))
        quiet_good = 0
        for n in [int(x) for x in args.quiet.split(",") if x]:
            if not measure(n, "worker", "quiet", common, prec)["holds"]:
                break
            quiet_good = n
        kinds = ("1080p", "1080p+360p") if args.streams else ()
        streams = [measure(args.streams, "worker", k, common, prec) for k in kinds]
        memory = [
            measure(n, mode, "busy", common)
            for n in [int(x) for x in args.memory.split(",") if x]
            for mode in ("worker", "baseline")
        ]
    finally:
        hub.close()
        broker.stop()
    if args.max:
        print(f"\nlargest busy N that held (every camera >= {MIN_DETECT_FPS} detect-fps, no drop):")
        tail = f" (N={bad} failed)" if bad else f" (tried up to {args.max})"
        print(f"  shared worker, {args.precision}: {good}{tail}")
    for row in base:
        held = "holds" if row["holds"] else "fails"
        print(f"  {row['mode']} {row['precision']} at N={row['n']}: {held}")
    if args.quiet:
        print(f"quiet cameras held: {quiet_good} (of {args.quiet})")
    if args.streams:
        main, two = (row["cpu_per_cam_s"] for row in streams)
        print(
            f"1080p main alone {main:.3f} CPU-s per camera-second, with a 640x360 substream "
            f"{two:.3f} ({two / main:.2f}x), N={args.streams}"
        )
    for mode in ("worker", "baseline"):
        rows = [r for r in memory if r["mode"] == mode]
        if len(rows) > 1:
            slope = (rows[-1]["rss_mb"] - rows[0]["rss_mb"]) / (rows[-1]["n"] - rows[0]["n"])
            rss = ", ".join(f"N={r['n']} {r['rss_mb']:.0f} MB" for r in rows)
            print(f"RSS {mode}: {rss}: {slope:.0f} MB per added camera")
    print(f"load average now {os.getloadavg()[0]:.1f}; {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
