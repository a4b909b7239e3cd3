"""Backups of a hub's data, taken while it runs, and restoring them.

``villagewatch backup --config F OUT`` writes a folder::

    OUT/hub.sqlite3        the database, copied with SQLite's online backup API
    OUT/snapshots/...      alert snapshots
    OUT/attachments/...    incident photos
    OUT/vapid.pem          the Web Push key (browsers' subscriptions are bound to it)
    OUT/manifest.json      when, from where, and what it holds

**Consistent while the hub writes.** The database is copied in *one* step of the backup API:
that step reads inside one read transaction, so the copy is the database exactly as of one
commit (WAL lets the hub keep committing meanwhile; a copy made in several steps would
restart each time the hub commits, and under steady ingest might never finish). Files are
copied *after* the database: the hub writes a snapshot or photo before it commits the row
naming it, so every row in the copy finds its file (files that arrived later come along
too and are harmless). Everything is 0600 in 0700 folders; the copy is checked with
``PRAGMA quick_check`` and flushed to disk before the command says it is done.

**Restore refuses a running hub.** Every process with a hub's database open holds a shared
``flock`` on ``<data_dir>/hub.lock`` (:mod:`hub.storage.sqlite.private`); ``restore`` takes
it exclusively without waiting, so a hub that is running makes it fail with
:class:`DataDirBusy` (and a hub cannot start in the middle of a restore). ``--force`` goes
ahead anyway, for a hub that is hung: the running hub keeps writing to the replaced file,
so restart it at once.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from contract.files import write_durably
from hub.clock import Clock, system_clock
from hub.storage.sqlite import DATABASE_FILE, FILE_FOLDERS
from hub.storage.sqlite.database import SqliteDatabase
from hub.storage.sqlite.private import (
    FILE_MODE,
    SQLITE_SIDE_FILES,
    DataDirBusy,
    lock_data_dir,
    private_dir,
    private_file,
)
from hub.storage.sqlite.users import SqliteAuditLog

log = logging.getLogger(__name__)

#: Files beside the database that a backup carries, besides FILE_FOLDERS.
KEY_FILES = ("vapid.pem", "privacy.salt")  # privacy.salt: subject keys in the audit log
MANIFEST = "manifest.json"

__all__ = ["BackupError", "BackupSummary", "DataDirBusy", "backup", "restore"]


class BackupError(Exception):
    """A backup or restore that cannot be done (the message says why)."""


@dataclass(frozen=True)
class BackupSummary:
    folder: Path
    database_bytes: int
    files: int
    taken_at: datetime

    def describe(self) -> str:
        return (
            f"{self.folder}: database {self.database_bytes / 1e6:.1f} MB and {self.files} "
            f"files, as of {self.taken_at.isoformat(timespec='seconds')}"
        )


def backup(data_dir: Path, out: Path, clock: Clock = system_clock) -> BackupSummary:
    """Copy the hub's data in ``data_dir`` to the new folder ``out``, online."""
    data_dir, out = Path(data_dir), Path(out)
    source = data_dir / DATABASE_FILE
    if not source.is_file():
        raise BackupError(f"{source}: no hub database here")
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out}: exists and is not empty; give a new folder")
    private_dir(out)
    os.chmod(out, 0o700)
    taken_at = clock()
    # Before the copy, so the backup itself says when it was taken and by whom.
    _audit(data_dir, "hub.backup", str(out.resolve()), clock)
    database = out / DATABASE_FILE
    _copy_database(source, database)
    files = _copy_files(data_dir, out)
    manifest = {
        "format": 1,
        "taken_at": taken_at.isoformat(),
        "source": str(data_dir.resolve()),
        "database_bytes": database.stat().st_size,
        "files": files,
    }
    write_durably(out / MANIFEST, json.dumps(manifest, indent=2).encode())
    os.sync()  # a backup is done only once it is on disk
    return BackupSummary(out, database.stat().st_size, files, taken_at)


