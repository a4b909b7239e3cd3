"""Alert latency: the edge emitting an alert → the officer's live feed (SSE) showing it.

Runs the real path on loopback: edge ``Outbox`` + ``Publisher`` (paho) → broker (real
Eclipse Mosquitto by default) → ``HubService`` (ingest, SQLite commit, live fan-out) → HTTP
Server-Sent Events read by an httpx client signed in as an officer. "Emitted" is the moment
the alert is written to the edge outbox, so the figure includes the outbox commit.

    .venv/bin/python bench/e2e_latency.py [--count 300] [--rate 20] [--broker mosquitto|embedded]

Target: p99 ≤ 250 ms on loopback.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from conftest import loopback_connection  # noqa: E402
from e2e_kit import SseCollector  # noqa: E402
from hub_helpers import make_alert, snapshot_jpeg  # noqa: E402
from percentile import percentile  # noqa: E402

from broker.credentials import CredentialStore  # noqa: E402
from broker.embedded import EmbeddedBroker  # noqa: E402
from broker.mosquitto import MosquittoBroker  # noqa: E402
from contract.connection import NodeConnection  # noqa: E402
from contract.ids import new_alert_id  # noqa: E402
from contract.protocol import (  # noqa: E402
    NodeRole,
    alert_topic,
    encode,
    snapshot_topic,
)
from contract.siteconfig import load_site_config  # noqa: E402
from edge.outbox import Outbox  # noqa: E402
from edge.publisher import Publisher  # noqa: E402
from hub.domain.users import Role  # noqa: E402
from hub.service import HubService  # noqa: E402

SITE, NODE = "riverside", "gw-plaza"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--count", type=int, default=300, help="alerts to send (≥ 200)")
    ap.add_argument("--rate", type=float, default=20.0, help="alerts per second")
    ap.add_argument("--broker", choices=["mosquitto", "embedded"], default="mosquitto")
    ap.add_argument("--no-snapshot", action="store_true", help="alerts without a JPEG")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vw-bench-"))
    store = CredentialStore(tmp / "broker" / "identities.json")
    passwords = {"hub": store.add("hub", NodeRole.HUB, SITE)}
    passwords[NODE] = store.add(NODE, NodeRole.CAMERA_GATEWAY, SITE)
    broker_cls = MosquittoBroker if args.broker == "mosquitto" else EmbeddedBroker
    broker = broker_cls(tmp / "broker", store)
    broker.start()

    def conn(node: str, role: NodeRole) -> NodeConnection:
        # The hub on its own listener, as in production (on the node listener its ingest
        # and live-view links would share one client id and take each other's session).
        port = broker.hub_port if role is NodeRole.HUB else broker.port
        return loopback_connection(node, passwords[node], port, role, SITE)

    hub = HubService(
        load_site_config(REPO / "config" / "site.example.yaml"),
        conn("hub", NodeRole.HUB),
        tmp / "hub",
        "127.0.0.1",
        0,
    )
    hub.start()
    assert hub.wait_ready(10), "hub did not subscribe"
    officer_password = hub.accounts.create_user("bench-officer", Role.OFFICER)
    feed = SseCollector(hub.url, "bench-officer", officer_password)

    outbox = Outbox(tmp / "edge" / "outbox.sqlite")
    publisher = Publisher(conn(NODE, NodeRole.CAMERA_GATEWAY), outbox)
    publisher.start()
    assert publisher.link.wait_connected(10)
    jpeg = None if args.no_snapshot else snapshot_jpeg()

    emitted: dict[str, float] = {}
    interval = 1.0 / args.rate
    started = time.monotonic()
    for i in range(args.count):
        alert_id = new_alert_id()

        def build(seq: int, alert_id: str = alert_id) -> list[tuple[str, bytes, int]]:
            alert = make_alert(NODE, seq, id=alert_id, has_snapshot=jpeg is not None)
            out = [(alert_topic("vw", SITE, NODE), encode(alert), 1)]
            if jpeg is not None:
                out.append((snapshot_topic("vw", SITE, NODE, alert_id), jpeg, 1))
            return out

        emitted[alert_id] = time.monotonic()
        outbox.put_numbered(build)
        publisher.kick()
        time.sleep(max(0.0, started + (i + 1) * interval - time.monotonic()))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(set(feed.alert_ids()) & emitted.keys()) < len(
        emitted
    ):
        time.sleep(0.05)
    arrivals = {e.data["id"]: e.arrived for e in feed.of_kind("alert")}
    latencies = [(arrivals[a] - t) * 1000 for a, t in emitted.items() if a in arrivals]
    stored = len(set(hub.storage.alerts.ids()) & emitted.keys())

    feed.close()
    publisher.stop()
    outbox.close()
    hub.stop()
    broker.stop()

    print(f"e2e alert latency: edge outbox → {args.broker} → hub (SQLite) → SSE, loopback")
    snap = "none" if jpeg is None else f"{len(jpeg)} B"
    print(f"  alerts sent {len(emitted)} at {args.rate:g}/s, snapshot {snap}")
    lost = len(emitted) - len(latencies)
    print(f"  delivered on SSE {len(latencies)}, stored {stored}, lost {lost}")
    if latencies:
        print(f"  p50 {statistics.median(latencies):7.1f} ms")
        print(f"  p90 {percentile(latencies, 90):7.1f} ms")
        print(f"  p99 {percentile(latencies, 99):7.1f} ms   (target ≤ 250 ms)")
        print(f"  max {max(latencies):7.1f} ms")
    return 0 if len(latencies) == len(emitted) else 1


if __name__ == "__main__":
    sys.exit(main())
