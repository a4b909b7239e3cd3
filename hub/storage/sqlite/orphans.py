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
from hub.storage.sqlite import FILE_FOLDERS
from hub.storage.sqlite.database import SqliteDatabase

MIN_AGE = timedelta(hours=1)


def sweep_orphans(
    database: SqliteDatabase, data_dir: Path, now: datetime, min_age: timedelta = MIN_AGE
) -> dict[str, int]:
    """Delete files under the data folder's file folders that no row names and that were
    last written before ``now - min_age``; returns ``{"orphan_files": n, "orphan_bytes": b}``.

    Each file is looked up by the key its name carries (the alert id of a snapshot, the
    incident of a photo), so the sweep costs one indexed lookup per old file and holds no
    list of every file in memory.
    """
    data_dir = Path(data_dir)
    cutoff = (now - min_age).timestamp()
    count = size = 0
    for folder in FILE_FOLDERS:
        for path in (data_dir / folder).rglob("*"):
            if not path.is_file():
                continue
            stat = path.stat()
            if stat.st_mtime >= cutoff or _named(database, path.relative_to(data_dir)):
                continue
            path.unlink(missing_ok=True)
            count, size = count + 1, size + stat.st_size
        _remove_empty_folders(data_dir / folder, cutoff)
    return {"orphan_files": count, "orphan_bytes": size}


def _named(database: SqliteDatabase, rel: Path) -> bool:
    """Whether a row names this file: ``snapshots/<site>/<day>/<alert id>.jpg`` (an alert's
    or a waiting snapshot's) or ``attachments/<incident id>/<stored name>``."""
    text = str(rel)
    if rel.parts[0] == "snapshots":
        found = database.one(
            "SELECT 1 AS hit FROM alerts WHERE id = ? AND snapshot_path = ?"
            " UNION ALL SELECT 1 FROM pending_snapshots WHERE alert_id = ? AND path = ?",
            [rel.stem, text, rel.stem, text],
        )
    elif len(rel.parts) == 3:
        found = database.one(
            "SELECT 1 AS hit FROM incident_attachments WHERE incident_id = ? AND stored_name = ?",
            [rel.parts[1], rel.parts[2]],
        )
    else:
        found = None
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
