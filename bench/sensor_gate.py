"""What the sensor side costs ingest: the alarm gate in front of the incident service, and
heartbeats, against plain alerts filed straight by the incident service, in one run.

Each variant gets a fresh hub store (real SQLite, ``synchronous=FULL``) and the real
:class:`hub.ingest.Ingestor`, fed the same prepared MQTT payloads in batches of 500 (ingest's
group commit), in-process (no broker: this measures the hub's own work):

* ``baseline`` — door alerts, correlator = the incident service (as before the gate);
* ``gate``     — the same alerts through :class:`hub.sensors.gate.AlarmGate` (area armed);
* ``disarmed`` — the same, area disarmed (stored, never filed);
* ``confirm``  — the same, area under a two-sensor rule (two doors alternate);
* ``heartbeat``— heartbeats from as many nodes, health rules on.

    .venv/bin/python bench/sensor_gate.py [--count 20000]

The machine is shared (2 cores, other jobs running): read the ratios, not the absolute
rates, and do not extrapolate either.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from hub_helpers import make_alert  # noqa: E402
from sensor_kit import ROOT, SITE, sensor_site  # noqa: E402

from contract.protocol import Heartbeat, alert_topic, encode, heartbeat_topic  # noqa: E402
from hub.clock import ManualClock  # noqa: E402
from hub.events import EventBus  # noqa: E402
from hub.incidents.service import IncidentService  # noqa: E402
from hub.ingest import Ingestor  # noqa: E402
from hub.sensors.service import SensorHub  # noqa: E402
from hub.storage.sensors import ArmingMode  # noqa: E402
from hub.storage.sqlite import open_sqlite_storage  # noqa: E402
from hub.storage.sqlite.sensors import sensors_for  # noqa: E402

BATCH = 500
NODES = ("plaza-door", "plaza-pir")


def alerts(count: int) -> list[tuple[str, bytes]]:
    now = datetime.now(UTC)
    out = []
    for i in range(count):
        node = NODES[i % 2]
        alert = make_alert(
            node=node, seq=i // 2, ts=now, kind="door", area="plaza", camera=None, zone=None,
            objects=[], has_snapshot=False, frame_size=None,
        )  # fmt: skip
        out.append((alert_topic(ROOT, SITE, node), encode(alert)))
    return out


def heartbeats(count: int) -> list[tuple[str, bytes]]:
    now = datetime.now(UTC)
    out = []
    for i in range(count):
        node = f"n{i % 200}"
        beat = Heartbeat(site=SITE, node=node, ts=now, interval_s=60, uptime_s=i, battery_v=3.0)
        out.append((heartbeat_topic(ROOT, SITE, node), encode(beat)))
    return out


def run(variant: str, messages: list[tuple[str, bytes]], folder: Path) -> float:
    """Messages/s through a fresh store for ``variant``."""
    settings = {"confirm": [{"area": "plaza", "window_s": 60}]} if variant == "confirm" else {}
    config = sensor_site(settings)
    storage = open_sqlite_storage(folder / variant)
    bus, clock = EventBus(), ManualClock()
    incidents = IncidentService(storage, bus, clock, config)
    hub = SensorHub(storage, sensors_for(storage), bus, incidents, config, clock)
    if variant == "disarmed":
        hub.arming.set_mode("plaza", ArmingMode.DISARMED, "bench")
    correlator = incidents if variant == "baseline" else hub.gate
    ingestor = Ingestor(storage, bus, correlator, ROOT, clock, heartbeats=hub.health)
    started = time.perf_counter()
    for i in range(0, len(messages), BATCH):
        ingestor.handle_batch(messages[i : i + BATCH])
        clock.advance(seconds=1)
    elapsed = time.perf_counter() - started
    storage.close()
    return len(messages) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    door_alerts, beats = alerts(args.count), heartbeats(args.count)
    with tempfile.TemporaryDirectory() as tmp:
        rates = {v: run(v, door_alerts, Path(tmp)) for v in ("baseline", "gate", "disarmed")}
        rates["confirm"] = run("confirm", door_alerts, Path(tmp))
        rates["heartbeat"] = run("heartbeat", beats, Path(tmp))
    base = rates["baseline"]
    print(f"{args.count} messages each, batches of {BATCH}, one run (shared 2-core machine)")
    for name, rate in rates.items():
        print(f"  {name:10s} {rate:9.0f} msg/s   {rate / base:5.2f} x baseline")


if __name__ == "__main__":
    main()
