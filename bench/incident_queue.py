"""Incident queries on a big history: the duty desk's queue, a history page, correlation.

Fills a fresh SQLite file with ``--count`` incidents over a year (``--open-share`` of them
still open, the rest resolved or cancelled), then times each query ``--repeat`` times.

    .venv/bin/python bench/incident_queue.py [--count 100000] [--open-share 0.05]

Target: queue p95 ≤ 50 ms with 100,000 incidents.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from contract.protocol import Severity  # noqa: E402
from hub.domain.incidents import (  # noqa: E402
    Category,
    Incident,
    IncidentState,
    Location,
    Outcome,
    Source,
)
from hub.storage.incidents import IncidentQuery  # noqa: E402
from hub.storage.sqlite.database import SqliteDatabase  # noqa: E402
from hub.storage.sqlite.incidents import SqliteIncidentRepository  # noqa: E402

AREAS = [f"area-{n}" for n in range(20)]
CLOSED = (IncidentState.RESOLVED, IncidentState.CANCELLED)


def fill(repo: SqliteIncidentRepository, count: int, open_share: float, now: datetime) -> None:
    rng = random.Random(7)
    with repo.database.write():
        for _ in range(count):
            opened = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
            is_open = rng.random() < open_share
            state = rng.choice([s for s in IncidentState if s.is_open] if is_open else list(CLOSED))
            incident = Incident(
                id=uuid.uuid4().hex,
                ref=repo.next_ref(opened.date()),
                category=rng.choice(list(Category)),
                source=Source.ALERTS,
                state=state,
                severity=rng.choice(list(Severity)),
                kind=rng.choice(["intrusion", "door", "loitering", "stream_lost"]),
                title="bench",
                location=Location(area=rng.choice(AREAS)),
                opened_at=opened,
                updated_at=opened,
                last_alert_at=opened,
                alert_count=1,
                acknowledged_at=opened + timedelta(seconds=30),
                resolved_at=None if is_open else opened + timedelta(minutes=20),
                outcome=Outcome.HANDLED if state is IncidentState.RESOLVED else None,
            )
            repo.create(incident)


def timed(label: str, call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    p95 = statistics.quantiles(times, n=20)[-1]
    print(f"{label:<34} p50 {statistics.median(times):7.2f} ms   p95 {p95:7.2f} ms")
    return p95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--open-share", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    now = datetime(2026, 12, 2, 21, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        database = SqliteDatabase(Path(tmp) / "hub.sqlite3")
        repo = SqliteIncidentRepository(database, Path(tmp))
        t = time.perf_counter()
        fill(repo, args.count, args.open_share, now)
        took = time.perf_counter() - t
        print(f"{args.count} incidents ({args.open_share:.0%} open) written in {took:.1f} s")
        queue_p95 = timed("queue (200 most urgent open)", repo.queue, args.repeat)
        timed("history page (50, newest)", lambda: repo.find(IncidentQuery()), args.repeat)
        states = (IncidentState.NEW,)
        timed(
            "history page, state=new", lambda: repo.find(IncidentQuery(state=states)), args.repeat
        )
        since = now - timedelta(seconds=120)
        timed(
            "correlation lookup",
            lambda: repo.open_for_correlation("area-3", Category.SECURITY, since),
            args.repeat,
        )
        database.close()
    ok = queue_p95 <= 50
    print("queue p95 ≤ 50 ms:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
