"""Notification delivery records and Web Push subscriptions (interfaces).

Implemented in :mod:`hub.storage.sqlite.notifications` by the notifications work; the record
types live in :mod:`hub.domain.notifications`.
"""

from __future__ import annotations

from typing import Any, Protocol


class NotificationRepository(Protocol):
    """Every attempt to notify someone, with its outcome, and what is due for a retry."""

    def __getattr__(self, name: str) -> Any: ...


class PushSubscriptionRepository(Protocol):
    """Web Push subscriptions, per user."""

    def __getattr__(self, name: str) -> Any: ...
