"""Snapshots kept shorter than their alerts (``hub.retention.snapshots_days``).

A snapshot shows people (faces blurred, but clothes, gait, cars); the alert row says only
what happened where. A site may keep the rows for statistics and reports long after the
photos are gone: this drops the photos of alerts received before a cutoff and marks the
rows as having none, so the officer page stops offering them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from hub.storage.repositories import Storage
from hub.storage.sqlite.database import iso


def drop_snapshots(storage: Storage, received_before: datetime) -> dict[str, int]:
    """Delete the snapshot files of alerts received before ``received_before``; their rows
    stay without a snapshot. Files go after the commit (a row never names a missing file
    for longer than that; a file left by a crash is swept as an orphan)."""
    database = storage.alerts.database  # type: ignore[attr-defined]  # the SQLite repository
    cutoff = iso(received_before)
    with database.write() as db:
        files = [
            r[0]
            for r in db.conn.execute(
                "SELECT snapshot_path FROM alerts"
                " WHERE received_at < ? AND snapshot_path IS NOT NULL",
                [cutoff],
            )
        ]
        db.conn.execute(
            "UPDATE alerts SET snapshot_path = NULL, has_snapshot = 0"
            " WHERE received_at < ? AND (snapshot_path IS NOT NULL OR has_snapshot)",
            [cutoff],
        )
    root = Path(storage.data_dir).resolve()
    for rel in files:
        path = (root / rel).resolve()
        if path.is_relative_to(root):
            path.unlink(missing_ok=True)
    return {"snapshots_dropped": len(files)}
