"""Sensor heartbeats, battery history and area arming in SQLite.

The latest heartbeat is one row per node, its message kept whole as JSON (the protocol's
model reads it back; new optional fields need no migration). Battery readings are one row
each and pruned on every insert, by age and by count per node, so retention never waits for
a purge job.
"""

from __future__ import annotations

from datetime import datetime

from sqlite_utils.migrations import Migrations

from contract.protocol import Heartbeat
from hub.storage.repositories import Storage
from hub.storage.sensors import ArmingMode, ArmingOverride, BatteryReading, HeartbeatRecord
from hub.storage.sqlite.database import SqliteDatabase, from_iso, iso

migrations = Migrations("villagewatch-hub-sensors")


@migrations()
def m001_sensors(db) -> None:
    db.execute(
        """CREATE TABLE sensor_heartbeats (
            site TEXT NOT NULL,
            node TEXT NOT NULL,
            received_at TEXT NOT NULL,
            message TEXT NOT NULL,
            PRIMARY KEY (site, node)
        )"""
    )
    db.execute(
        """CREATE TABLE battery_readings (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            node TEXT NOT NULL,
            at TEXT NOT NULL,
            volts REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX battery_readings_node ON battery_readings (site, node, at)")
    db.execute(
        """CREATE TABLE area_arming (
            area TEXT PRIMARY KEY,
            mode TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL
        )"""
    )


@migrations()
def m002_troubles(db) -> None:
    # The troubles already reported for a node (an incident opened), comma-separated: a
    # trouble is reported once per episode, so an officer who closes the incident of a node
    # still silent is not sent a new one on the next check.
    db.execute("ALTER TABLE sensor_heartbeats ADD COLUMN troubles TEXT NOT NULL DEFAULT ''")


class SqliteSensorRepository:
    """:class:`hub.storage.sensors.SensorRepository` on the hub's SQLite file."""

    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        database.migrate(migrations)

    def record_heartbeat(
        self, heartbeat: Heartbeat, received_at: datetime
    ) -> HeartbeatRecord | None:
        with self.database.write() as db:
            before = self.get(heartbeat.site, heartbeat.node)
            db.execute(
                "INSERT INTO sensor_heartbeats (site, node, received_at, message)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (site, node) DO UPDATE SET"
                " received_at = excluded.received_at, message = excluded.message",
                [heartbeat.site, heartbeat.node, iso(received_at), heartbeat.model_dump_json()],
            )
        return before

    def set_troubles(self, site: str, node: str, troubles: frozenset[str]) -> None:
        with self.database.write() as db:
            db.execute(
                "UPDATE sensor_heartbeats SET troubles = ? WHERE site = ? AND node = ?",
                [",".join(sorted(troubles)), site, node],
            )

    def latest(self) -> list[HeartbeatRecord]:
        rows = self.database.all("SELECT * FROM sensor_heartbeats ORDER BY site, node")
        return [_record(r) for r in rows]

    def get(self, site: str, node: str) -> HeartbeatRecord | None:
        row = self.database.one(
            "SELECT * FROM sensor_heartbeats WHERE site = ? AND node = ?", [site, node]
        )
        return _record(row) if row else None

    def add_battery(
        self, site: str, node: str, reading: BatteryReading, keep_after: datetime, keep: int
    ) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO battery_readings (site, node, at, volts) VALUES (?, ?, ?, ?)",
                [site, node, iso(reading.at), reading.volts],
            )
            db.execute(
                "DELETE FROM battery_readings WHERE site = ? AND node = ? AND (at < ? OR id NOT IN"
                " (SELECT id FROM battery_readings WHERE site = ? AND node = ?"
                "  ORDER BY at DESC, id DESC LIMIT ?))",
                [site, node, iso(keep_after), site, node, keep],
            )

    def battery_history(self, site: str, node: str) -> list[BatteryReading]:
        rows = self.database.all(
            "SELECT at, volts FROM battery_readings WHERE site = ? AND node = ? ORDER BY at, id",
            [site, node],
        )
        return [BatteryReading(from_iso(r["at"]), r["volts"]) for r in rows]  # type: ignore[arg-type]

    def clear_battery(self, site: str, node: str) -> None:
        with self.database.write() as db:
            db.execute("DELETE FROM battery_readings WHERE site = ? AND node = ?", [site, node])

    def purge(self, before: datetime) -> dict[str, int]:
        """Forget nodes last heard before ``before`` (taken out of service, or silent for the
        whole node-history lifetime: their offline incident says so) and battery readings
        older than it."""
        with self.database.write() as db:
            beats = db.execute("DELETE FROM sensor_heartbeats WHERE received_at < ?", [iso(before)])
            readings = db.execute("DELETE FROM battery_readings WHERE at < ?", [iso(before)])
        return {"sensor_heartbeats": beats.rowcount, "battery_readings": readings.rowcount}

    def set_arming(self, area: str, override: ArmingOverride) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO area_arming (area, mode, actor, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (area) DO UPDATE SET mode = excluded.mode,"
                " actor = excluded.actor, at = excluded.at",
                [area, override.mode.value, override.actor, iso(override.at)],
            )

    def arming(self) -> dict[str, ArmingOverride]:
        rows = self.database.all("SELECT * FROM area_arming")
        return {
            r["area"]: ArmingOverride(ArmingMode(r["mode"]), r["actor"], from_iso(r["at"]))  # type: ignore[arg-type]
            for r in rows
        }


def _record(row: dict) -> HeartbeatRecord:
    return HeartbeatRecord(
        site=row["site"],
        node=row["node"],
        received_at=from_iso(row["received_at"]),
        heartbeat=Heartbeat.model_validate_json(row["message"]),
        troubles=frozenset(filter(None, row["troubles"].split(","))),
    )


def sensors_for(storage: Storage) -> SqliteSensorRepository:
    """The sensor tables in the same SQLite file as ``storage`` (from
    :func:`hub.storage.sqlite.open_sqlite_storage`), on its connection and writer lock, like
    :func:`hub.storage.sqlite.throttle.login_failures_for`."""
    return SqliteSensorRepository(storage.alerts.database)  # type: ignore[attr-defined]
