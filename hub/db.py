"""Opening the hub database, and the small conventions every table follows.

Times are stored as ISO 8601 text in UTC with millisecond precision (:func:`iso`), so text
order is time order and ``WHERE ts > ?`` works on strings.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from hub.migrations import migrate

log = logging.getLogger(__name__)


def iso(moment: datetime) -> str:
    """A timezone-aware datetime as sortable UTC text: ``2024-05-01T21:03:04.123+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_database(path: Path) -> Database:
    """Open (creating and migrating as needed) the hub database at ``path``.

    WAL lets the web threads read while ingest writes; ``synchronous=FULL`` makes a commit
    durable before it returns, which the ingestor relies on before an MQTT PUBACK. The
    connection may be used from several threads, but only under the caller's lock.
    """
    conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
    db = Database(conn)
    db.enable_wal()
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    applied = migrate(db)
    if applied:
        log.info("hub database %s migrated: %s", path, ", ".join(applied))
    return db


def first_row(db: Database, sql: str, args: list) -> dict | None:
    return next(iter(db.query(sql, args)), None)
