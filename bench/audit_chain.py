"""What the privacy duties cost on this machine (issue 10), each beside a baseline measured in
the same run on the same kind of SQLite file:

1. **chained audit writes**: ``SqliteAuditLog.record`` (INSERT, read the predecessor's hash,
   sha256, UPDATE, durable commit) beside the plain INSERT + durable commit it replaced, on a
   table of the same shape in the same database;
2. **verify**: ``villagewatch audit verify``'s walk (:func:`hub.privacy.audit_chain.verify_chain`)
   over the chain just written, beside a plain ``SELECT`` of the same rows;
3. **an erasure** on a store of ``--alerts`` alerts: the whole request (scan with the fuzzy
   plate match, delete, VACUUM, WAL truncate) beside the scan alone (an access request).

The machine has two cores shared with other work: absolute times are noisy, the ratios are
the figures to quote. Nothing is asserted.

    .venv/bin/python bench/audit_chain.py [--rows 3000] [--alerts 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from hub_helpers import make_alert  # noqa: E402

from contract.protocol import DetectedObject  # noqa: E402
from hub.privacy.audit_chain import verify_chain  # noqa: E402
from hub.privacy.requests import SubjectRequests  # noqa: E402
from hub.privacy.sources import subject_sources  # noqa: E402
from hub.privacy.subjects import Subject  # noqa: E402
from hub.storage.sqlite import DATABASE_FILE, open_sqlite_storage  # noqa: E402
from hub.storage.sqlite.database import iso  # noqa: E402


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def audit_writes(storage, rows: int) -> tuple[float, float]:
    """Seconds for ``rows`` chained records, and for ``rows`` plain inserts (baseline)."""
    db = storage.alerts.database
    with db.write() as d:
        d.execute("CREATE TABLE plain_audit AS SELECT id, ts, username, action, target, detail"
                  " FROM audit WHERE 0")  # fmt: skip
    at = datetime.now(UTC)

    def chained() -> None:
        for i in range(rows):
            storage.audit.record(at, "officer", "alert.view", f"alert-{i}", "bench")

    def plain() -> None:
        for i in range(rows):
            with db.write() as d:
                d.execute("INSERT INTO plain_audit (ts, username, action, target, detail)"
                          " VALUES (?, ?, ?, ?, ?)",
                          [iso(at), "officer", "alert.view", f"alert-{i}", "bench"])  # fmt: skip

    return timed(chained), timed(plain)


def fill_alerts(storage, n: int, plate_every: int) -> None:
    now = datetime.now(UTC)
    with storage.transaction():  # one commit: the fill is not what is measured
        _fill(storage, n, plate_every, now)


def _fill(storage, n: int, plate_every: int, now: datetime) -> None:
    for i in range(n):
        plate = "粤C12345" if i % plate_every == 0 else f"京A{i % 100000:05d}"
        car = DetectedObject(label="car", score=0.9, box=(1, 2, 90, 80), track_id=1, plate=plate)
        storage.alerts.insert(make_alert(kind="vehicle", objects=[car]), now - timedelta(seconds=i))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=3000)
    p.add_argument("--alerts", type=int, default=20000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        storage = open_sqlite_storage(Path(tmp) / "hub")
        chained, plain = audit_writes(storage, args.rows)
        print(f"audit write, {args.rows} rows, each a durable commit:")
        print(f"  chained  {chained / args.rows * 1e6:8.0f} µs/row")
        print(f"  plain    {plain / args.rows * 1e6:8.0f} µs/row   (baseline)  "
              f"ratio {chained / plain:.2f}x")  # fmt: skip

        database = storage.data_dir / DATABASE_FILE
        walk = timed(lambda: verify_chain(database))
        read = timed(lambda: storage.alerts.database.all("SELECT * FROM audit ORDER BY id"))
        print(f"verify, {args.rows} rows: {walk * 1e3:.1f} ms; plain SELECT {read * 1e3:.1f} ms "
              f"(baseline)  ratio {walk / read:.1f}x")  # fmt: skip

        fill_alerts(storage, args.alerts, plate_every=1000)
        requests = SubjectRequests(
            subject_sources(storage, storage.data_dir),
            storage.audit,
            storage.alerts.database,
            storage.data_dir,
        )
        subject = Subject(plate="粤C·12345")  # fmt: skip
        scan = timed(lambda: requests.access(subject, "bench"))
        size = database.stat().st_size
        erase = timed(lambda: requests.erase(subject, "bench"))
        print(f"subject request over {args.alerts} alerts ({size / 1e6:.1f} MB file):")
        print(f"  access (scan, fuzzy match)   {scan * 1e3:8.0f} ms   (baseline)")
        print(f"  erasure (+ delete, VACUUM)   {erase * 1e3:8.0f} ms   ratio {erase / scan:.1f}x")
        storage.close()


if __name__ == "__main__":
    main()
