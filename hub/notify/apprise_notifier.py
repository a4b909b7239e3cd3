"""Messages to anything apprise reaches: ntfy, Gotify, e-mail, Telegram, Matrix, webhooks...

The target is an apprise URL from the site file (``hub.escalation.tiers[].notify``), for
example ``ntfy://ntfy.example.org/duty-desk`` or
``mailtos://user:password@mail.example.org?to=supervisors@example.org``. See apprise's
documentation for every service and its URL options.
"""

from __future__ import annotations

import logging

import apprise

from contract.protocol import Severity
from hub.domain.notifications import Message
from hub.notify.base import Notifier, NotifierError, NotifierSetup, PermanentFailure

#: Apprise colours and icons by notification type; a critical incident shows as a failure.
NOTIFY_TYPES = {
    Severity.CRITICAL: apprise.NotifyType.FAILURE,
    Severity.MAJOR: apprise.NotifyType.FAILURE,
    Severity.MINOR: apprise.NotifyType.WARNING,
    Severity.WARNING: apprise.NotifyType.WARNING,
}
#: Characters of apprise's own explanation kept with a failed attempt.
MAX_REASON_CHARS = 400


def mask_url(url: str) -> str:
    """An apprise URL with its password, token and query options hidden.

    Apprise knows where each service keeps its secret (a password, a bot token in the path,
    a webhook key), so its privacy form is used; the query string goes too, as some
    services take tokens there.
    """
    try:
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # a URL apprise cannot read must still be shown somehow
        plugin = None
    scheme = url.split("://", 1)[0][:20] if "://" in url else "?"
    if not plugin:
        return f"{scheme}://****"
    return plugin.url(privacy=True).split("?", 1)[0]


def _reason(result: object) -> str:
    """Apprise's warnings and errors from one notify() result, or a generic reason."""
    messages = [
        entry.message
        for entry in getattr(result, "logs", list)()
        if entry.level in ("WARNING", "ERROR", "CRITICAL")
    ]
    status = getattr(getattr(result, "status", None), "name", "FAILURE")
    reason = "; ".join(dict.fromkeys(messages)) or "apprise reported no reason"
    return f"apprise {status.lower()}: {reason}"[:MAX_REASON_CHARS]


class AppriseNotifier(Notifier):
    channel = "apprise"

    def __init__(self, timeout_s: float = 15.0) -> None:
        self.timeout_s = timeout_s

    @classmethod
    def create(cls, setup: NotifierSetup) -> AppriseNotifier:
        return cls(timeout_s=setup.timeout_s)

    def send(self, message: Message, target: str) -> None:
        client = apprise.Apprise()
        if not client.add(target):
            raise PermanentFailure(f"apprise cannot use this URL: {mask_url(target)}")
        notify_type = NOTIFY_TYPES.get(message.severity, apprise.NotifyType.INFO)
        result = client.notify(
            title=message.title,
            body=message.body,
            notify_type=notify_type,
            timeout=self.timeout_s,
            log_level=logging.WARNING,  # keep the reasons of a failure with the result
        )
        if not result:
            raise NotifierError(_reason(result))

    def describe(self, target: str) -> str:
        return mask_url(target)
