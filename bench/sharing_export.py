"""What one department request costs: the shared count datasets over a year of synthetic
history in a real SQLite file, through :class:`hub.sharing.service.SharingService`.

    .venv/bin/python bench/sharing_export.py [--incidents 50000] [--alerts 300000] [--runs 7]

The history: a year (2026) of incidents and alerts at random minutes over 12 areas and 8
kinds (rows written with ``executemany``, as tests/sharing_kit.py does). Each call is one
department request for the longest period allowed (``max_query_days``, 92 days) over all
areas, timed end to end in Python (SQL GROUP BY, suppression, JSON or SensorThings shape;
no HTTP). The **baseline**, timed in the same run on the same file, is the cheapest query
that could answer at all: one ``SELECT count(*)`` over the same rows and period.

This machine has 2 cores shared with other work: absolute times are noisy; compare the
ratios. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

from percentile import percentile  # noqa: E402
from sharing_kit import alert_row, incident_row, insert  # noqa: E402

from contract.sharing_settings import SharingSettings  # noqa: E402
from contract.siteconfig import Area  # noqa: E402
from hub.clock import ManualClock  # noqa: E402
from hub.sharing.scope import Dataset  # noqa: E402
from hub.sharing.service import Period, SharingService  # noqa: E402
from hub.storage.sqlite import open_sqlite_storage  # noqa: E402
from hub.storage.sqlite.database import iso  # noqa: E402
from hub.storage.sqlite.sharing import sharing_for  # noqa: E402

YEAR = datetime(2026, 1, 1, tzinfo=UTC)
AREAS = [f"area-{i:02d}" for i in range(12)]
KINDS = ["intrusion", "loitering", "theft", "fight", "crowd", "vehicle", "fire", "fall"]


def history(storage, incidents: int, alerts: int, rng: random.Random) -> None:
    def moment() -> datetime:
        return YEAR + timedelta(minutes=rng.randrange(365 * 24 * 60))

    database = storage.alerts.database
    rows = [incident_row(moment(), rng.choice(AREAS), rng.choice(KINDS)) for _ in range(incidents)]
    insert(database, "incidents", rows)
    for start in range(0, alerts, 50_000):
        batch = min(50_000, alerts - start)
        insert(
            database,
            "alerts",
            [alert_row(moment(), rng.choice(AREAS), rng.choice(KINDS)) for _ in range(batch)],
        )


def timed(call, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return percentile(times, 50), percentile(times, 95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--alerts", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        storage = open_sqlite_storage(Path(tmp) / "hub")
        t0 = time.perf_counter()
        history(storage, args.incidents, args.alerts, random.Random(12))
        built = time.perf_counter() - t0
        print(f"history: {args.incidents} incidents, {args.alerts} alerts in {built:.0f} s")
        areas = [Area(id=a, name=a) for a in AREAS]
        settings = SharingSettings()
        service = SharingService(
            sharing_for(storage), areas, settings, ManualClock(YEAR + timedelta(days=400))
        )
        period = Period(
            YEAR + timedelta(days=120), YEAR + timedelta(days=120 + settings.max_query_days)
        )
        counts = {
            "incidents": ("incidents", "opened_at"),
            "alerts": ("alerts", "ts"),
        }
        print(
            f"{'call (92 days, 12 areas)':44} {'p50 ms':>8} {'p95 ms':>8}  {'x baseline p50':>14}"
        )
        for dataset, fmt in [
            (Dataset.INCIDENT_COUNTS, "json"),
            (Dataset.INCIDENT_COUNTS, "sensorthings"),
            (Dataset.ALERT_COUNTS, "json"),
            (Dataset.ALERT_COUNTS, "csv"),
        ]:
            table, column = counts["incidents" if dataset == Dataset.INCIDENT_COUNTS else "alerts"]
            sql = f"SELECT count(*) FROM {table} WHERE {column} >= ? AND {column} < ?"
            window = [iso(period.start), iso(period.end)]
            base50, base95 = timed(
                lambda s=sql, w=window: storage.alerts.database.scalar(s, w), args.runs
            )
            p50, p95 = timed(lambda d=dataset, f=fmt: service.read(d, period, AREAS, f), args.runs)
            print(f"{'baseline count(*) ' + table:44} {base50:8.1f} {base95:8.1f}")
            print(f"{dataset.value + '.' + fmt:44} {p50:8.1f} {p95:8.1f}  {p50 / base50:14.1f}")
        storage.close()


if __name__ == "__main__":
    main()
