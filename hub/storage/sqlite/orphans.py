"""Files no row names: swept so that nothing the hub stopped tracking stays on disk.

A snapshot or photo is written *before* the row naming it is committed (so a committed row
never points at nothing). If the commit then never happens — the process is killed, the
disk fills at COMMIT, an outer transaction rolls back — the file is left with no row, and
retention, which deletes files through their rows, would never find it. This sweep lists the
files under ``snapshots/`` and ``attachments/``, and deletes those that no row names once
they are older than ``min_age`` (an hour: a file whose row is being committed right now is
younger than that). Leftover ``.tmp`` files of an interrupted write go the same way.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from hub.storage.repositories import Storage
from hub.storage.sqlite.database import SqliteDatabase

FOLDERS = ("snapshots", "attachments")
MIN_AGE = timedelta(hours=1)


def referenced_files(database: SqliteDatabase) -> set[str]:
    """Every file path (relative to the data folder) a row names."""
    rows = database.all(
        "SELECT snapshot_path AS path FROM alerts WHERE snapshot_path IS NOT NULL"
        " UNION ALL SELECT path FROM pending_snapshots"
        " UNION ALL SELECT 'attachments/' || incident_id || '/' || stored_name"
        " FROM incident_attachments"
    )
    return {str(Path(r["path"])) for r in rows}


def sweep_orphans(
    database: SqliteDatabase, data_dir: Path, now: datetime, min_age: timedelta = MIN_AGE
) -> dict[str, int]:
    """Delete files under the data folder's file folders that no row names and that were
    last written before ``now - min_age``; returns ``{"orphan_files": n, "orphan_bytes": b}``."""
    data_dir = Path(data_dir)
    cutoff = (now - min_age).timestamp()
    known = referenced_files(database)
    count = size = 0
    for folder in FOLDERS:
        for path in (data_dir / folder).rglob("*"):
            if not path.is_file() or str(path.relative_to(data_dir)) in known:
                continue
            stat = path.stat()
            if stat.st_mtime >= cutoff:
                continue
            # Checked again at the moment of deleting: a row may have come meanwhile.
            if _named_now(database, str(path.relative_to(data_dir))):
                continue
            path.unlink(missing_ok=True)
            count, size = count + 1, size + stat.st_size
        _remove_empty_folders(data_dir / folder, cutoff)
    return {"orphan_files": count, "orphan_bytes": size}


def _named_now(database: SqliteDatabase, rel: str) -> bool:
    """Whether a row names this one file at this moment."""
    found = database.one(
        "SELECT 1 AS hit FROM alerts WHERE snapshot_path = ?"
        " UNION ALL SELECT 1 FROM pending_snapshots WHERE path = ?"
        " UNION ALL SELECT 1 FROM incident_attachments"
        " WHERE 'attachments/' || incident_id || '/' || stored_name = ?",
        [rel, rel, rel],
    )
    return found is not None


def _remove_empty_folders(root: Path, cutoff: float) -> None:
    """Empty folders untouched since ``cutoff`` (a new one may be about to get its file)."""
    if not root.is_dir():
        return
    for folder, _dirs, _files in sorted(os.walk(root), key=lambda w: -len(w[0])):
        if Path(folder) != root and os.stat(folder).st_mtime < cutoff:
            with contextlib.suppress(OSError):  # only an empty folder goes
                os.rmdir(folder)


def orphan_sweeper(storage: Storage) -> Callable[[datetime], dict[str, int]]:
    """``now -> counts`` for the retention worker, over ``storage``'s SQLite file (from
    :func:`open_sqlite_storage`)."""
    database = storage.alerts.database  # type: ignore[attr-defined]
    return lambda now: sweep_orphans(database, storage.data_dir, now)
