"""Queue first, send later: notifications never hold up ingest or the officer page.

Whoever wants someone told (the escalation worker, the "incident opened" handler) calls
:meth:`NotificationService.enqueue`: one INSERT, no network. The
:class:`NotificationWorker` thread then calls :meth:`NotificationService.deliver_due`, which
sends what is due, each send on its own thread with a deadline, and stores every attempt. A
failure is retried after 5 s, 10 s, 20 s ... (capped at 10 min) until ``max_attempts``;
then the delivery is ``gave_up``. A failure that cannot recover (an unusable URL, a push
subscription the browser dropped) gives up at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from hub.clock import Clock
from hub.domain.notifications import Delivery, DeliveryStatus, Message
from hub.domain.users import Role
from hub.notify.base import Notifier, NotifierError, PermanentFailure
from hub.periodic import PeriodicWorker
from hub.storage.repositories import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a failed delivery again, and when to stop."""

    first_delay_s: float = 5.0
    factor: float = 2.0
    max_delay_s: float = 600.0
    max_attempts: int = 8  # 5+10+20+40+80+160+320 s: about 10 minutes of trying
    #: One send's deadline: the worker moves on after it. A little longer than the notifiers'
    #: own network timeout (15 s), so theirs usually fires first with a clearer reason.
    send_timeout_s: float = 20.0
    batch: int = 50  # deliveries sent per deliver_due()

    def delay_after(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1, 2 ...)."""
        return min(self.first_delay_s * self.factor ** (failures - 1), self.max_delay_s)


class SendTimeout(NotifierError):
    pass


class NotificationService:
    """Stores deliveries and sends them through the channel's :class:`Notifier`."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        notifiers: Mapping[str, Notifier] | Iterable[Notifier],
        policy: RetryPolicy | None = None,
    ) -> None:
        self.storage = storage
        self.clock = clock
        if not isinstance(notifiers, Mapping):
            notifiers = {n.channel: n for n in notifiers}
        self.notifiers: dict[str, Notifier] = dict(notifiers)
        self.policy = policy or RetryPolicy()
        #: Set on every enqueue so the worker sends at once instead of at its next poll.
        self.wakeup = threading.Event()

    def enqueue(self, channel: str, target: str, message: Message) -> Delivery:
        """Store one delivery, due now. Quick (a database insert): safe on any thread."""
        notifier = self.notifiers.get(channel)
        if notifier is None:
            raise ValueError(f"no notifier for channel {channel!r}: {sorted(self.notifiers)}")
        shown = notifier.describe(target)
        delivery = self.storage.notifications.add(channel, target, shown, message, self.clock())
        self.wakeup.set()
        return delivery

    def enqueue_push(self, message: Message, roles: Iterable[Role | str]) -> list[Delivery]:
        """A Web Push delivery for each browser of each enabled user with one of ``roles``
        (none when Web Push is off)."""
        if "webpush" not in self.notifiers:
            return []
        users = self.storage.users.with_role(tuple(Role(r) for r in roles))
        return self._push(message, [u.username for u in users if not u.disabled])

    def enqueue_push_to(self, message: Message, usernames: Iterable[str]) -> list[Delivery]:
        """A Web Push delivery for each browser of each of ``usernames`` that exists and is
        enabled (none when Web Push is off): a patrol unit's members, for its order."""
        if "webpush" not in self.notifiers:
            return []
        users = (self.storage.users.get(name) for name in dict.fromkeys(usernames))
        return self._push(message, [u.username for u in users if u is not None and not u.disabled])

    def _push(self, message: Message, usernames: list[str]) -> list[Delivery]:
        subscriptions = self.storage.push_subscriptions.for_users(usernames)
        return [self.enqueue("webpush", str(s.id), message) for s in subscriptions]

    def enqueue_apprise(self, message: Message, urls: Iterable[str]) -> list[Delivery]:
        return [self.enqueue("apprise", url, message) for url in urls]

    def deliver_due(self) -> int:
        """Send every delivery that is due now; returns how many were attempted."""
        due = self.storage.notifications.due(self.clock(), self.policy.batch)
        for delivery, address in due:
            self._attempt(delivery, address)
        if len(due) == self.policy.batch:
            self.wakeup.set()  # more may be waiting: the worker comes straight back
        return len(due)

    def _attempt(self, delivery: Delivery, address: str) -> Delivery:
        started = time.monotonic()
        error: str | None = None
        permanent = False
        notifier = self.notifiers.get(delivery.channel)
        try:
            if notifier is None:
                raise PermanentFailure(f"channel {delivery.channel!r} is switched off")
            self._send(notifier, delivery.message, address)
        except PermanentFailure as exc:
            error, permanent = str(exc) or type(exc).__name__, True
        except Exception as exc:  # any notifier bug is one failed attempt, not a dead worker
            error = str(exc) or type(exc).__name__
        duration_ms = int((time.monotonic() - started) * 1000)
        at = self.clock()
        failures = delivery.attempts + 1
        if error is None:
            status, next_at = DeliveryStatus.SENT, None
        elif permanent or failures >= self.policy.max_attempts:
            status, next_at = DeliveryStatus.GAVE_UP, None
        else:
            delay = self.policy.delay_after(failures)
            status, next_at = DeliveryStatus.FAILED, at + timedelta(seconds=delay)
        if error:
            log.warning(
                "delivery %d (%s to %s) attempt %d: %s -> %s",
                delivery.id, delivery.channel, delivery.target, failures, error, status,
            )  # fmt: skip
        return self.storage.notifications.record_attempt(
            delivery.id, at, duration_ms, error, status, next_at
        )

    def _send(self, notifier: Notifier, message: Message, address: str) -> None:
        """``notifier.send`` with a deadline. The send runs on its own daemon thread: one
        that hangs past the deadline is abandoned (its library timeout ends it later) and the
        worker goes on with the next delivery."""
        outcome: list[BaseException | None] = []

        def run() -> None:
            try:
                notifier.send(message, address)
            except BaseException as exc:
                outcome.append(exc)
            else:
                outcome.append(None)

        thread = threading.Thread(target=run, name=f"send-{notifier.channel}", daemon=True)
        thread.start()
        thread.join(self.policy.send_timeout_s)
        if not outcome:
            raise SendTimeout(f"no answer within {self.policy.send_timeout_s:g} s")
        if outcome[0] is not None:
            raise outcome[0]


class NotificationWorker(PeriodicWorker):
    """The thread that sends: :meth:`NotificationService.deliver_due` every ``interval_s``
    seconds, and straight away after an enqueue."""

    def __init__(self, service: NotificationService, interval_s: float = 1.0) -> None:
        super().__init__("hub-notifications", service.deliver_due, interval_s)
        self.wakeup = service.wakeup
