"""The hub API over real HTTP (uvicorn on a free port): authentication, roles, audit, SSE."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from hub_helpers import ApiHub, SseReader, login, make_alert, serve_api, snapshot_jpeg
from route_samples import ADMIN_STATUS, ids, route_requests

from hub.api.app import PUBLIC_MOUNTS, PUBLIC_ROUTES
from hub.clock import ManualClock
from hub.domain.alerts import AlertRecord
from hub.events import AlertStored

__all__ = ["ids"]  # the fixture, imported for pytest


@pytest.fixture
def hub(tmp_path: Path):
    api = serve_api(tmp_path / "hub", heartbeat_s=0.3)
    yield api
    api.close()


def status_of(client: httpx.Client, method: str, path: str, **kwargs) -> int:
    # stream() so /api/events answers with its status without us reading the endless body.
    with client.stream(method, path, **kwargs) as response:
        return response.status_code


def test_only_login_health_and_the_page_shell_are_public(hub, ids):
    assert {
        ("POST", "/api/login"),
        ("GET", "/api/health"),
        ("GET", "/"),
        ("GET", "/sw.js"),  # the service worker must be fetchable to install the app
        ("GET", "/manifest.webmanifest"),
        ("GET", "/osmand/{token}"),  # OsmAnd trackers: the token in the path is the credential
        ("POST", "/osmand/{token}"),
    } == PUBLIC_ROUTES
    assert {"/static"} == PUBLIC_MOUNTS
    requests = route_requests(hub.app, ids)
    assert len(requests) >= 14  # the test really walked the app
    anonymous = hub.client()
    forged = hub.client(token="not-a-real-session-token")
    for method, _route, path, kwargs in requests:
        for client in (anonymous, forged):
            assert status_of(client, method, path, **kwargs) == 401, f"{method} {path}"
    # ...and each of them does work for an admin (so the 401 was about the session).
    for method, route, path, kwargs in requests:
        token, _ = hub.accounts.open_session("admin")
        admin = hub.client(token=token)
        if route == "/api/users" and method == "POST":
            kwargs = {"json": {"username": f"probe{len(path)}", "role": "viewer"}}
        expected = ADMIN_STATUS.get((method, route), (200, 201, 204))
        got = status_of(admin, method, path, **kwargs)
        assert got in (expected if isinstance(expected, tuple) else (expected,)), (
            f"{method} {path}: {got}"
        )


def test_public_routes_reveal_nothing(hub, ids):
    anonymous = hub.client()
    health = anonymous.get("/api/health")
    assert health.json() == {"status": "ok"}
    page = anonymous.get("/")
    assert page.status_code == 200 and 'id="login-form"' in page.text
    assert ids["alert_id"] not in page.text and "Riverside" not in page.text  # a shell, no data
    assert "content-security-policy" in page.headers
    assert anonymous.get("/static/app.js").status_code == 200
    # Sent as raw request targets: httpx would otherwise resolve the ".." itself and ask for
    # /api/app.py, which no route serves. The first proves ".." does reach the static files.
    assert raw_get(anonymous, "/static/../static/app.js").status_code == 200
    for sneaky in ("/static/../../api/app.py", "/static/%2e%2e/%2e%2e/api/app.py"):
        # hub/web/static/../../api/app.py is the hub's own source: it exists, and stays unserved.
        escaped = raw_get(anonymous, sneaky)
        assert escaped.status_code == 404 and "create_app" not in escaped.text, sneaky


def raw_get(client: httpx.Client, target: str) -> httpx.Response:
    """GET with ``target`` sent byte for byte as the request line's path (no normalising)."""
    return client.get("/", extensions={"target": target.encode()})


def test_an_expired_session_is_refused(hub):
    client = hub.client("viewer")
    assert client.get("/api/me").status_code == 200
    with hub.storage.alerts.database.write() as db:
        db.execute("UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000+00:00'")
    assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("role", ["viewer", "officer"])
