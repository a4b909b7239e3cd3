"""An order reaches a patrol phone whose page is closed: on dispatch and on backup, the hub
queues a Web Push to each browser the unit's members subscribed, through the notifications
queue (delivery rows, retries). End to end over HTTP as in test_hub_webpush: a local https
endpoint plays the push service and the test decrypts the body as the browser would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from dispatch_kit import DispatchHub, serve_dispatch
from hub_helpers import example_config

from hub.domain.notifications import DeliveryStatus
from tests.notify_kit import Browser, HttpReceiver, tls_files


@pytest.fixture
def push_service(tmp_path) -> Iterator[tuple[HttpReceiver, requests.Session]]:
    """An https push service on loopback and a session that trusts its CA."""
    ca, cert, key = tls_files(tmp_path)
    server = HttpReceiver(status=201, tls=(cert, key))
    session = requests.Session()
    session.verify = str(ca)
    session.trust_env = False  # a CA bundle named in the environment must not replace it
    yield server, session
    server.close()
    session.close()


@pytest.fixture
def hub(tmp_path, push_service) -> Iterator[DispatchHub]:
    """The example site with Web Push on; its notifier's session trusts the push service."""
    config = example_config()
    settings = config.hub.model_copy(
        update={"web_push": config.hub.web_push.model_copy(update={"enabled": True})}
    )
    running = serve_dispatch(tmp_path / "hub", config.model_copy(update={"hub": settings}))
    running.api.service.notifications.notifiers["webpush"].session = push_service[1]
    yield running
    running.close()


def subscribe(client, server: HttpReceiver, path: str) -> Browser:
    browser = Browser()
    body = {"endpoint": server.url(path), "keys": browser.keys.model_dump()}
    r = client.post("/api/push/subscriptions", json=body)
    assert r.status_code == 201, r.text
    return browser


def pushed(server: HttpReceiver, path: str) -> list:
    return [r for r in server.requests if r.path == path]


def test_the_dispatched_unit_and_its_backup_get_a_push_naming_the_incident(hub, push_service):
    server, _ = push_service
    phone = subscribe(hub.patrol, server, "/push/patrol")
    other_phone = subscribe(hub.patrol2, server, "/push/patrol2")
    p1 = hub.unit("P-01", "car", ("patrol",))
    hub.unit("P-02", "bicycle", ("patrol2",))
    incident = hub.incident()
    notifications = hub.api.service.notifications
    notifications.deliver_due()  # the duty desk's "new incident" pushes, if any
    order = hub.dispatch(incident["id"], p1["id"])
    notifications.deliver_due()

    [request] = pushed(server, "/push/patrol")
    assert request.headers["urgency"] == "high"
    assert phone.decrypt(request.body) == {
        "title": "New order for P-01: break-in at the plaza kiosk",
        "body": f"{incident['ref']} · MAJOR burglary · plaza",
        "incident_id": incident["id"],
        "severity": "major",
        "tier": None,
        "url": "/#/patrol",
    }
    assert pushed(server, "/push/patrol2") == []  # P-02 was not sent

    step = {"step": "accept"}
    assert hub.patrol.post(f"/api/assignments/{order['id']}/steps", json=step).status_code == 200
    r = hub.patrol.post(f"/api/assignments/{order['id']}/steps", json={"step": "need_backup"})
    assert r.status_code == 200, r.text
    notifications.deliver_due()
    [backup] = pushed(server, "/push/patrol2")
    payload = other_phone.decrypt(backup.body)
    assert payload["title"] == "Backup needed for P-02: break-in at the plaza kiosk"
    assert payload["url"] == "/#/patrol"
    assert len(pushed(server, "/push/patrol")) == 1  # no second push to P-01


def test_a_push_the_service_refuses_is_retried_like_any_notification(hub, push_service):
    server, _ = push_service
    subscribe(hub.patrol, server, "/push/patrol")
    unit = hub.unit("P-01", "car", ("patrol",))
    incident = hub.incident()
    notifications = hub.api.service.notifications
    notifications.deliver_due()
    server.status = 503
    hub.dispatch(incident["id"], unit["id"])
    notifications.deliver_due()
    [row] = [d for d in hub.storage.notifications.find() if d.url == "/#/patrol"]
    assert row.status is DeliveryStatus.FAILED and "503" in row.last_error
    assert row.target.startswith("patrol's browser")
    server.status = 201
    hub.clock.advance(seconds=5)
    notifications.deliver_due()
    assert hub.storage.notifications.get(row.id).status is DeliveryStatus.SENT
    assert len(pushed(server, "/push/patrol")) == 2


def test_nothing_is_pushed_when_the_site_has_web_push_off(tmp_path, push_service):
    server, _ = push_service
    hub = serve_dispatch(tmp_path / "hub")  # the example site: web_push.enabled false
    try:
        unit = hub.unit("P-01", "car", ("patrol",))
        hub.dispatch(hub.incident()["id"], unit["id"])
        assert hub.api.service.notifications.deliver_due() == 0
        assert server.requests == []
    finally:
        hub.close()
