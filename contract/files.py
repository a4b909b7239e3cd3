"""Private files, written whole: one writer for the broker's, the nodes' and the hub's.

Connection files and ``identities.json`` hold passwords and their hashes, certificate keys
sign for the site, the hub's snapshots and photos show people. Every such file is written
the same way:

* owner-only from its first byte: created with its final mode and then chmod-ed to exactly
  that (``O_CREAT`` honours the umask, which can only take bits away), so a key is never
  briefly readable by others; folders made on the way are 0700;
* whole or not at all: a temporary file beside it, fsync, rename over the old one, fsync
  of the folder, so a crash or power cut leaves the old file or the new one, never half,
  and a database row committed after the write never points at nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """``mkdir -p`` where every folder it creates is 0700 (existing ones are left alone)."""
    path = Path(path)
    missing = []
    walk = path
    while not walk.exists():
        missing.append(walk)
        walk = walk.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(folder, DIR_MODE)
    return path


def write_durably(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data``, mode ``mode`` (owner-only unless told), crash-safe."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # The rename is durable only once the folder is.
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