def test_non_admins_cannot_read_quarantine_audit_or_manage_users(hub, ids, role):
    client = hub.client(role)
    assert client.get("/api/quarantine").status_code == 403
    assert client.get("/api/audit").status_code == 403
    assert client.get("/api/users").status_code == 403
    created = client.post("/api/users", json={"username": "mallory", "role": "admin"})
    assert created.status_code == 403
    assert hub.storage.users.get("mallory") is None
    assert client.post("/api/users/admin/disable").status_code == 403
    assert client.post("/api/users/admin/password").status_code == 403
    assert client.delete("/api/users/admin/sessions").status_code == 403
    # What they may do:
    alert_id = ids["alert_id"]
    for path in (
        "/api/alerts",
        f"/api/alerts/{alert_id}",
        "/api/nodes",
        "/api/stats",
        "/api/site",
        f"/api/alerts/{alert_id}/snapshot",
    ):
        assert client.get(path).status_code == 200, path


def test_login_with_a_wrong_password_fails(hub):
    anonymous = hub.client()
    r = anonymous.post("/api/login", json={"username": "viewer", "password": "guess-guess-guess"})
    assert r.status_code == 401 and "set-cookie" not in r.headers
    r = anonymous.post("/api/login", json={"username": "nobody", "password": "x"})
    assert r.status_code == 401
    assert anonymous.get("/api/me").status_code == 401


def test_login_works_with_the_cookie_and_with_the_bearer_token(hub):
    browser = hub.client()
    r = browser.post(
        "/api/login", json={"username": "officer", "password": hub.passwords["officer"]}
    )
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert browser.get("/api/me").json() == {"username": "officer", "role": "officer"}

    script = hub.client(token=r.json()["token"])
    assert script.get("/api/me").json()["username"] == "officer"
    # A plain HTML form post works too.
    form = hub.client().post(
        "/api/login", data={"username": "viewer", "password": hub.passwords["viewer"]}
    )
    assert form.status_code == 200 and form.json()["role"] == "viewer"
    # Logging out ends the session for cookie and token alike.
    assert browser.post("/api/logout").status_code == 204
    assert script.get("/api/me").status_code == 401


@pytest.fixture
def still_hub(tmp_path: Path, clock: ManualClock):
    """The hub on a clock that stands still: a loaded machine taking longer than the 1 s
    back-off between two attempts cannot let one through."""
    api = serve_api(tmp_path / "hub", clock=clock)
    yield api
    api.close()


def test_repeated_failed_logins_are_slowed_down(still_hub: ApiHub):
    hub = still_hub
    anonymous = hub.client()
    wrong = {"username": "admin", "password": "not-the-password"}
    assert [anonymous.post("/api/login", json=wrong).status_code for _ in range(3)] == [401] * 3
    blocked = anonymous.post(
        "/api/login", json={"username": "admin", "password": hub.passwords["admin"]}
    )
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    actions = [e.action for e in hub.storage.audit.entries()]
    assert actions.count("login.failed") == 3 and "login.throttled" in actions
    # Another user from the same address is not locked out by admin's failures.
    assert (
        anonymous.post(
            "/api/login", json={"username": "viewer", "password": hub.passwords["viewer"]}
        ).status_code
        == 200
    )


def test_logins_and_snapshot_views_are_audited(hub, ids):
    alert_id = ids["alert_id"]
    viewer = hub.client("viewer")
    hub.client().post("/api/login", json={"username": "viewer", "password": "wrong-password!"})
    snap = viewer.get(f"/api/alerts/{alert_id}/snapshot")
    assert snap.status_code == 200 and snap.headers["content-type"] == "image/jpeg"
    assert snap.content == snapshot_jpeg()
    viewer.get("/api/alerts")
    seen = {(e.username, e.action, e.target) for e in hub.storage.audit.entries()}
    assert ("viewer", "login", None) in seen
    assert ("viewer", "login.failed", None) in seen
    assert ("viewer", "snapshot.view", alert_id) in seen
    assert ("viewer", "alerts.list", None) in seen
    # Admins can read the trail through the API (and that read is audited too).
    audit = hub.client("admin").get("/api/audit").json()
    assert any(r["action"] == "snapshot.view" and r["target"] == alert_id for r in audit)
    assert hub.storage.audit.entries(action="audit.view")


