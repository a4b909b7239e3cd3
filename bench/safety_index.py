"""The safety index, the hot spots and the monthly report over a year of synthetic history in
a real SQLite file, beside a baseline measured in the same run on the same file.

    .venv/bin/python bench/safety_index.py [--incidents 100000] [--runs 3]

**The history**: ``--incidents`` incidents at random moments of 2026 in the example site's
two areas (plaza, north gate), 8 kinds, 90 % security; most resolved (handled, false alarm,
duplicate, no trace), some cancelled, some open; half dispatched, most of those reached.
Rows go in with ``executemany`` (tests/statistics_kit.py's columns), as bench/stats_queries.py
does.

**The calls**: ``index_report`` for December 2026 (reads the 12 months of history through
the incident repository's pages and computes every month for the site and each area),
``hotspots_report`` (12 weeks) and ``monthly_report`` + its HTML. **The baseline** is the
hub's own year-long read that the response-time report does (``milestones_between`` over
the same 12 months: one lean SQL query), so the ratio says what reading whole incidents
through the repository costs on top of the cheapest read of the same rows.

This machine has 2 cores shared with other work: absolute times are noisy; compare the
ratios. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from hub_helpers import example_config  # noqa: E402
from statistics_kit import incident, insert  # noqa: E402

from hub.safety.hotspots import hotspots_report  # noqa: E402
from hub.safety.months import Month  # noqa: E402
from hub.safety.report import monthly_report  # noqa: E402
from hub.safety.report_html import render  # noqa: E402
from hub.safety.service import history_bounds, index_report  # noqa: E402
from hub.storage.sqlite import open_sqlite_storage  # noqa: E402

KINDS = ["theft", "burglary", "intrusion", "door", "loitering", "robbery", "fight", "crowd"]
OUTCOMES = ["handled"] * 6 + ["false_alarm"] * 2 + ["duplicate", "no_trace"]


def history(n: int, rng: random.Random) -> list[dict]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for _ in range(n):
        opened = start + timedelta(seconds=rng.randrange(365 * 86400))
        fields: dict = {"kind": rng.choice(KINDS), "area": rng.choice(["plaza", "north-gate"])}
        if rng.random() < 0.1:
            fields |= {"kind": "stream_lost", "category": "maintenance"}
        roll = rng.random()
        if roll < 0.8:
            fields |= {"state": "resolved", "outcome": rng.choice(OUTCOMES)}
        elif roll < 0.9:
            fields |= {"state": "cancelled"}
        if rng.random() < 0.5:
            fields["dispatched_at"] = opened + timedelta(seconds=rng.randrange(30, 300))
            if rng.random() < 0.9:
                fields["on_scene_at"] = opened + timedelta(seconds=rng.randrange(120, 1800))
        rows.append(incident(opened, **fields))
    return rows


def timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median, max) seconds of ``runs`` calls."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    config = example_config()
    month = Month(2026, 12)
    now = datetime(2027, 1, 1, 6, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        storage = open_sqlite_storage(Path(tmp) / "hub")
        t0 = time.perf_counter()
        insert(storage.incidents.database, history(args.incidents, random.Random(12)))
        print(f"history: {args.incidents:,} incidents in {time.perf_counter() - t0:.1f} s")
        repo = storage.incidents
        first, end = history_bounds(month, config.safety, config.site.timezone)
        calls = {
            "baseline: milestones_between, 12 months": lambda: repo.milestones_between(first, end),
            "index_report (site + 2 areas, 12 months)": lambda: index_report(repo, config, month),
            "hotspots_report (12 weeks)": lambda: hotspots_report(repo, config, end),
            "monthly_report + HTML": lambda: render(monthly_report(repo, config, month, now)),
        }
        results = {name: timed(call, args.runs) for name, call in calls.items()}
        base = results["baseline: milestones_between, 12 months"][0]
        print(f"\n{'call':<44} {'median s':>9} {'max s':>8} {'x baseline':>11}")
        for name, (median, worst) in results.items():
            print(f"{name:<44} {median:>9.3f} {worst:>8.3f} {median / base:>11.1f}")
        report = index_report(repo, config, month)
        print(f"\nsite index December 2026: {report.site.index} ({args.runs} runs each)")
        storage.close()


if __name__ == "__main__":
    main()
