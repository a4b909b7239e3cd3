"""Notification delivery records and Web Push subscriptions (interfaces).

Implemented in :mod:`hub.storage.sqlite.notifications`; the record types live in
:mod:`hub.domain.notifications`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from hub.domain.notifications import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Message,
    PushKeys,
    PushSubscription,
)


class NotificationRepository(Protocol):
    """Every attempt to notify someone, with its outcome, and what is due for a retry.

    A delivery keeps two forms of its target: ``address`` (what the notifier needs, e.g. an
    apprise URL with its token) is only ever handed back by :meth:`due`; ``target`` (masked)
    is what listings show.
    """

    def add(
        self, channel: str, address: str, target: str, message: Message, at: datetime
    ) -> Delivery:
        """Store a pending delivery, due at once."""

    def due(self, now: datetime, limit: int = 100) -> list[tuple[Delivery, str]]:
        """Pending or failed deliveries whose time has come, oldest due first, with their
        addresses."""

    def record_attempt(
        self,
        delivery_id: int,
        at: datetime,
        duration_ms: int,
        error: str | None,
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
    ) -> Delivery:
        """Keep one attempt's outcome (``error`` None: sent) and the delivery's new state."""

    def get(self, delivery_id: int) -> Delivery | None: ...

    def find(
        self,
        status: DeliveryStatus | None = None,
        incident_id: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """Newest first; ``before_id`` pages back."""

    def attempts(self, delivery_id: int) -> list[DeliveryAttempt]:
        """Oldest first."""

    def purge(self, before: datetime) -> dict[str, int]:
        """Forget deliveries created before ``before`` (with their attempts)."""


class PushSubscriptionRepository(Protocol):
    """Web Push subscriptions, per user. An endpoint belongs to one browser, so saving a
    known endpoint moves it to the user who saved it last."""

    def save(
        self, username: str, endpoint: str, keys: PushKeys, at: datetime
    ) -> PushSubscription: ...

    def get(self, subscription_id: int) -> PushSubscription | None: ...

    def for_users(self, usernames: list[str]) -> list[PushSubscription]: ...

    def delete(self, endpoint: str, username: str | None = None) -> bool:
        """Forget an endpoint (only if it is ``username``'s, when given); True if it was."""

    def delete_id(self, subscription_id: int) -> bool:
        """Forget a subscription the push service said is gone (404/410)."""
