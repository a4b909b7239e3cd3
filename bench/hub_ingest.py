"""Hub ingest rate through real mosquitto, against ``mosquitto_pub -l → mosquitto_sub``.

Several publishing nodes (one ``mosquitto_pub -l`` process each, authenticated as that
node, QoS 1, at full speed) send the same prepared alert payloads twice in one run:

1. to ``mosquitto_sub -q 1`` (a C subscriber that does nothing): the broker's own ceiling
   on this machine, now;
2. to the real hub (``HubService``: paho, the ingest pipeline's group commits with
   ``synchronous=FULL``, correlation into incidents, receipts, events).

Both rates are alerts / (last one received or committed - publishers started). Lost and
duplicated are counted by alert id in the hub's store. The broker keeps its generated
settings except an unlimited queue: ``mosquitto_pub`` never re-sends, so a message the
broker dropped would count as lost here (in production the edge re-sends it on the missing
receipt).

    .venv/bin/python bench/hub_ingest.py [--nodes 4] [--count 60000]

Target: ≥ 10,000 alerts/s sustained, 0 lost, 0 duplicated.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from conftest import loopback_connection  # noqa: E402
from hub_helpers import make_alert  # noqa: E402

from broker.credentials import CredentialStore  # noqa: E402
from broker.mosquitto import MosquittoBroker  # noqa: E402
from contract.protocol import NodeRole, alert_topic, encode  # noqa: E402
from contract.siteconfig import load_site_config  # noqa: E402
from hub.service import HubService  # noqa: E402

SITE = "riverside"


class BenchBroker(MosquittoBroker):
    """The generated mosquitto config, with an unbounded per-client queue."""

    def render(self) -> None:
        super().render()
        with self.conf_path.open("a") as conf:
            conf.write("\n# bench: mosquitto_pub never re-sends, so never drop a queued message\n")
            conf.write("max_queued_messages 0\nmax_queued_bytes 0\n")

    def setting(self, name: str) -> str:
        values = [
            line.split()[1]
            for line in self.conf_path.read_text().splitlines()
            if line.startswith(name + " ")
        ]
        return values[-1] if values else "(mosquitto default)"


def _cpu(pid: int) -> float:
    """User + system CPU seconds of another process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prepare(folder: Path, nodes: list[str], per_node: int) -> tuple[dict[str, Path], set[str]]:
    """One file of alert payloads per node, one JSON per line (what ``-l`` sends)."""
    files, ids = {}, set()
    areas = ["plaza", "gate", "school", "market"]
    for n, node in enumerate(nodes):
        path = folder / f"{node}.jsonl"
        with path.open("wb") as out:
            for seq in range(per_node):
                alert = make_alert(node=node, seq=seq, area=areas[n % len(areas)])
                ids.add(alert.id)
                out.write(encode(alert) + b"\n")
        files[node] = path
    return files, ids


def publish_all(port: int, passwords: dict[str, str], files: dict[str, Path]) -> float:
    """Start every node's ``mosquitto_pub -l`` at once; returns the start time."""
    procs = []
    started = time.monotonic()
    for node, path in files.items():
        cmd = [
            "mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-u", node,
            "-P", passwords[node], "-i", node, "-q", "1", "-l",
            "-t", alert_topic("vw", SITE, node),
        ]  # fmt: skip
        procs.append(subprocess.Popen(cmd, stdin=path.open("rb")))
    threading.Thread(target=lambda: [p.wait() for p in procs], daemon=True).start()
    return started


def baseline(port: int, passwords: dict[str, str], files: dict[str, Path], total: int) -> float:
    """mosquitto_pub → mosquitto_sub: alerts/s until the last one is received."""
    sub = subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-u", "hub",
         "-P", passwords["hub"], "-i", "bench-sub", "-q", "1", "-t", "vw/+/+/alert",
         "-C", str(total)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(1.0)  # let it subscribe (it prints nothing until a message comes)
    started = publish_all(port, passwords, files)
    assert sub.stdout is not None
    received = sum(1 for _ in sub.stdout)
    finished = time.monotonic()
    sub.wait()
    assert received == total, f"mosquitto_sub got {received} of {total}"
    return total / (finished - started)


