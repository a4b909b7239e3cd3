"""What event security costs the hub, each beside a baseline measured in the same run on the
same SQLite file:

1. **a sample** (:meth:`EventSecurity.tick`: read the gateways' stats, aggregate three rings
   from five camera rings, store three rows with their feeds, step the alarms; one durable
   commit) beside a plain insert of three rows of the same shape (one durable commit);
2. **the replay** of the whole event (``--hours`` at one sample per 15 s) as the API builds it
   (rows, feeds JSON, models) beside a plain ``SELECT`` of the same rows;
3. **the dashboard** (live figures, the 30-minute trend, open incidents) beside the plain
   ``SELECT`` of the trend's rows.

The machine has two cores shared with other work: absolute times are noisy, the ratios are
the figures to quote. Nothing is asserted.

    .venv/bin/python bench/event_replay.py [--hours 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from event_kit import EVENT, START, report, site_config, stats  # noqa: E402

from hub.clock import ManualClock  # noqa: E402
from hub.events import EventBus  # noqa: E402
from hub.events_security.service import SAMPLE_S, EventSecurity  # noqa: E402
from hub.storage.sqlite import open_sqlite_storage  # noqa: E402
from hub.storage.sqlite.database import iso  # noqa: E402


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def cameras(i: int, at):
    """Counts that rise and fall over the night (the core goes over its limit now and then)."""
    wave = (i % 240) / 240
    core = int(20 + 30 * wave)
    return {
        "north": stats({"stage/core": core}, at),
        "south": stats({"stage/core": core - 3, "stage/control": 50 + i % 17}, at),
        "east": stats({"east/control": 20 + i % 11, "east/diversion": 120 + i % 29}, at),
    }


def sampling(storage, events: EventSecurity, clock: ManualClock, samples: int):
    """Seconds of each tick, and of each baseline insert of three rows."""
    db = storage.alerts.database
    with db.write() as d:
        d.execute("CREATE TABLE plain_samples AS SELECT * FROM event_samples WHERE 0")
    ticks, plain = [], []
    for i in range(samples):
        report(storage, clock(), cameras(i, clock()))
        ticks.append(timed(events.tick))
        row = ["fireworks", "core", iso(clock()), 30, 40, None, 1, "[]"]

        def insert(row=row) -> None:
            with db.write() as d:
                for ring in ("diversion", "control", "core"):
                    d.conn.execute(
                        "INSERT INTO plain_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [row[0], ring, *row[2:]],
                    )

        plain.append(timed(insert))
        clock.advance(seconds=SAMPLE_S)
    return ticks, plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=6.0)
    args = parser.parse_args()
    samples = int(args.hours * 3600 / SAMPLE_S)
    event = EVENT | {"ends_at": (START + timedelta(hours=args.hours)).isoformat()}
    with tempfile.TemporaryDirectory() as tmp:
        storage = open_sqlite_storage(Path(tmp) / "hub")
        clock = ManualClock(START)
        events = EventSecurity(storage, EventBus(), site_config([event]), clock)
        ticks, plain = sampling(storage, events, clock, samples)
        info = events.get("fireworks")
        db = storage.alerts.database
        ends = START + timedelta(hours=args.hours)
        replay = [timed(lambda: events.replay(info, START, ends)) for _ in range(5)]
        raw = [
            timed(lambda: db.all("SELECT * FROM event_samples WHERE event_id = ?", ["fireworks"]))
            for _ in range(5)
        ]
        board = [timed(lambda: events.dashboard(info)) for _ in range(20)]
        since = iso(clock() - timedelta(minutes=30))
        trend = [
            timed(lambda: db.all("SELECT * FROM event_samples WHERE at >= ?", [since]))
            for _ in range(20)
        ]
        frames = len(events.replay(info, START, ends).frames)
        incidents = len(events.dashboard(info).incidents)
        storage.close()

    def row(name: str, this: list[float], base: list[float]) -> None:
        a, b = statistics.median(this) * 1000, statistics.median(base) * 1000
        print(f"{name:<34} {a:9.2f} ms {b:9.2f} ms {a / b:7.1f}x")

    print(f"{samples} samples ({args.hours:g} h at {SAMPLE_S:g} s), 3 rings from 5 camera rings")
    print(f"replay: {frames} moments; incidents opened: {incidents}")
    print(f"{'median of':<34} {'this':>12} {'baseline':>12} {'ratio':>8}")
    row("sample (tick) vs 3-row insert", ticks, plain)
    row("replay (whole event) vs SELECT", replay, raw)
    row("dashboard vs SELECT 30 min", board, trend)
    print("2 shared cores: absolute times are noisy; quote the ratios.")


if __name__ == "__main__":
    main()
