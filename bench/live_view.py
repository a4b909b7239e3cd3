"""Live view: glass-to-glass latency and the gateway's extra CPU per viewer.

Runs the real path on loopback: the demo footage (paced at its own frame rate, looping)
through an edge agent in a process of its own (capture, motion, detector, and for the live
view the privacy filter and the JPEG encoder) → Eclipse Mosquitto → the hub's relay →
MJPEG over HTTP, read by 0, 1 and 3 viewers (httpx clients signed in as officers).

* **Latency**: each frame carries the wall-clock time the gateway read it from the source
  (``X-Frame-Captured``); a viewer subtracts it from the moment the whole JPEG has arrived.
  Decoding and painting in a browser add a few ms more. (Same machine, so one clock.)
* **Gateway CPU**: the edge process's user+system time over a window, as % of one core.

    .venv/bin/python bench/live_view.py [--window 8] [--warmup 3]

Keeps under 60 s with the defaults.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from percentile import percentile  # noqa: E402

SITE, NODE, CAMERA = "riverside", "gw-plaza", "plaza"
BOUNDARY = b"--vwframe\r\n"


def edge_child(conn_file: str, data_dir: str) -> None:
    """The gateway, alone in this process (so its CPU time is its own)."""
    from contract.connection import NodeConnection
    from contract.siteconfig import load_site_config
    from edge.agent import EdgeAgent

    config = load_site_config(REPO / "config" / "site.example.yaml")
    gateways = [g.model_copy(update={"data_dir": data_dir}) for g in config.gateways]
    config = config.model_copy(update={"gateways": gateways})
    conn = NodeConnection.model_validate_json(Path(conn_file).read_text())
    agent = EdgeAgent(config, NODE, conn)
    agent.start()
    sys.stdin.read()  # until the parent closes our stdin
    agent.stop()


class Viewer(threading.Thread):
    """Reads the MJPEG stream, noting each frame's glass-to-glass latency (s)."""

    def __init__(self, url: str, cookies, path: str) -> None:
        super().__init__(daemon=True)
        import httpx

        self.client = httpx.Client(base_url=url, cookies=cookies, timeout=httpx.Timeout(10))
        self.path = path
        self.latencies: list[float] = []
        self.recording = False
        self.stopping = False

    def run(self) -> None:
        import httpx

        try:
            self._read()
        except (httpx.HTTPError, RuntimeError):
            if not self.stopping:
                raise

    def _read(self) -> None:
        buf = b""
        with self.client.stream("GET", self.path) as response:
            response.raise_for_status()
            for chunk in response.iter_raw():
                if self.stopping:
                    return
                buf += chunk
                while True:
                    start = buf.find(BOUNDARY)
                    end = buf.find(b"\r\n\r\n", start)
                    if start < 0 or end < 0:
                        break
                    headers = dict(
                        line.split(": ", 1)
                        for line in buf[start + len(BOUNDARY) : end].decode().split("\r\n")
                    )
                    size = int(headers["Content-Length"])
                    if len(buf) < end + 4 + size:
                        break
                    if self.recording:
                        self.latencies.append(time.time() - float(headers["X-Frame-Captured"]))
                    buf = buf[end + 4 + size :]

    def close(self) -> None:
        self.stopping = True
        self.client.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--window", type=float, default=8.0, help="seconds measured per phase")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before each window")
    args = ap.parse_args()

    from conftest import loopback_connection

    from broker.credentials import CredentialStore
    from broker.mosquitto import MosquittoBroker
    from contract.protocol import NodeRole, Severity
    from contract.siteconfig import load_site_config
    from hub.domain.incidents import Location, Source
    from hub.domain.users import Role
    from hub.incidents.requests import NewIncident
    from hub.service import HubService

    tmp = Path(tempfile.mkdtemp(prefix="vw-bench-live-"))
    store = CredentialStore(tmp / "broker" / "identities.json")
    passwords = {
        n: store.add(n, r, SITE)
        for n, r in (("hub", NodeRole.HUB), (NODE, NodeRole.CAMERA_GATEWAY))
    }
    broker = MosquittoBroker(tmp / "broker", store)
    broker.start()
    config = load_site_config(REPO / "config" / "site.example.yaml")
    hub_conn = loopback_connection("hub", passwords["hub"], broker.hub_port, NodeRole.HUB, SITE)
    hub = HubService(config, hub_conn, tmp / "hub", "127.0.0.1", 0)
    hub.start()
    edge_conn = loopback_connection(NODE, passwords[NODE], broker.port)
    (tmp / "edge.json").write_text(edge_conn.model_dump_json())
    edge = subprocess.Popen(
        [sys.executable, __file__, "--edge-child", str(tmp / "edge.json"), str(tmp / "edge")],
        stdin=subprocess.PIPE,
    )
    viewers: list[Viewer] = []
    try:
        report = NewIncident(
            source=Source.CALL, kind="fight", severity=Severity.MAJOR, title="bench",
            location=Location(area="plaza"),
        )  # fmt: skip
        incident, _ = hub.incidents.open_call(report, "bench")
        import httpx

        password = hub.accounts.create_user("bench", Role.OFFICER)
        login = httpx.post(f"{hub.url}api/login", json={"username": "bench", "password": password})
        login.raise_for_status()
        path = f"/api/cameras/{NODE}/{CAMERA}/live?incident={incident.id}"
        time.sleep(args.warmup + 3)  # the edge loads its models and settles
        print(f"live view bench: {config.hub.live}")
        for count in (0, 1, 3):
            while len(viewers) < count:
                viewers.append(Viewer(hub.url, login.cookies, path))
                viewers[-1].start()
            time.sleep(args.warmup)
            for v in viewers:
                v.recording, v.latencies = True, []
            before, t0 = cpu_seconds(edge.pid), time.monotonic()
            time.sleep(args.window)
            cpu = (cpu_seconds(edge.pid) - before) / (time.monotonic() - t0) * 100
            for v in viewers:
                v.recording = False
            lat = sorted(x * 1000 for v in viewers for x in v.latencies)
            fps = len(lat) / max(1, len(viewers)) / args.window
            line = f"{count} viewer(s): gateway CPU {cpu:5.1f}% of a core"
            if lat:
                line += (
                    f"; {fps:.1f} frames/s per viewer; glass-to-glass p50"
                    f" {percentile(lat, 50):.0f} ms, p95 {percentile(lat, 95):.0f} ms,"
                    f" max {lat[-1]:.0f} ms ({len(lat)} frames)"
                )
            print(line, flush=True)
    finally:
        for v in viewers:
            v.close()
        edge.stdin.close()
        edge.wait(15)
        hub.stop()
        broker.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--edge-child":
        edge_child(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
