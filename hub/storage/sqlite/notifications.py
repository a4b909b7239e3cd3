"""Deliveries (with every attempt) and Web Push subscriptions on SQLite."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils.migrations import Migrations

from hub.domain.notifications import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Message,
    PushKeys,
    PushSubscription,
)
from hub.storage.sqlite.database import SqliteDatabase, from_iso, iso

#: A user's browsers kept for Web Push; a further subscription replaces the oldest.
MAX_SUBSCRIPTIONS_PER_USER = 10
#: Characters of an error message kept per attempt.
MAX_ERROR_CHARS = 500

migrations = Migrations("villagewatch-hub-notifications")


@migrations()
def m001_notifications(db) -> None:
    db.execute(
        """CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            address TEXT NOT NULL,
            target TEXT NOT NULL,
            incident_id TEXT,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            severity TEXT,
            tier INTEGER,
            url TEXT,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT
        )"""
    )
    db.execute("CREATE INDEX deliveries_due ON deliveries (next_attempt_at)")
    db.execute("CREATE INDEX deliveries_incident ON deliveries (incident_id)")
    db.execute("CREATE INDEX deliveries_created ON deliveries (created_at)")
    db.execute(
        """CREATE TABLE delivery_attempts (
            delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            at TEXT NOT NULL,
            ok INTEGER NOT NULL,
            error TEXT,
            duration_ms INTEGER NOT NULL,
            PRIMARY KEY (delivery_id, number)
        )"""
    )
    db.execute(
        """CREATE TABLE push_subscriptions (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL,
            endpoint TEXT NOT NULL UNIQUE,
            p256dh TEXT NOT NULL,
            auth TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX push_subscriptions_user ON push_subscriptions (username)")


def _delivery(row: dict) -> Delivery:
    fields = {k: v for k, v in row.items() if k != "address"}
    return Delivery(**fields)


class SqliteNotificationRepository:
    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        database.migrate(migrations)

    def add(
        self, channel: str, address: str, target: str, message: Message, at: datetime
    ) -> Delivery:
        with self.database.write() as db:
            cursor = db.execute(
                "INSERT INTO deliveries (channel, address, target, incident_id, title, body,"
                " severity, tier, url, status, next_attempt_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [channel, address, target, message.incident_id, message.title, message.body,
                 message.severity, message.tier, message.url, DeliveryStatus.PENDING,
                 iso(at), iso(at)],
            )  # fmt: skip
            delivery_id = cursor.lastrowid
        return self._get(delivery_id)

    def due(self, now: datetime, limit: int = 100) -> list[tuple[Delivery, str]]:
        rows = self.database.all(
            "SELECT * FROM deliveries WHERE status IN (?, ?) AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at, id LIMIT ?",
            [DeliveryStatus.PENDING, DeliveryStatus.FAILED, iso(now), limit],
        )
        return [(_delivery(r), r["address"]) for r in rows]

    def record_attempt(
        self,
        delivery_id: int,
        at: datetime,
        duration_ms: int,
        error: str | None,
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
    ) -> Delivery:
        error = error[:MAX_ERROR_CHARS] if error else None
        with self.database.write() as db:
            db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, status = ?, last_error = ?,"
                " next_attempt_at = ?, sent_at = CASE WHEN ? THEN ? ELSE sent_at END"
                " WHERE id = ?",
                [status, error, iso(next_attempt_at) if next_attempt_at else None,
                 error is None, iso(at), delivery_id],
            )  # fmt: skip
            db.execute(
                "INSERT INTO delivery_attempts (delivery_id, number, at, ok, error, duration_ms)"
                " SELECT id, attempts, ?, ?, ?, ? FROM deliveries WHERE id = ?",
                [iso(at), error is None, error, duration_ms, delivery_id],
            )
        return self._get(delivery_id)

    def get(self, delivery_id: int) -> Delivery | None:
        row = self.database.one("SELECT * FROM deliveries WHERE id = ?", [delivery_id])
        return _delivery(row) if row else None

    def _get(self, delivery_id: int) -> Delivery:
        delivery = self.get(delivery_id)
        if delivery is None:
            raise KeyError(f"no delivery {delivery_id}")
        return delivery

    def find(
        self,
        status: DeliveryStatus | None = None,
        incident_id: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        where, args = ["1"], []
        for column, value in (("status", status), ("incident_id", incident_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if before_id is not None:
            where.append("id < ?")
            args.append(before_id)
        rows = self.database.all(
            f"SELECT * FROM deliveries WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            [*args, limit],
        )
        return [_delivery(r) for r in rows]

    def attempts(self, delivery_id: int) -> list[DeliveryAttempt]:
        rows = self.database.all(
            "SELECT * FROM delivery_attempts WHERE delivery_id = ? ORDER BY number",
            [delivery_id],
        )
        return [DeliveryAttempt(**r) for r in rows]

    def purge(self, before: datetime) -> dict[str, int]:
        with self.database.write() as db:
            cut = iso(before)
            attempts = db.execute(
                "DELETE FROM delivery_attempts WHERE delivery_id IN"
                " (SELECT id FROM deliveries WHERE created_at < ?)",
                [cut],
            ).rowcount
            deliveries = db.execute("DELETE FROM deliveries WHERE created_at < ?", [cut]).rowcount
        return {"deliveries": deliveries, "delivery_attempts": attempts}


def _subscription(row: dict) -> PushSubscription:
    return PushSubscription(
        id=row["id"],
        username=row["username"],
        endpoint=row["endpoint"],
        keys=PushKeys(p256dh=row["p256dh"], auth=row["auth"]),
        created_at=from_iso(row["created_at"]),
    )


class SqlitePushSubscriptionRepository:
    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        database.migrate(migrations)

    def save(self, username: str, endpoint: str, keys: PushKeys, at: datetime) -> PushSubscription:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO push_subscriptions (username, endpoint, p256dh, auth, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (endpoint) DO UPDATE SET"
                " username = excluded.username, p256dh = excluded.p256dh,"
                " auth = excluded.auth, created_at = excluded.created_at",
                [username, endpoint, keys.p256dh, keys.auth, iso(at)],
            )
            # A user with many browsers keeps the newest few (bounded rows per user).
            db.execute(
                "DELETE FROM push_subscriptions WHERE username = ? AND id NOT IN"
                " (SELECT id FROM push_subscriptions WHERE username = ?"
                "  ORDER BY created_at DESC, id DESC LIMIT ?)",
                [username, username, MAX_SUBSCRIPTIONS_PER_USER],
            )
            row = self.database.one(
                "SELECT * FROM push_subscriptions WHERE endpoint = ?", [endpoint]
            )
        return _subscription(row)

    def get(self, subscription_id: int) -> PushSubscription | None:
        row = self.database.one("SELECT * FROM push_subscriptions WHERE id = ?", [subscription_id])
        return _subscription(row) if row else None

    def for_users(self, usernames: list[str]) -> list[PushSubscription]:
        if not usernames:
            return []
        marks = ", ".join("?" * len(usernames))
        rows = self.database.all(
            f"SELECT * FROM push_subscriptions WHERE username IN ({marks}) ORDER BY id",
            list(usernames),
        )
        return [_subscription(r) for r in rows]

    def delete(self, endpoint: str, username: str | None = None) -> bool:
        sql, args = "DELETE FROM push_subscriptions WHERE endpoint = ?", [endpoint]
        if username is not None:
            sql, args = sql + " AND username = ?", [*args, username]
        with self.database.write() as db:
            return db.execute(sql, args).rowcount > 0

    def delete_id(self, subscription_id: int) -> bool:
        with self.database.write() as db:
            cursor = db.execute("DELETE FROM push_subscriptions WHERE id = ?", [subscription_id])
            return cursor.rowcount > 0
