"""Every notifier the hub knows. A new channel is one class and one line in NOTIFIERS."""

from __future__ import annotations

from hub.notify.apprise_notifier import AppriseNotifier
from hub.notify.base import Notifier, NotifierSetup
from hub.notify.webpush import WebPushNotifier

NOTIFIERS: tuple[type[Notifier], ...] = (
    AppriseNotifier,
    WebPushNotifier,
)


def build_notifiers(setup: NotifierSetup) -> dict[str, Notifier]:
    """The site's notifiers by channel; those it switched off are left out."""
    built = {}
    for kind in NOTIFIERS:
        notifier = kind.create(setup)
        if notifier is not None:
            built[kind.channel] = notifier
    return built
