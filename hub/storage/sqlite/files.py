"""Files beside the database (snapshots, attachments): written so a crash never leaves half."""

from __future__ import annotations

import os
from pathlib import Path

from hub.storage.sqlite.private import FILE_MODE, private_dir


def write_durably(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write via a temporary file, fsync, rename, fsync the folder: a crash leaves the old
    file or the new one, never half, and a committed row never points at nothing. The file
    is ``mode`` (owner-only) and folders made on the way 0700, whatever the umask."""
    private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
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
    # The rename is durable only once the folder is: else a power cut can lose the file
    # while the database row pointing at it survives.
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
