"""The alert tables (migration set ``villagewatch-hub-alerts``).

* ``alerts`` — one row per alert, with the indexes its lists start from.
* ``pending_snapshots`` — snapshots that came before their alert.
* ``incident_sources`` — which sources raised each incident (for false-alarm rates).

Never edit a released migration: add the next one.
"""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

migrations = Migrations("villagewatch-hub-alerts")


@migrations()
def m001_alerts(db) -> None:
    db.execute(
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
            snapshot_path TEXT,
            incident_id TEXT
        )"""
    )
    # Lists are newest *received* first; the filters below each have an index to start from.
    db.execute("CREATE INDEX alerts_received ON alerts (received_at)")
    db.execute("CREATE INDEX alerts_area_received ON alerts (area, received_at)")
    db.execute("CREATE INDEX alerts_severity_received ON alerts (severity, received_at)")
    db.execute("CREATE INDEX alerts_kind_received ON alerts (kind, received_at)")
    db.execute("CREATE INDEX alerts_incident ON alerts (incident_id)")
    db.execute(
        """CREATE TABLE pending_snapshots (
            alert_id TEXT PRIMARY KEY,
            site TEXT NOT NULL,
            node TEXT NOT NULL,
            path TEXT NOT NULL,
            received_at TEXT NOT NULL
        )"""
    )


@migrations()
def m002_incident_sources(db) -> None:
    """Which sources (node, camera, zone, kind) raised each incident: one row per pair,
    written with the alerts (a batch of 500 alerts of one rule writes one row). False-alarm
    rates read it instead of every alert, and it outlives the alerts (retention purges
    alerts; incidents and these rows stay). Empty strings stand for a sensor's missing
    camera and zone: a WITHOUT ROWID key cannot hold NULL."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS incident_sources (
            incident_id TEXT NOT NULL, node TEXT NOT NULL, camera TEXT NOT NULL,
            zone TEXT NOT NULL, kind TEXT NOT NULL,
            PRIMARY KEY (incident_id, node, camera, zone, kind)
        ) WITHOUT ROWID"""
    )
    # A database made while statistics kept this table by triggers: they go (one row per
    # alert cost ingest ~25% of its writer's time).
    db.execute("DROP TRIGGER IF EXISTS incident_sources_filed")
    db.execute("DROP TRIGGER IF EXISTS incident_sources_linked")
    db.execute(
        "INSERT OR IGNORE INTO incident_sources SELECT DISTINCT incident_id, node,"
        " COALESCE(camera, ''), COALESCE(zone, ''), kind FROM alerts"
        " WHERE incident_id IS NOT NULL"
    )
