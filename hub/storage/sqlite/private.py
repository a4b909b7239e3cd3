"""Private files: everything the hub stores is for the hub's user alone.

The database holds password and session hashes, names and phone numbers; snapshots and
photos show people. Files are made 0600 and folders 0700 whatever the process's umask is
(a umask can only take bits away, and 022 would leave them readable by everyone): each is
created owner-only and then chmod-ed to exactly that.

SQLite creates a database's ``-wal`` and ``-shm`` files with the database file's own
permissions, so making the database file 0600 *before* SQLite first opens it makes all three
private; files left by an older hub are chmod-ed when it next opens them.

The data folder also carries ``hub.lock``: every process with the database open holds a
*shared* lock on it, and ``villagewatch restore`` needs an *exclusive* one, so a restore can
tell that a hub is running (and a hub cannot start in the middle of a restore).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from contract.files import FILE_MODE, private_dir

LOCK_FILE = "hub.lock"
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


class DataDirBusy(RuntimeError):
    """The data folder is locked by another process (a running hub, or a restore)."""


def private_file(path: Path) -> None:
    """Create ``path`` empty if missing; either way make it 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def private_database(path: Path) -> None:
    """Make a SQLite database file (and the side files SQLite derives from it) 0600."""
    private_dir(path.parent)
    private_file(path)
    for suffix in SQLITE_SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.chmod(side, FILE_MODE)


def lock_data_dir(folder: Path, exclusive: bool = False) -> int:
    """Take the data folder's lock without waiting; returns the descriptor (closing it lets
    go). Raises :class:`DataDirBusy` when another process holds it the other way."""
    lock_path = Path(folder) / LOCK_FILE
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        what = "a hub (or a backup tool) has" if exclusive else "a restore has"
        raise DataDirBusy(f"{folder}: {what} its database open") from None
    return fd
