"""Telling a failing *store* from a failing *message*.

Ingest must treat the two in opposite ways. A message that makes the code raise is poison:
it is quarantined and acknowledged, so it can never block the messages behind it. A store
that cannot write (disk full, I/O error, database locked, read-only, closed) says nothing
about the message: nothing may be acknowledged then, or a node's alert would be lost; the
hub holds the acknowledgements, reports ``degraded`` and retries until the store is back.

The test is by error code, not by exception class: SQLite reports both "disk is full" and
"too many SQL variables" as ``OperationalError``, and only the first is the store's fault.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

#: SQLite primary result codes that mean "the store cannot write now", not "bad input":
#: BUSY, LOCKED, NOMEM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB.
_SQLITE_STORE_CODES = frozenset({5, 6, 7, 8, 10, 11, 13, 14, 15, 26})
#: File errors that are the disk's, not the data's.
_OS_STORE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES, errno.EPERM}
)


class StorageFailure(RuntimeError):
    """The store could not take a write; nothing of the attempted transaction was kept."""


def is_storage_failure(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says the store, not the data, failed."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, StorageFailure):
            return True
        code = getattr(exc, "sqlite_errorcode", None)  # sqlite3.Error on Python >= 3.11
        if isinstance(code, int) and (code & 0xFF) in _SQLITE_STORE_CODES:
            return True
        # sqlite3.ProgrammingError: the hub is stopping and closed its database.
        if type(exc).__name__ == "ProgrammingError" and "closed database" in str(exc):
            return True
        if isinstance(exc, OSError) and exc.errno in _OS_STORE_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@contextlib.contextmanager
def as_storage_failure() -> Iterator[None]:
    """Raise what :func:`is_storage_failure` recognises as a :class:`StorageFailure`;
    anything else passes through unchanged."""
    try:
        yield
    except StorageFailure:
        raise
    except Exception as exc:
        if is_storage_failure(exc):
            raise StorageFailure(f"{type(exc).__name__}: {exc}") from exc
        raise
