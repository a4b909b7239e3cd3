"""What the HTTP hardening costs and what it stops (issue 7).

1. Hostile bodies: a real ``villagewatch hub`` process gets a 100 MB body on every route,
   declared and chunked, with and without a session; prints how many uploads, how long
   they took, the most any sender got out before its 413, and the hub's resident memory
   before and its peak after (``/proc/<pid>/status``: VmRSS, VmHWM).
2. Latency: p50/p95 of small requests on one keep-alive connection to the hub API
   (health, who am I, the alert list, a note written), which now pass the body limit and,
   for a POST, the session gate.

    .venv/bin/python bench/hub_http_hardening.py [--requests 1500]

Run it on a quiet machine: on 2 shared cores the p95 is mostly other processes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from hub_helpers import example_config, make_alert, offline_connection, serve_api  # noqa: E402
from hub_process import start_hub_process  # noqa: E402
from percentile import percentile  # noqa: E402
from starlette.routing import Mount  # noqa: E402
from test_api_auth import app_routes  # noqa: E402
from test_api_body_limits import SAMPLE_IDS, login, send_huge_body  # noqa: E402

from hub.service import HubService  # noqa: E402


def every_route(tmp: Path) -> list[tuple[str, str]]:
    service = HubService(example_config(), offline_connection(), tmp / "routes")
    routes = []
    for route, path, methods in app_routes(service.app):
        if isinstance(route, Mount):
            routes.append(("GET", path + "/app.js"))
            continue
        for name, value in SAMPLE_IDS.items():
            path = path.replace("{" + name + "}", value)
        routes += [(method, path) for method in sorted(methods)]
    service.storage.close()
    return routes


def hostile_bodies(tmp: Path) -> None:
    routes = every_route(tmp)
    (tmp / "process").mkdir()
    hub = start_hub_process(tmp / "process")
    try:
        rss, peak = hub.status_kib("VmRSS"), hub.status_kib("VmHWM")
        token = login(hub)
        started, most, count = time.monotonic(), 0, 0
        for method, path in routes:
            for chunked in (False, True):
                for who in (None, token):
                    status, sent = send_huge_body(hub.url, method, path, chunked, who)
                    assert status == 413, (method, path, chunked, status)
                    most, count = max(most, sent), count + 1
        took = time.monotonic() - started
        print(f"{count} uploads of 100 MB ({len(routes)} routes) refused in {took:.1f} s")
        print(f"  most sent before a 413: {most / 2**20:.1f} MiB (photos: 5 MiB limit)")
        after, after_peak = hub.status_kib("VmRSS"), hub.status_kib("VmHWM")
        print(f"  hub RSS {rss // 1024} MiB (peak {peak // 1024}) -> {after // 1024} MiB ", end="")
        print(f"(peak {after_peak // 1024})")
    finally:
        hub.stop()


def percentiles(call, n: int) -> str:
    for _ in range(100):
        call()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code < 300, response.text
    return f"p50 {percentile(times, 50):.2f} ms  p95 {percentile(times, 95):.2f} ms"


def latency(tmp: Path, n: int) -> None:
    hub = serve_api(tmp / "latency")
    try:
        alert = make_alert()
        hub.ingest(alert)
        incident = hub.storage.alerts.get(alert.id).incident_id
        client = hub.client("officer")
        note = {"text": "gate found open"}
        print(f"latency, {n} requests each, one keep-alive connection:")
        print("  GET  /api/health        ", percentiles(lambda: client.get("/api/health"), n))
        print("  GET  /api/me            ", percentiles(lambda: client.get("/api/me"), n))
        alerts = percentiles(lambda: client.get("/api/alerts?limit=50"), n)
        print("  GET  /api/alerts        ", alerts)
        notes = f"/api/incidents/{incident}/notes"
        print("  POST .../notes          ", percentiles(lambda: client.post(notes, json=note), n))
    finally:
        hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        hostile_bodies(Path(folder))
        latency(Path(folder), args.requests)


if __name__ == "__main__":
    main()
