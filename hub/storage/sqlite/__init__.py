"""The SQLite implementation of every hub repository, and :func:`open_sqlite_storage`.

Everything lives in one file, ``<data_dir>/hub.sqlite3``, plus snapshot and attachment files
beside it. Each repository module owns its tables and migrations. Adding an aggregate is a
new module here and one line in :func:`open_sqlite_storage`.
"""

from __future__ import annotations

import os
from pathlib import Path

from hub.storage.repositories import Storage
from hub.storage.sqlite.alerts import SqliteAlertRepository
from hub.storage.sqlite.assignments import SqliteAssignmentRepository
from hub.storage.sqlite.counters import SqliteCounters
from hub.storage.sqlite.database import SqliteDatabase
from hub.storage.sqlite.incidents import SqliteIncidentRepository
from hub.storage.sqlite.nodes import SqliteNodeRepository
from hub.storage.sqlite.notifications import (
    SqliteNotificationRepository,
    SqlitePushSubscriptionRepository,
)
from hub.storage.sqlite.quarantine import SqliteQuarantine
from hub.storage.sqlite.units import SqliteUnitRepository
from hub.storage.sqlite.users import SqliteAuditLog, SqliteSessionRepository, SqliteUserRepository

DATABASE_FILE = "hub.sqlite3"
#: The folders of files beside the database (snapshots, incident photos) that rows name:
#: what a backup carries and what the orphan sweep looks through.
FILE_FOLDERS = ("snapshots", "attachments")


def open_sqlite_storage(data_dir: Path) -> Storage:
    """Open (creating and migrating as needed) the hub's storage in ``data_dir``.

    The folder holds personal data (snapshots, names, phone numbers): it is made private to
    the hub's user (0700).
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    database = SqliteDatabase(data_dir / DATABASE_FILE)
    counters = SqliteCounters(database)
    quarantine = SqliteQuarantine(database, counters)
    nodes = SqliteNodeRepository(database, counters)
    return Storage(
        alerts=SqliteAlertRepository(database, data_dir, nodes, counters, quarantine),
        nodes=nodes,
        users=SqliteUserRepository(database),
        sessions=SqliteSessionRepository(database),
        audit=SqliteAuditLog(database),
        quarantine=quarantine,
        counters=counters,
        incidents=SqliteIncidentRepository(database, data_dir),
        notifications=SqliteNotificationRepository(database),
        push_subscriptions=SqlitePushSubscriptionRepository(database),
        units=SqliteUnitRepository(database),
        assignments=SqliteAssignmentRepository(database),
        transaction=database.write,
        close=database.close,
        data_dir=data_dir,
    )
