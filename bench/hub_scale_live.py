"""Hub at scale, the live half: correlation cost per new alert, and one alert's fan-out to
many ``GET /api/events`` streams read by a second process. Used by ``bench/hub_scale.py``."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import statistics
import time
from collections import Counter
from typing import TYPE_CHECKING

import httpx
from hub_helpers import make_alert  # tests/: one realistic alert, as the tests build them
from hub_scale_plan import MAINTENANCE, pick, topology, wording
from percentile import percentile

from contract.protocol import Alert, alert_topic, encode
from hub.clock import ManualClock

if TYPE_CHECKING:
    from hub_scale import Hub

ROOT = "vw"


def live_alerts(count: int, seed: int, last_seq: dict[tuple[str, str], int]) -> list[Alert]:
    """New alerts as nodes would send them next: any source, its usual kinds, now and then
    a camera or sensor in trouble (and its "cleared"). ``last_seq`` is updated."""
    rng = random.Random(seed)
    sources = [s for area in topology().values() for s in area]
    alerts = []
    for _ in range(count):
        s = rng.choice(sources)
        if rng.random() < 0.04:
            kind = rng.choice(list(MAINTENANCE["camera" if s.camera else "sensor"]))
            severity, zone, message = wording(rng, s, kind, cleared=rng.random() < 0.3)
        else:
            kind = pick(rng, s.kinds)
            severity, zone, message = wording(rng, s, kind)
        seq = last_seq[s.site, s.node] = last_seq.get((s.site, s.node), -1) + 1
        camera_fields = {} if s.camera else {"objects": [], "frame_size": None}
        alerts.append(
            make_alert(
                s.node, seq, site=s.site, kind=kind, severity=severity, area=s.area, zone=zone,
                camera=s.camera, message=message, has_snapshot=bool(s.camera), **camera_fields,
            )
        )  # fmt: skip
    return alerts


# --- 3. correlation --------------------------------------------------------------------------


def correlation_cost(hub: Hub, alerts: list[Alert], clock: ManualClock, seed: int):
    """Per alert: ``correlate`` alone (its alert just inserted, in the same transaction, as
    ingest does), then the whole ``Ingestor.handle`` for the next batch. Alerts come on
    average 20 s apart (hub clock), so some join an incident and some open one."""
    rng, half = random.Random(seed), len(alerts) // 2
    correlate_ms, changes = [], Counter()
    for alert in alerts[:half]:
        clock.advance(seconds=rng.expovariate(1 / 20))
        with hub.storage.transaction():
            record = hub.storage.alerts.insert(alert, clock()).record
            start = time.perf_counter()
            filed = hub.incidents.correlate(record)
            correlate_ms.append((time.perf_counter() - start) * 1000)
        changes[filed[1] if filed else "none"] += 1
    ingestor, handle_ms = hub.ingestor(clock), []
    wall = time.perf_counter()
    for alert in alerts[half:]:
        clock.advance(seconds=rng.expovariate(1 / 20))
        topic, payload = alert_topic(ROOT, alert.site, alert.node), encode(alert)
        start = time.perf_counter()
        result = ingestor.handle(topic, payload)
        handle_ms.append((time.perf_counter() - start) * 1000)
        assert result.outcome == "stored", result
    wall = time.perf_counter() - wall
    return correlate_ms, handle_ms, len(handle_ms) / wall, changes


def print_correlation(rows: list[tuple[str, tuple]]) -> None:
    print(f"{'':12} {'correlate alone':>26} │ {'Ingestor.handle':>26} │")
    print(
        f"{'store':12} {'mean':>8} {'p95':>7} {'alerts/s':>9} │ {'mean':>8} {'p95':>7} "
        f"{'alerts/s':>9} │ what correlate did"
    )
    for label, (correlate_ms, handle_ms, rate, changes) in rows:
        mean = statistics.fmean(correlate_ms)
        split = ", ".join(f"{k} {v}" for k, v in sorted(changes.items()))
        print(
            f"{label:12} {mean:8.2f} {percentile(correlate_ms, 95):7.2f} {1000 / mean:9.0f} │ "
            f"{statistics.fmean(handle_ms):8.2f} {percentile(handle_ms, 95):7.2f} {rate:9.0f} │"
            f" {split}"
        )


# --- 4. fan-out to live streams ------------------------------------------------------------


def sse_clients(url: str, token: str, n: int, commands, results) -> None:
    """Runs in its own process: ``n`` event streams; for every alert, once all ``n`` have
    it, sends (alert id, [monotonic arrival per stream]) back."""
    asyncio.run(_sse_clients(url, token, n, commands, results))


async def _sse_clients(url: str, token: str, n: int, commands, results) -> None:
    arrivals: dict[str, list[float]] = {}
    connected = asyncio.Semaphore(0)

    async def listen(client: httpx.AsyncClient) -> None:
        async with client.stream("GET", "/api/events") as response:
            event_at = None
            async for line in response.aiter_lines():
                if line.startswith(": connected"):
                    connected.release()
                elif line == "event: alert":
                    event_at = time.monotonic()  # the moment this stream got the alert
                elif event_at is not None and line.startswith("data:"):
                    alert_id = json.loads(line[5:])["id"]
                    got = arrivals.setdefault(alert_id, [])
                    got.append(event_at)
                    event_at = None
                    if len(got) == n:
                        results.send((alert_id, got))

    limits = httpx.Limits(max_connections=n + 5, max_keepalive_connections=n + 5)
    headers = {"authorization": f"Bearer {token}"}
    timeout = httpx.Timeout(30, read=None)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=timeout
    ) as client:
        tasks = [asyncio.create_task(listen(client)) for _ in range(n)]
        for _ in range(n):
            await asyncio.wait_for(connected.acquire(), 60)
        results.send("ready")
        await asyncio.get_running_loop().run_in_executor(None, commands.recv)  # "stop"
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def fan_out(hub: Hub, clients: int, alerts: list[Alert], clock: ManualClock):
    """Latency (ms) from the ingest call to each stream's ``event: alert``, per round, and
    the ingest call's own duration (the durable commit) per round."""
    spawn = multiprocessing.get_context("spawn")
    commands, command_end = spawn.Pipe(duplex=False)
    result_end, results = spawn.Pipe(duplex=False)
    args = (hub.web.url, hub.token, clients, commands, results)
    process = spawn.Process(target=sse_clients, args=args, daemon=True)
    process.start()
    assert result_end.poll(120) and result_end.recv() == "ready", "streams did not open"
    ingestor, rounds, commits = hub.ingestor(clock), [], []
    for i, alert in enumerate(alerts):
        clock.advance(seconds=60)
        topic, payload = alert_topic(ROOT, alert.site, alert.node), encode(alert)
        start = time.monotonic()
        ingestor.handle(topic, payload)
        handled = time.monotonic()
        assert result_end.poll(60), "not every stream got the alert"
        alert_id, arrived = result_end.recv()
        assert alert_id == alert.id
        if i:  # the first round warms up
            rounds.append([(t - start) * 1000 for t in arrived])
            commits.append((handled - start) * 1000)
        time.sleep(0.2)  # let the incident event that follows drain before the next round
    command_end.send("stop")
    process.join(10)
    return rounds, commits


def print_fan_out(rows: list[tuple[int, list[list[float]], list[float]]]) -> None:
    print(
        f"{'streams':>7} {'alerts':>6} {'p50':>6} {'p95':>6} {'max':>6}   {'worst max':>9} "
        f"{'ingest call':>11}"
    )
    for clients, rounds, commits in rows:
        med = statistics.median
        p50 = med(statistics.median(r) for r in rounds)
        p95 = med(percentile(r, 95) for r in rounds)
        top, worst = med(max(r) for r in rounds), max(max(r) for r in rounds)
        print(
            f"{clients:7d} {len(rounds):6d} {p50:6.1f} {p95:6.1f} {top:6.1f}"
            f"   {worst:9.1f} {med(commits):11.1f}"
        )
    print(
        "  ms from the ingest call; p50/p95/max over the streams, median over the alerts;"
        " worst max over all; ingest call = Ingestor.handle's own time (durable commit)"
    )
