"""One SQLite file shared by every repository: connection, lock, transactions, schema.

Times are stored as ISO 8601 text in UTC with millisecond precision (:func:`iso`), so text
order is time order and ``WHERE ts > ?`` works on strings.

Each repository owns its tables and brings its own :class:`sqlite_utils.migrations.Migrations`
(named after the aggregate), so adding an aggregate never edits another one's schema.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from hub.storage.sqlite.private import lock_data_dir, private_database

log = logging.getLogger(__name__)

#: SQLite's INTEGER is signed 64-bit; a larger number from outside is refused, not stored.
SQLITE_INT_MAX = 2**63 - 1


def iso(moment: datetime) -> str:
    """A timezone-aware datetime as sortable UTC text: ``2024-05-01T21:03:04.123+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


#: What a page cursor this hub did not make is refused with (a 400 in the API).
BAD_CURSOR = "not a cursor from this hub"


def marks(values: Iterable[object]) -> str:
    """``?, ?, ?`` for an ``IN (...)`` of ``values``."""
    return ", ".join("?" for _ in values)


def encode_cursor(*parts: object) -> str:
    """An opaque page cursor: the sort key of a page's last row (URL-safe, no padding)."""
    raw = "|".join(str(p) for p in parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, parts: int) -> list[str]:
    """The ``parts`` strings :func:`encode_cursor` put in ``cursor``, the first an ISO time
    (every list here pages by a time). ValueError for anything this code did not make; the
    caller checks the rest."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        fields = raw.split("|")
        if len(fields) != parts:
            raise ValueError(cursor)
        datetime.fromisoformat(fields[0])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(BAD_CURSOR) from exc
    return fields


class SqliteDatabase:
    """The hub's SQLite file.

    WAL lets the web threads read while ingest writes; ``synchronous=FULL`` makes a commit
    durable before it returns, which ingest relies on before an MQTT PUBACK. One connection
    is shared by all threads under :attr:`lock`; :meth:`write` nests (savepoints), so a
    service can wrap several repositories' writes in one transaction.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # Owner-only before SQLite first opens it: its -wal and -shm inherit the mode.
        private_database(self.path)
        # Shared while open; a restore needs it exclusive, so it sees a running hub.
        self._lock_fd = lock_data_dir(self.path.parent)
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        self.db = Database(conn)
        self.db.enable_wal()
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.lock = threading.RLock()

    def migrate(self, migrations: Migrations) -> None:
        """Bring one aggregate's tables to their newest schema."""
        with self.lock:
            pending = [m.name for m in migrations.pending(self.db)]
            migrations.apply(self.db)
        if pending:
            log.info("%s: applied %s", self.path.name, ", ".join(pending))

    @contextlib.contextmanager
    def write(self) -> Iterator[Database]:
        """A transaction (a savepoint inside another): all of it is committed, or none."""
        with self.lock, self.db.atomic():
            yield self.db

    @contextlib.contextmanager
    def read(self) -> Iterator[Database]:
        with self.lock:
            yield self.db

    def one(self, sql: str, args: list | tuple = ()) -> dict | None:
        """The first row of a query as a dict, or None."""
        with self.lock:
            return next(iter(self.db.query(sql, list(args))), None)

    def all(self, sql: str, args: list | tuple = ()) -> list[dict]:
        with self.lock:
            return list(self.db.query(sql, list(args)))

    def scalar(self, sql: str, args: list | tuple = ()) -> object:
        with self.lock:
            row = self.db.execute(sql, list(args)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self.lock:
            self.db.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
