"""The hub database schema, as an ordered list of migrations.

Each function runs once per database, in order, inside a transaction
(:class:`sqlite_utils.migrations.Migrations` records what ran in ``_sqlite_migrations``).
Never edit a released migration: add a new one. Times are ISO 8601 strings in UTC with
millisecond precision, so text order is time order.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

hub_migrations = Migrations("villagewatch-hub")

_INITIAL = [
    # One row per unique Alert.id; duplicates (QoS 1 = at least once) never reach it.
    """CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        node TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts TEXT NOT NULL,
        received_at TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        area TEXT NOT NULL,
        zone TEXT,
        camera TEXT,
        message TEXT NOT NULL DEFAULT '',
        objects TEXT NOT NULL DEFAULT '[]',
        frame_size TEXT,
        has_snapshot INTEGER NOT NULL DEFAULT 0,
        snapshot_path TEXT
    )""",
    "CREATE INDEX alerts_ts ON alerts (ts)",
    "CREATE INDEX alerts_area_ts ON alerts (area, ts)",
    "CREATE INDEX alerts_received ON alerts (received_at)",
    # Snapshots that arrived before their alert; linked when it comes, purged if it never does.
    """CREATE TABLE pending_snapshots (
        alert_id TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        node TEXT NOT NULL,
        path TEXT NOT NULL,
        received_at TEXT NOT NULL
    )""",
    # Current state of every node ever heard of, plus its alert sequence bookkeeping.
    """CREATE TABLE nodes (
        site TEXT NOT NULL,
        node TEXT NOT NULL,
        state TEXT,
        role TEXT,
        software TEXT NOT NULL DEFAULT '',
        ts TEXT,
        received_at TEXT,
        last_seq INTEGER,
        seq_gaps INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (site, node)
    )""",
    # Status history: one row per change of state.
    """CREATE TABLE node_status (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        node TEXT NOT NULL,
        state TEXT NOT NULL,
        role TEXT NOT NULL,
        ts TEXT,
        received_at TEXT NOT NULL
    )""",
    "CREATE INDEX node_status_received ON node_status (received_at)",
    # Latest stats per node only: history belongs in a metrics system, not here.
    """CREATE TABLE node_stats (
        site TEXT NOT NULL,
        node TEXT NOT NULL,
        ts TEXT NOT NULL,
        received_at TEXT NOT NULL,
        uptime_s REAL NOT NULL,
        outbox_pending INTEGER NOT NULL,
        cameras TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (site, node)
    )""",
    # Refused messages: enough to diagnose, never the whole (possibly huge) payload.
    """CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        received_at TEXT NOT NULL,
        topic TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL,
        size INTEGER NOT NULL,
        excerpt BLOB NOT NULL
    )""",
    "CREATE INDEX quarantine_received ON quarantine (received_at)",
    # Monotonic counters (duplicates, quarantined.<reason>, ...); survive purges.
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL DEFAULT 0)",
    """CREATE TABLE users (
        username TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'officer', 'admin')),
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    # Only a hash of each session token is kept: a stolen database opens no sessions.
    """CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )""",
    """CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        username TEXT,
        action TEXT NOT NULL,
        target TEXT,
        detail TEXT
    )""",
    "CREATE INDEX audit_ts ON audit (ts)",
]


@hub_migrations()
def m001_initial(db: Database) -> None:
    for statement in _INITIAL:
        db.execute(statement)


def migrate(db: Database) -> list[str]:
    """Bring ``db`` to the newest schema; returns the names of the migrations applied."""
    pending = [m.name for m in hub_migrations.pending(db)]
    hub_migrations.apply(db)
    return pending
