"""Web Push, end to end on loopback: the hub encrypts and signs, a local https endpoint plays
the browser vendor's push service, and the test decrypts the body as the browser would.

A real push service cannot be reached from an offline machine, so the browser's part is
played here with its own P-256 key pair and 16-byte auth secret (what
``PushManager.subscribe()`` makes), and the body is decrypted with http-ece (RFC 8291).
The endpoint is https because subscriptions must be; the hub's HTTP session trusts the
test's own throw-away CA (``session.verify = ca.pem``, ``trust_env = False`` so a CA bundle
named in the environment does not replace it), so certificate checks stay on.
"""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterator

import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient
from py_vapid import Vapid02

from contract.hub_settings import WebPushSettings
from contract.protocol import Severity
from hub.accounts import AccountService
from hub.api.auth import Authenticator
from hub.api.context import ApiContext
from hub.api.routers import notifications as notifications_router
from hub.api.routers import push as push_router
from hub.domain.notifications import DeliveryStatus, Message
from hub.domain.users import Role
from hub.events import EventBus
from hub.notify.base import NotifierSetup
from hub.notify.registry import build_notifiers
from hub.notify.service import NotificationService
from hub.notify.webpush import VapidKeys, WebPushNotifier, b64url
from tests.notify_kit import Browser, HttpReceiver, tls_files

SUBJECT = "mailto:duty-desk@example.org"
MESSAGE = Message(
    title="New incident: Person at the north gate",
    body="INC-20261202-0001 · CRITICAL intrusion · plaza",
    incident_id="b" * 32,
    severity=Severity.CRITICAL,
    tier=0,
    url="/#/incidents/" + "b" * 32,
)


@pytest.fixture
def push_service(tmp_path) -> Iterator[tuple[HttpReceiver, requests.Session]]:
    """An https push service on loopback and a session that trusts its CA."""
    ca, cert, key = tls_files(tmp_path)
    server = HttpReceiver(status=201, tls=(cert, key))
    session = requests.Session()
    session.verify = str(ca)
    # Otherwise REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment replace `verify`.
    session.trust_env = False
    yield server, session
    server.close()
    session.close()


def web_push(storage, clock, tmp_path, session) -> NotificationService:
    keys = VapidKeys.load_or_create(tmp_path / "hub")
    notifier = WebPushNotifier(storage.push_subscriptions, keys, SUBJECT, session=session)
    return NotificationService(storage, clock, [notifier])


def test_an_officer_browser_receives_the_encrypted_signed_payload(
    storage, clock, tmp_path, push_service
):
    server, session = push_service
    service = web_push(storage, clock, tmp_path, session)
    storage.users.create("olive", Role.OFFICER, "x", clock())
    storage.users.create("sam", Role.SUPERVISOR, "x", clock())
    browser = Browser()
    storage.push_subscriptions.save("olive", server.url("/push/olive-1"), browser.keys, clock())
    storage.push_subscriptions.save("sam", server.url("/push/sam-1"), Browser().keys, clock())

    [delivery] = service.enqueue_push(MESSAGE, roles=[Role.OFFICER])
    assert delivery.target.startswith("olive's browser")
    assert service.deliver_due() == 1

    [request] = server.requests
    assert request.path == "/push/olive-1"
    assert request.headers["content-encoding"] == "aes128gcm"
    assert request.headers["urgency"] == "high"
    assert int(request.headers["ttl"]) > 0  # kept a while for a phone that is off
    assert browser.decrypt(request.body) == {
        "title": MESSAGE.title,
        "body": MESSAGE.body,
        "incident_id": MESSAGE.incident_id,
        "severity": "critical",
        "tier": 0,
        "url": MESSAGE.url,
    }
    authorization = request.headers["authorization"]
    assert authorization.startswith("vapid t=") and ",k=" in authorization
    assert Vapid02.verify(authorization)  # the JWT is signed by the key in k=
    token, key = authorization.removeprefix("vapid t=").split(",k=")
    assert key == service.notifiers["webpush"].keys.public_key
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["aud"] == f"https://127.0.0.1:{server.port}"
    assert claims["sub"] == SUBJECT
    assert storage.notifications.get(delivery.id).status is DeliveryStatus.SENT


@pytest.mark.parametrize("gone", [404, 410])
def test_a_subscription_the_push_service_says_is_gone_is_deleted(
    storage, clock, tmp_path, push_service, gone
):
    server, session = push_service
    server.status = gone
    service = web_push(storage, clock, tmp_path, session)
    storage.users.create("olive", Role.OFFICER, "x", clock())
    sub = storage.push_subscriptions.save("olive", server.url("/push/1"), Browser().keys, clock())

    [delivery] = service.enqueue_push(MESSAGE, roles=[Role.OFFICER])
    service.deliver_due()

    given_up = storage.notifications.get(delivery.id)
    assert given_up.status is DeliveryStatus.GAVE_UP and given_up.attempts == 1
    assert f"answered {gone}" in given_up.last_error
    assert storage.push_subscriptions.get(sub.id) is None
    assert service.enqueue_push(MESSAGE, roles=[Role.OFFICER]) == []


def test_a_push_service_error_is_retried(storage, clock, tmp_path, push_service):
    server, session = push_service
    server.status = 503
    service = web_push(storage, clock, tmp_path, session)
    storage.users.create("olive", Role.OFFICER, "x", clock())
    storage.push_subscriptions.save("olive", server.url("/push/1"), Browser().keys, clock())
    [delivery] = service.enqueue_push(MESSAGE, roles=[Role.OFFICER])

    service.deliver_due()
    assert storage.notifications.get(delivery.id).status is DeliveryStatus.FAILED
    server.status = 201
    clock.advance(seconds=5)
    service.deliver_due()
    assert storage.notifications.get(delivery.id).status is DeliveryStatus.SENT


