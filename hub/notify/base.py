"""The notifier interface: one small class per channel, one obvious method.

A notifier *sends* one :class:`~hub.domain.notifications.Message` to one target and raises
when it could not. It never retries, queues or sleeps: :class:`~hub.notify.service.
NotificationService` does that for every channel alike. To add a channel, write a subclass
and list it in :data:`hub.notify.registry.NOTIFIERS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from contract.hub_settings import WebPushSettings
from hub.domain.notifications import Message
from hub.storage.repositories import Storage


class NotifierError(Exception):
    """A send failed; the message says why (it is stored with the attempt). Retried."""


class PermanentFailure(NotifierError):
    """A send that can never succeed (a bad URL, a subscription the browser dropped): the
    delivery is given up at once instead of retried."""


@dataclass(frozen=True)
class NotifierSetup:
    """What a notifier may need to build itself (see :meth:`Notifier.create`)."""

    storage: Storage
    data_dir: Path
    web_push: WebPushSettings
    timeout_s: float = 15.0  # each send's own network timeout


class Notifier(ABC):
    """Sends messages on one channel."""

    #: The channel name stored with each delivery (``webpush``, ``apprise`` ...).
    channel: ClassVar[str]

    @abstractmethod
    def send(self, message: Message, target: str) -> None:
        """Deliver ``message`` to ``target`` now; raise :class:`NotifierError` on failure."""

    def describe(self, target: str) -> str:
        """``target`` as people may see it (listings, logs): secrets masked."""
        return target

    @classmethod
    def create(cls, setup: NotifierSetup) -> Notifier | None:
        """This notifier for the hub, or None when the site has it switched off."""
        return cls()