def test_admin_creates_a_user_whose_password_is_shown_once(hub):
    admin = hub.client("admin")
    r = admin.post("/api/users", json={"username": "night-officer", "role": "officer"})
    assert r.status_code == 201
    password = r.json()["password"]
    assert len(password) >= 16
    officer = login(hub.url, "night-officer", password)
    hub.clients.append(officer)
    assert officer.get("/api/me").json()["role"] == "officer"
    assert admin.post("/api/users", json={"username": "night-officer"}).status_code == 409
    listed = admin.get("/api/users").json()
    assert any(u["username"] == "night-officer" and u["role"] == "officer" for u in listed)
    assert all("password" not in k for u in listed for k in u)
    assert admin.post("/api/users", json={"username": "Bad Name!"}).status_code == 422


def test_alert_list_is_newest_received_first_and_filters(hub, ids):
    alert_id = ids["alert_id"]
    older = make_alert(seq=5, area="north-gate", camera=None, zone=None)
    long_ago = older.ts.replace(year=2020)
    hub.storage.alerts.insert(older.model_copy(update={"ts": long_ago}), received_at=long_ago)
    viewer = hub.client("viewer")
    alerts = viewer.get("/api/alerts").json()["items"]
    assert alerts[0]["id"] == alert_id and len(alerts) == 2
    assert alerts[0]["snapshot_url"] == f"/api/alerts/{alert_id}/snapshot"
    assert "snapshot_path" not in alerts[0]  # file layout stays internal
    gate = viewer.get("/api/alerts", params={"area": "north-gate"}).json()["items"]
    assert [a["seq"] for a in gate] == [5]
    recent = viewer.get("/api/alerts", params={"since": "2021-01-01T00:00:00Z"}).json()["items"]
    assert [a["id"] for a in recent] == [alert_id]
    assert viewer.get("/api/alerts", params={"limit": 0}).status_code == 422
    missing = viewer.get("/api/alerts/" + "0" * 32)
    assert missing.status_code == 404 and missing.json()["detail"] == "no such alert"
    assert viewer.get("/api/alerts/not-an-id").status_code == 422


def test_api_responses_are_not_cached(hub):
    r = hub.client("viewer").get("/api/alerts")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_openapi_is_served_to_signed_in_users(hub):
    assert hub.client().get("/api/openapi.json").status_code == 401
    spec = hub.client("viewer").get("/api/openapi.json").json()
    assert {"/api/alerts", "/api/events", "/api/login"} <= set(spec["paths"])


def test_event_stream_delivers_live_events_with_ids_and_pings(hub, ids):
    viewer = hub.client("viewer")
    record: AlertRecord = hub.storage.alerts.get(ids["alert_id"])
    with viewer.stream("GET", "/api/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        sse = SseReader(response)
        assert "retry:" in sse.next()[0]
        # Publish from a foreign thread, as the MQTT ingest thread does.
        sender = threading.Thread(target=hub.bus.publish, args=(AlertStored(alert=record),))
        sender.start()
        sender.join()
        blocks = sse.next(3)
        alert = [b for b in blocks if "\nevent: alert\ndata: {" in b]
        assert len(alert) == 1 and alert[0].startswith("id: ") and record.id in alert[0]
        assert any(b == "event: ping\ndata: {}" for b in blocks)  # no id: not a resume point


def test_event_stream_ends_when_the_session_is_logged_out(hub):
    viewer = hub.client("viewer")
    with viewer.stream("GET", "/api/events") as response:
        sse = SseReader(response)
        sse.next()
        hub.client("viewer")  # another session of the same user stays valid...
        token = viewer.cookies.get("vw_session")
        hub.accounts.close_session(token)  # ...but this one is ended
        blocks = []
        while not blocks or blocks[-1].startswith("event: ping"):
            blocks += sse.next()
        assert blocks[-1].startswith("event: logout")
