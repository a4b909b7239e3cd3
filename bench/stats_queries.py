"""The statistics page's calls over a year of synthetic history: 100,000 incidents and
1,000,000 alerts in a real SQLite file, timed with and without the statistics indexes.

    .venv/bin/python bench/stats_queries.py [--incidents 100000] [--alerts 1000000] [--runs 9]

**The history.** A year (2026, site zone Asia/Shanghai) of incidents at random moments,
busier in the evening; 90 % security, 10 % maintenance; 12 areas, 8 kinds; most resolved
(handled, false alarm, no trace, arrest, duplicate), some cancelled, some open; milestones a
few minutes apart. Alerts: 70 % joined to an incident (1 to 13 each), the rest raised none;
160 cameras (40 gateways, 4 each) with 3 zones each, and 60 sensor nodes. An alert's times are its
incident's opening time (the statistics never read alert times).

**The build** goes around the hub's durable one-commit-per-write path (bench-only SQL, the
columns of hub/storage/sqlite/incident_schema.py and alerts.py): the schema comes from
``open_sqlite_storage``, its secondary indexes are dropped, the rows go in with
``executemany`` in one transaction, and the indexes are made again (sorting once is faster
than keeping them in order row by row). Then the hub's storage is opened again as a hub
would.

**The calls** are what the statistics page asks for (hub/web/static/statistics.js): counts
(kind, area, hour, weekday, with both comparisons), response-time segments and false-alarm
rates, each built into its pydantic answer and serialised to JSON as the API does (no HTTP:
that cost is the same with or without indexes). Each is run ``--runs`` times for a month
(the page's default) and for the whole year. The **baseline** is the same SQL without the
three statistics indexes (``StatisticsStore(indexed=False)``: the storage's own indexes
only), measured in the same run on the same file.

This machine has 2 cores shared with other work: absolute times are noisy; compare the
ratios. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

from percentile import percentile  # noqa: E402
from statistics_kit import ALERT_COLUMNS, INCIDENT_COLUMNS  # noqa: E402

from hub.statistics.false_alarms import false_alarm_statistics  # noqa: E402
from hub.statistics.periods import Period, Unit, period_of  # noqa: E402
from hub.statistics.queries import StatisticsStore  # noqa: E402
from hub.statistics.report import (  # noqa: E402
    incident_statistics,
    response_time_statistics,
    three_periods,
)
from hub.storage.sqlite import DATABASE_FILE, open_sqlite_storage  # noqa: E402
from hub.storage.sqlite.database import iso  # noqa: E402

ZONE_NAME = "Asia/Shanghai"
ZONE = ZoneInfo(ZONE_NAME)
YEAR = 2026
GOAL_P95_MS = 200.0
KINDS = ("intrusion", "loiter", "theft", "crowd", "door_open", "fire", "no_parking", "call")
AREAS = tuple(f"area-{n:02d}" for n in range(12))
ENDS = (  # (state, outcome, weight)
    ("resolved", "handled", 50), ("resolved", "false_alarm", 15), ("resolved", "no_trace", 10),
    ("resolved", "arrest", 3), ("resolved", "duplicate", 4), ("cancelled", None, 8),
    ("new", None, 2), ("acknowledged", None, 2), ("on_scene", None, 1),
)  # fmt: skip
CAMERAS = [(f"gw-{g:02d}", f"cam{c}") for g in range(40) for c in range(4)]
SENSORS = [f"sensor-{n:02d}" for n in range(60)]


def incident_rows(count: int, rng: random.Random) -> list[tuple]:
    """``count`` incidents of the year, as INCIDENT_COLUMNS tuples, oldest first."""
    start = datetime(YEAR, 1, 1, tzinfo=ZONE).astimezone(UTC)
    seconds = (datetime(YEAR + 1, 1, 1, tzinfo=ZONE).astimezone(UTC) - start).total_seconds()
    hours = [1 + (h >= 17) * 2 + (h >= 7) for h in range(24)]  # busier by day, most at evening
    states, outcomes, weights = zip(*[(s, o, w) for s, o, w in ENDS], strict=True)
    rows = []
    for n in range(count):
        day = rng.randrange(int(seconds // 86400))
        moment = start + timedelta(days=day, hours=rng.choices(range(24), hours)[0])
        moment += timedelta(seconds=rng.randrange(3600))
        end = rng.choices(range(len(ENDS)), weights)[0]
        state, outcome = states[end], outcomes[end]
        steps = [moment + timedelta(seconds=s) for s in (30, 120, 200, 600, 2400)]
        reached = {"new": 0, "acknowledged": 1, "on_scene": 4}.get(state, 5)
        if rng.random() < 0.4:  # handled without a unit: acknowledged, then resolved
            steps[1:4] = [None, None, None]
        marks = [iso(t) if t and i < reached else None for i, t in enumerate(steps)]
        category = "maintenance" if rng.random() < 0.1 else "security"
        kind = rng.choice(KINDS)
        rows.append(
            (f"{n:032x}", f"INC-{n:08d}", category, "alerts", state, "major", 1, kind, kind,
             rng.choice(AREAS), iso(moment), iso(moment), 0, *marks, outcome, 0, "system")
        )  # fmt: skip
    rows.sort(key=lambda r: r[10])
    return rows


def alert_rows(count: int, incidents: list[tuple], rng: random.Random) -> list[tuple]:
    """``count`` alerts as ALERT_COLUMNS tuples: 70 % on incidents, 1 to 13 each."""
    rows: list[tuple] = []
    linked = int(count * 0.7)
    while len(rows) < count:
        target = rng.choice(incidents) if len(rows) < linked else None
        if target is None:
            opened, area, incident_id, many = (
                iso(datetime(YEAR, 6, 1, tzinfo=UTC)),
                "area-00",
                None,
                1,
            )
        else:
            incident_id, area, opened, many = target[0], target[9], target[10], rng.randint(1, 13)
        sensor = rng.random() < 0.2
        node, camera = (rng.choice(SENSORS), None) if sensor else rng.choice(CAMERAS)
        zone = None if sensor else f"zone-{rng.randrange(3)}"
        kind = rng.choice(KINDS)
        for _ in range(min(many, count - len(rows))):
            n = len(rows)
            rows.append(
                (f"a{n:031x}", "bench", node, n, opened, opened, kind, "major", area, zone,
                 camera, "", "[]", 0, incident_id)
            )  # fmt: skip
    return rows


def build(folder: Path, n_incidents: int, n_alerts: int) -> dict[str, tuple[float, float]]:
    """The store in ``folder``; wall-clock and CPU seconds each build step took."""
    took: dict[str, tuple[float, float]] = {}
    clock, used = time.perf_counter(), time.process_time()
    open_sqlite_storage(folder).close()  # the hub's schema, migrated
    rng = random.Random(12)
    incidents = incident_rows(n_incidents, rng)
    alerts = alert_rows(n_alerts, incidents, rng)
    took["generate rows"] = (time.perf_counter() - clock, time.process_time() - used)
    conn = sqlite3.connect(folder / DATABASE_FILE)
    # A throwaway file: no journal, no fsync, room to sort the indexes in memory. The hub
    # turns WAL back on when it opens the file.
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -131072")  # KiB: 128 MiB
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('incidents', 'alerts')"
    ).fetchall()
    clock, used = time.perf_counter(), time.process_time()
    with conn:
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        columns, marks = ", ".join(INCIDENT_COLUMNS), ", ".join("?" * len(INCIDENT_COLUMNS))
        conn.executemany(f"INSERT INTO incidents ({columns}) VALUES ({marks})", incidents)
        columns = ", ".join(ALERT_COLUMNS)
        marks = ", ".join("?" * len(ALERT_COLUMNS))
        conn.executemany(f"INSERT INTO alerts ({columns}) VALUES ({marks})", alerts)
        for _, sql in indexes:
            conn.execute(sql)
    took["insert + storage indexes"] = (time.perf_counter() - clock, time.process_time() - used)
    clock, used = time.perf_counter(), time.process_time()
    with conn:  # what the alerts repository writes beside the alerts it files
        conn.execute(
            "INSERT OR IGNORE INTO incident_sources SELECT DISTINCT incident_id, node,"
            " COALESCE(camera, ''), COALESCE(zone, ''), kind FROM alerts"
            " WHERE incident_id IS NOT NULL"
        )
    took["incident sources"] = (time.perf_counter() - clock, time.process_time() - used)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    return took


Call = Callable[[], str]


def page_calls(storage, store: StatisticsStore, period: Period) -> dict[str, Call]:
    """The three calls statistics.js makes for ``period``, each ending in JSON."""
    periods = three_periods(period, ZONE, ZONE_NAME)
    return {
        "incidents": lambda: incident_statistics(store, period, ZONE, ZONE_NAME).model_dump_json(),
        "response-times": lambda: response_time_statistics(
            store, period, ZONE, ZONE_NAME
        ).model_dump_json(),
        "false-alarms": lambda: false_alarm_statistics(store, periods).model_dump_json(),
    }


def timed(call: Call, runs: int) -> tuple[float, float, float]:
    """Wall-clock p50 and p95 milliseconds of ``runs`` calls (after one untimed warm-up),
    and the p95 of this process's CPU time per call: on a machine shared with other work
    the wall clock also counts waiting for a core, the CPU time does not."""
    call()
    wall, cpu = [], []
    for _ in range(runs):
        clock, used = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - clock) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return percentile(wall, 50), percentile(wall, 95), percentile(cpu, 95)


def measure(storage, store: StatisticsStore, runs: int) -> dict[tuple[str, str], tuple]:
    figures = {}
    for label, period in (
        ("month", period_of(Unit.MONTH, date(YEAR, 6, 15))),
        ("year", period_of(Unit.YEAR, date(YEAR, 6, 15))),
    ):
        for name, call in page_calls(storage, store, period).items():
            figures[label, name] = timed(call, runs if label == "month" else max(3, runs // 3))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per call (a month)")
    parser.add_argument(
        "--keep", type=Path, help="build the store in this folder once and reuse it after"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stats-bench-") as tmp:
        folder = args.keep or Path(tmp) / "hub"
        if not (folder / DATABASE_FILE).exists():
            for step, (wall, cpu) in build(folder, args.incidents, args.alerts).items():
                print(f"build: {step:<28} {wall:6.1f} s wall, {cpu:6.1f} s CPU")
        storage = open_sqlite_storage(folder)
        for index in ("incidents_statistics", "incidents_timings"):
            storage.incidents.database.db.execute(f"DROP INDEX IF EXISTS {index}")
        storage.incidents.database.db.execute(
            "DELETE FROM _sqlite_migrations WHERE migration_set = 'villagewatch-hub-statistics'"
        )
        try:
            baseline = measure(
                storage, StatisticsStore(storage.incidents.database, indexed=False), args.runs
            )
            clock, used = time.perf_counter(), time.process_time()
            store = StatisticsStore(storage.incidents.database)  # creates the indexes
            wall, cpu = time.perf_counter() - clock, time.process_time() - used
            print(f"build: {'statistics indexes':<28} {wall:6.1f} s wall, {cpu:6.1f} s CPU")
            indexed = measure(storage, store, args.runs)
        finally:
            storage.close()
    runs = f"month: {args.runs} runs, year: {max(3, args.runs // 3)}"
    print(f"\n{args.incidents:,} incidents, {args.alerts:,} alerts; ms, p50 / p95 ({runs});"
          f" goal p95 <= {GOAL_P95_MS:.0f} ms")  # fmt: skip
    print(f"{'':<24}{'baseline':>22}{'with indexes':>22}")
    print(f"{'call':<24}{'wall p50/p95':>15}{'cpu p95':>8}{'wall p50/p95':>15}{'cpu p95':>8}"
          f"{'wall p95 ratio':>16}  goal (wall p95)")  # fmt: skip
    for (label, name), (p50, p95, cpu) in indexed.items():
        b50, b95, bcpu = baseline[label, name]
        goal = "met" if p95 <= GOAL_P95_MS else "MISSED"
        print(f"{label + ' ' + name:<24}{b50:7.0f} /{b95:6.0f}{bcpu:8.0f}{p50:7.0f} /{p95:6.0f}"
              f"{cpu:8.0f}{b95 / p95:15.1f}x  {goal}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