def test_the_vapid_key_is_made_once_and_kept_owner_only(tmp_path):
    first = VapidKeys.load_or_create(tmp_path / "hub")
    path = tmp_path / "hub" / "vapid.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert VapidKeys.load_or_create(tmp_path / "hub").public_key == first.public_key
    raw = base64.urlsafe_b64decode(first.public_key + "=")
    assert len(raw) == 65 and raw[0] == 4  # applicationServerKey: an uncompressed P-256 point


# --- the HTTP API -------------------------------------------------------------------------


@pytest.fixture
def api(storage, clock, tmp_path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The push and notification routers with real sessions; bearer tokens by username."""
    accounts = AccountService(storage, clock)
    service = web_push(storage, clock, tmp_path, requests.Session())
    ctx = ApiContext(
        storage, EventBus(), clock=clock,
        services={"auth": Authenticator(accounts), "notifications": service},
    )  # fmt: skip
    app = FastAPI()
    app.include_router(push_router.build(ctx))
    app.include_router(notifications_router.build(ctx))
    tokens = {}
    for name, role in (("olive", Role.OFFICER), ("otto", Role.OFFICER), ("sam", Role.SUPERVISOR)):
        accounts.create_user(name, role)
        tokens[name] = accounts.open_session(name)[0]
    with TestClient(app) as client:
        yield client, tokens


def as_user(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_a_signed_in_officer_subscribes_their_browser_and_unsubscribes_it(api, storage):
    client, tokens = api
    key = client.get("/api/push/key", headers=as_user(tokens["olive"])).json()
    assert key["enabled"] is True and len(key["public_key"]) == 87
    browser = Browser()
    body = {"endpoint": "https://push.example.net/v1/abc", "keys": browser.keys.model_dump()}

    created = client.post("/api/push/subscriptions", json=body, headers=as_user(tokens["olive"]))
    assert created.status_code == 201
    assert created.json()["username"] == "olive"
    # Another user cannot remove it; its owner can.
    client.request(
        "DELETE", "/api/push/subscriptions", json={"endpoint": body["endpoint"]},
        headers=as_user(tokens["otto"]),
    )  # fmt: skip
    assert storage.push_subscriptions.for_users(["olive"])
    gone = client.request(
        "DELETE", "/api/push/subscriptions", json={"endpoint": body["endpoint"]},
        headers=as_user(tokens["olive"]),
    )  # fmt: skip
    assert gone.status_code == 204
    assert storage.push_subscriptions.for_users(["olive"]) == []
    actions = [e.action for e in storage.audit.entries()]
    assert "push.subscribe" in actions and "push.unsubscribe" in actions


@pytest.mark.parametrize(
    "change",
    [
        {"endpoint": "http://push.example.net/v1/abc"},  # not https
        {"endpoint": "https://push.example.net/" + "a" * 2100},  # over 2 KB
        {"keys": {"p256dh": b64url(b"\x04" + b"1" * 63), "auth": b64url(b"1" * 16)}},  # short
        {"keys": {"p256dh": b64url(b"\x02" + b"1" * 64), "auth": b64url(b"1" * 16)}},  # compressed
        {"keys": {"p256dh": b64url(b"\x04" + b"1" * 64), "auth": b64url(b"1" * 15)}},  # auth
        {"keys": {"p256dh": "not base64!", "auth": b64url(b"1" * 16)}},
    ],
)
def test_a_malformed_subscription_is_refused_with_422(api, change):
    client, tokens = api
    body = {"endpoint": "https://push.example.net/v1/abc", "keys": Browser().keys.model_dump()}
    body.update(change)
    answer = client.post("/api/push/subscriptions", json=body, headers=as_user(tokens["olive"]))
    assert answer.status_code == 422


def test_push_routes_need_a_session(api):
    client, _ = api
    assert client.get("/api/push/key").status_code == 401
    assert client.post("/api/push/subscriptions", json={}).status_code == 401


def test_supervisors_list_deliveries_with_their_attempts_and_officers_cannot(api, storage, clock):
    client, tokens = api
    delivery = storage.notifications.add(
        "apprise", "json://u:pw@host/x", "json://u:****@host/x", MESSAGE, clock()
    )
    storage.notifications.record_attempt(
        delivery.id, clock(), 12, "refused", DeliveryStatus.FAILED, clock()
    )
    assert client.get("/api/notifications", headers=as_user(tokens["olive"])).status_code == 403

    page = client.get("/api/notifications", headers=as_user(tokens["sam"])).json()
    [item] = page["items"]
    assert item["target"] == "json://u:****@host/x"
    assert "address" not in item and "pw@" not in json.dumps(item)
    assert item["attempt_log"][0]["error"] == "refused"
    assert page["next_cursor"] is None
    assert storage.audit.entries(action="notifications.list")[0].username == "sam"


def test_web_push_is_built_only_when_the_site_switches_it_on(storage, tmp_path):
    off = NotifierSetup(storage, tmp_path / "off", WebPushSettings(enabled=False))
    assert sorted(build_notifiers(off)) == ["apprise"]
    assert not (tmp_path / "off" / "vapid.pem").exists()
    on = NotifierSetup(storage, tmp_path / "on", WebPushSettings(enabled=True))
    assert sorted(build_notifiers(on)) == ["apprise", "webpush"]
    assert (tmp_path / "on" / "vapid.pem").exists()