def hub_run(
    broker: BenchBroker,
    passwords: dict[str, str],
    files: dict[str, Path],
    ids: set[str],
    folder: Path,
    timeout: float,
    ingest_process: bool,
) -> dict:
    # The hub listener, as in production (on the node listener the client id is the
    # username, so the hub's ingest and live links would take each other's session).
    conn = loopback_connection("hub", passwords["hub"], broker.hub_port, NodeRole.HUB, SITE)
    config = load_site_config(REPO / "config" / "site.example.yaml")
    hub = HubService(
        config, conn, folder / "hub", ingest_process=ingest_process, tune_gc=ingest_process
    )
    batches: list[tuple[float, int]] = []
    hub.pipeline.on_batch = lambda batch, results: batches.append((time.monotonic(), len(batch)))
    writer_cpu, writer_busy = [0.0], [0.0]
    process = hub.pipeline._process

    def timed(batch) -> None:  # the writer thread's own CPU and busy time, for the split
        t, w = time.thread_time(), time.monotonic()
        process(batch)
        writer_cpu[0] += time.thread_time() - t
        writer_busy[0] += time.monotonic() - w

    hub.pipeline._process = timed
    hub.start()
    assert hub.wait_ready(10), "hub did not subscribe"
    time.sleep(0.5)  # let the status messages of the start settle
    batches.clear()
    child = getattr(hub.link, "_process", None)  # the receiver process, if any
    child_cpu = _cpu(child.pid) if child else 0.0
    cpu0, writer_cpu[0], writer_busy[0] = time.process_time(), 0.0, 0.0
    started = publish_all(broker.port, passwords, files)
    deadline = started + timeout
    while hub.storage.alerts.count() < len(ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    finished = batches[-1][0] if batches else time.monotonic()
    cpu = time.process_time() - cpu0
    child_cpu = _cpu(child.pid) - child_cpu if child else 0.0
    stored = hub.storage.alerts.ids()
    counters = hub.storage.counters.all()
    hub.stop()
    sizes = [n for _, n in batches]
    return {
        "rate": len(set(stored) & ids) / (finished - started),
        "lost": len(ids - set(stored)),
        "duplicated": len(stored) - len(set(stored)),
        "redelivered": counters.get("duplicates", 0),
        "batches": len(sizes),
        "mean_batch": sum(sizes) / len(sizes) if sizes else 0,
        "max_batch": max(sizes, default=0),
        "cpu_us": cpu / len(ids) * 1e6,
        "writer_us": writer_cpu[0] / len(ids) * 1e6,
        "writer_busy": writer_busy[0] / (finished - started),
        "receiver_us": child_cpu / len(ids) * 1e6,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--nodes", type=int, default=4, help="publishing nodes (processes)")
    ap.add_argument("--count", type=int, default=60_000, help="alerts in all")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the hub")
    ap.add_argument(
        "--one-process",
        action="store_true",
        help="MQTT in the hub's own process and default GC (default: a receiver process"
        " and tune_gc)",
    )
    args = ap.parse_args()
    for tool in ("mosquitto_pub", "mosquitto_sub"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install mosquitto-clients")
    logging.basicConfig(level=logging.WARNING)  # a reconnect loop shows here

    tmp = Path(tempfile.mkdtemp(prefix="vw-ingest-bench-"))
    store = CredentialStore(tmp / "broker" / "identities.json")
    passwords = {"hub": store.add("hub", NodeRole.HUB, SITE)}
    nodes = [f"gw-{n}" for n in range(args.nodes)]
    for node in nodes:
        passwords[node] = store.add(node, NodeRole.CAMERA_GATEWAY, SITE)
    per_node = args.count // args.nodes
    files, ids = prepare(tmp, nodes, per_node)
    total = per_node * args.nodes
    broker = BenchBroker(tmp / "broker", store)
    broker.start()
    try:
        sub_rate = baseline(broker.port, passwords, files, total)
        hub = hub_run(broker, passwords, files, ids, tmp, args.timeout, not args.one_process)
        inflight = broker.setting("max_inflight_messages")
    finally:
        broker.stop()
    shutil.rmtree(tmp, ignore_errors=True)

    print(f"hub ingest: {args.nodes} nodes x {per_node} alerts = {total}, QoS 1, loopback")
    print(f"  broker max_inflight_messages {inflight} (the hub's batch ceiling)")
    where = "the hub's own process" if args.one_process else "a receiver process, tune_gc"
    print(f"  hub: MQTT in {where}; storing in the hub process")
    print(f"  mosquitto_pub -l → mosquitto_sub  {sub_rate:9,.0f} alerts/s")
    print(f"  mosquitto_pub -l → hub (stored)   {hub['rate']:9,.0f} alerts/s", end="")
    print(f"   = {hub['rate'] / sub_rate:.2f} x mosquitto_sub")
    print(
        f"  group commits {hub['batches']}, mean batch {hub['mean_batch']:.0f},"
        f" largest {hub['max_batch']}"
    )
    print(
        f"  hub process CPU per alert {hub['cpu_us']:.0f} µs, of which writer thread"
        f" {hub['writer_us']:.0f} µs;"
        f" writer busy {hub['writer_busy']:.0%} of the time"
    )
    if hub["receiver_us"]:
        print(f"  receiver process (paho) CPU per alert {hub['receiver_us']:.0f} µs")
    print(f"  lost {hub['lost']}, duplicated in store {hub['duplicated']},", end="")
    print(f" redelivered copies dropped {hub['redelivered']}")
    ok = hub["lost"] == 0 and hub["duplicated"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
