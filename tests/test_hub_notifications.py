"""Notification delivery through apprise to real local receivers: a webhook and an SMTP server.

Deliveries are queued, then sent by ``deliver_due()``; retries wait for a ManualClock, never
for real time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from contract.protocol import Severity
from hub.clock import ManualClock
from hub.domain.notifications import DeliveryStatus, Message
from hub.notify.apprise_notifier import AppriseNotifier, mask_url
from hub.notify.service import NotificationService, NotificationWorker, RetryPolicy
from hub.storage.repositories import Storage
from tests.notify_kit import HttpReceiver, SmtpReceiver

MESSAGE = Message(
    title="Not acknowledged (tier 1, station supervisors): Person at the north gate",
    body="INC-20261202-0001 · CRITICAL intrusion · plaza · waiting 30 s",
    incident_id="a" * 32,
    severity=Severity.CRITICAL,
    tier=1,
    url="/#/incidents/" + "a" * 32,
)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver()
    yield server
    server.close()


def service_for(storage: Storage, clock: ManualClock, **policy) -> NotificationService:
    return NotificationService(
        storage, clock, [AppriseNotifier(timeout_s=10)], RetryPolicy(**policy)
    )


def json_url(receiver: HttpReceiver, path: str = "/hook") -> str:
    return f"json://127.0.0.1:{receiver.port}{path}"


def test_an_apprise_json_url_delivers_the_title_and_body_to_the_receiver(storage, clock, receiver):
    service = service_for(storage, clock)
    delivery = service.enqueue("apprise", json_url(receiver), MESSAGE)
    assert delivery.status is DeliveryStatus.PENDING
    assert not receiver.requests  # enqueue only stores

    assert service.deliver_due() == 1

    [request] = receiver.requests
    assert request.path == "/hook"
    posted = json.loads(request.body)
    assert posted["title"] == MESSAGE.title
    assert posted["message"] == MESSAGE.body
    assert posted["type"] == "failure"  # a critical incident shows as apprise's alarm colour
    sent = storage.notifications.get(delivery.id)
    assert sent.status is DeliveryStatus.SENT
    assert sent.sent_at == clock()
    assert sent.attempts == 1 and sent.next_attempt_at is None
    [attempt] = storage.notifications.attempts(delivery.id)
    assert attempt.ok and attempt.error is None
    assert service.deliver_due() == 0  # nothing is sent twice


def test_a_receiver_answering_500_is_retried_with_backoff_until_it_recovers(
    storage, clock, receiver
):
    service = service_for(storage, clock)  # 5 s, 10 s, 20 s ...
    receiver.status = 500
    delivery = service.enqueue("apprise", json_url(receiver), MESSAGE)
    start = clock()

    assert service.deliver_due() == 1
    failed = storage.notifications.get(delivery.id)
    assert failed.status is DeliveryStatus.FAILED
    assert "500" in failed.last_error  # apprise's own explanation is kept
    assert failed.next_attempt_at == start + timedelta(seconds=5)

    clock.advance(seconds=4.9)
    assert service.deliver_due() == 0  # not yet
    clock.advance(seconds=0.1)
    assert service.deliver_due() == 1
    again = storage.notifications.get(delivery.id)
    assert again.status is DeliveryStatus.FAILED and again.attempts == 2
    assert again.next_attempt_at == clock() + timedelta(seconds=10)

    receiver.status = 200
    clock.advance(seconds=10)
    assert service.deliver_due() == 1
    sent = storage.notifications.get(delivery.id)
    assert sent.status is DeliveryStatus.SENT and sent.last_error is None
    assert [a.ok for a in storage.notifications.attempts(delivery.id)] == [False, False, True]
    assert len(receiver.requests) == 3


def test_a_delivery_gives_up_after_the_last_allowed_attempt(storage, clock, receiver):
    service = service_for(storage, clock, max_attempts=3, first_delay_s=5, max_delay_s=8)
    receiver.status = 500
    delivery = service.enqueue("apprise", json_url(receiver), MESSAGE)

    waits = []
    while (current := storage.notifications.get(delivery.id)).status in (
        DeliveryStatus.PENDING,
        DeliveryStatus.FAILED,
    ):
        if current.next_attempt_at > clock():
            waits.append((current.next_attempt_at - clock()).total_seconds())
            clock.advance(seconds=waits[-1])
        assert service.deliver_due() == 1

    assert waits == [5, 8]  # 5 s, then 10 s capped at 8 s
    assert current.status is DeliveryStatus.GAVE_UP and current.attempts == 3
    assert current.next_attempt_at is None
    clock.advance(hours=1)
    assert service.deliver_due() == 0
    assert len(receiver.requests) == 3


def test_email_goes_through_a_real_smtp_server(storage, clock):
    smtp = SmtpReceiver()
    try:
        # mailto:// without a user or mode talks plain SMTP (no TLS, no login) to the port.
        url = f"mailto://127.0.0.1:{smtp.port}?from=hub@example.org&to=duty@example.org"
        service = service_for(storage, clock)
        delivery = service.enqueue("apprise", url, MESSAGE)
        service.deliver_due()
    finally:
        smtp.close()
    assert storage.notifications.get(delivery.id).status is DeliveryStatus.SENT
    [mail] = smtp.mails
    assert mail.mail_from == "hub@example.org"
    assert mail.rcpt_tos == ["duty@example.org"]
    text = mail.content.decode()
    assert f"Subject: {MESSAGE.title}" in text
    assert "INC-20261202-0001" in text


def test_enqueue_returns_while_the_worker_is_stuck_on_a_hanging_receiver(storage, clock, receiver):
    receiver.hang.set()  # answers nothing until released
    service = service_for(storage, clock, send_timeout_s=60)
    worker = NotificationWorker(service, interval_s=0.05)
    worker.start()
    try:
        first = service.enqueue("apprise", json_url(receiver, "/first"), MESSAGE)
        assert receiver.arrived.wait(30), "the worker never reached the receiver"
        # The worker is now blocked inside the send; queueing more must not wait for it.
        second = service.enqueue("apprise", json_url(receiver, "/second"), MESSAGE)
        assert storage.notifications.get(second.id).status is DeliveryStatus.PENDING
        assert storage.notifications.get(first.id).attempts == 0  # still sending
    finally:
        receiver.release.set()
        worker.stop()


def test_a_send_that_hangs_past_its_deadline_fails_and_the_worker_moves_on(
    storage, clock, receiver
):
    receiver.hang.set()
    # The service's deadline (0.5 s) is shorter than apprise's own timeout (10 s): the
    # worker stops waiting for the send, records the attempt and goes on.
    service = service_for(storage, clock, send_timeout_s=0.5)
    delivery = service.enqueue("apprise", json_url(receiver), MESSAGE)
    try:
        assert service.deliver_due() == 1
    finally:
        receiver.release.set()
    failed = storage.notifications.get(delivery.id)
    assert failed.status is DeliveryStatus.FAILED
    assert failed.last_error == "no answer within 0.5 s"
    assert failed.next_attempt_at == clock() + timedelta(seconds=5)


def test_apprise_urls_are_shown_with_their_secrets_masked(storage, clock, receiver):
    url = f"json://hub:s3cret-password@127.0.0.1:{receiver.port}/hook"
    delivery = service_for(storage, clock).enqueue("apprise", url, MESSAGE)
    assert "s3cret" not in delivery.target
    assert delivery.target.startswith("json://hub:")
    assert "s3cret" not in mask_url("ntfy://duty:s3cret@ntfy.example.org/desk")
    assert "ABCDEFtoken" not in mask_url("tgram://123456:ABCDEFtoken/12345")
    assert mask_url("nosuchservice://x") == "nosuchservice://****"


def test_an_unusable_apprise_url_gives_up_at_once(storage, clock):
    service = service_for(storage, clock)
    delivery = service.enqueue("apprise", "nosuchservice://token@host", MESSAGE)
    service.deliver_due()
    given_up = storage.notifications.get(delivery.id)
    assert given_up.status is DeliveryStatus.GAVE_UP and given_up.attempts == 1
    assert "apprise cannot use this URL" in given_up.last_error
    assert "token" not in given_up.last_error


def test_a_channel_without_a_notifier_is_refused_when_queued(storage, clock):
    with pytest.raises(ValueError, match="no notifier for channel 'webpush'"):
        service_for(storage, clock).enqueue("webpush", "1", MESSAGE)