def restore(backup_dir: Path, data_dir: Path, force: bool = False) -> BackupSummary:
    """Replace the hub's data in ``data_dir`` with the backup in ``backup_dir``.

    Raises :class:`DataDirBusy` while a hub has the data open (unless ``force``) and
    :class:`BackupError` for a folder that is not a sound backup.
    """
    backup_dir, data_dir = Path(backup_dir), Path(data_dir)
    copy = backup_dir / DATABASE_FILE
    if not copy.is_file():
        raise BackupError(f"{backup_dir}: not a hub backup (no {DATABASE_FILE})")
    _check_database(copy)
    private_dir(data_dir)
    os.chmod(data_dir, 0o700)
    try:
        lock = lock_data_dir(data_dir, exclusive=True)
    except DataDirBusy:
        if not force:
            raise
        log.warning("%s: a hub has this data open; restoring anyway (--force)", data_dir)
        lock = None
    try:
        _replace_database(copy, data_dir / DATABASE_FILE)
        files = _replace_files(backup_dir, data_dir)
        os.sync()
    finally:
        if lock is not None:
            os.close(lock)
    manifest = _read_manifest(backup_dir)
    taken = manifest.get("taken_at")
    taken_at = datetime.fromisoformat(taken) if taken else system_clock()
    _audit(data_dir, "hub.restore", str(backup_dir.resolve()), system_clock, f"taken {taken}")
    return BackupSummary(backup_dir, copy.stat().st_size, files, taken_at)


# --- the database ------------------------------------------------------------------------


def _audit(data_dir: Path, action: str, target: str, clock: Clock, detail: str = "") -> None:
    """Who copied or replaced everything the hub holds goes in its audit log (the operating
    system's user: these commands are run on the hub's machine, not signed in)."""
    try:
        who = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        who = f"uid {os.getuid()}"
    database = SqliteDatabase(data_dir / DATABASE_FILE)
    try:
        SqliteAuditLog(database).record(clock(), None, action, target, f"{detail} by {who}".strip())
    finally:
        database.close()


def _copy_database(source: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".part")
    private_file(partial)
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(partial)
    try:
        # pages=0: everything in one step, one read transaction: one consistent moment.
        src.backup(dst, pages=0)
        # A self-contained file: no -wal beside the copy.
        dst.execute("PRAGMA journal_mode=DELETE")
        if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(f"{source}: the copy failed its integrity check")
    finally:
        dst.close()
        src.close()
    os.replace(partial, target)


def _check_database(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a SQLite database ({exc})") from None
    if result != "ok":
        raise BackupError(f"{path}: fails its integrity check: {result}")


def _replace_database(copy: Path, target: Path) -> None:
    incoming = target.with_name(target.name + ".restoring")
    private_file(incoming)
    shutil.copyfile(copy, incoming)
    # The old database's WAL must go *before* the new file takes its name: SQLite would
    # otherwise replay the old WAL's pages into the restored database.
    for suffix in SQLITE_SIDE_FILES:
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(incoming, target)


# --- files beside it ---------------------------------------------------------------------


def _copy_files(data_dir: Path, out: Path) -> int:
    count = 0
    for folder in FILE_FOLDERS:
        for path in sorted((data_dir / folder).rglob("*")):
            if path.is_file() and not path.name.endswith(".tmp"):
                target = out / path.relative_to(data_dir)
                private_dir(target.parent)
                _copy_private(path, target)
                count += 1
    for name in KEY_FILES:
        if (data_dir / name).is_file():
            _copy_private(data_dir / name, out / name)
    return count


def _replace_files(backup_dir: Path, data_dir: Path) -> int:
    for folder in FILE_FOLDERS:
        shutil.rmtree(data_dir / folder, ignore_errors=True)
    for name in KEY_FILES:
        (data_dir / name).unlink(missing_ok=True)
    return _copy_files(backup_dir, data_dir)


def _copy_private(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    os.chmod(target, FILE_MODE)


def _read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
