"""The hub API over real HTTP (uvicorn on a free port): authentication, roles, audit, SSE."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from hub_helpers import example_config, login, make_alert, snapshot_jpeg
from starlette.routing import Mount

from hub.accounts import Role
from hub.api.api import PUBLIC_MOUNTS, PUBLIC_ROUTES, create_app
from hub.api.server import WebServer
from hub.live import LiveFeed
from hub.store import HubStore


@dataclass
class Hub:
    store: HubStore
    live: LiveFeed
    app: object
    server: WebServer
    alert_id: str
    passwords: dict[str, str]
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, role: str | None = None, token: str | None = None) -> httpx.Client:
        """Anonymous, signed in as the user named after ``role``, or holding ``token``."""
        if role is not None:
            client = login(self.url, role, self.passwords[role])
        else:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            client = httpx.Client(base_url=self.url, timeout=10, headers=headers)
        self.clients.append(client)
        return client


@pytest.fixture
def hub(tmp_path: Path):
    store = HubStore(tmp_path / "hub")
    live = LiveFeed()
    app = create_app(store, live, example_config(), heartbeat_s=0.3)
    server = WebServer(app, "127.0.0.1", 0)
    server.start()
    alert = make_alert()
    store.insert_alert(alert)
    store.save_snapshot(alert.site, alert.node, alert.id, snapshot_jpeg())
    # One user per role, named after it.
    passwords = {r.value: store.accounts.create_user(r.value, r) for r in Role}
    hub = Hub(store, live, app, server, alert.id, passwords)
    yield hub
    for client in hub.clients:
        client.close()
    server.stop()
    store.close()


def route_requests(app, alert_id: str) -> list[tuple[str, str, dict]]:
    """(method, path, request kwargs) for every protected API route in the app."""
    out = []
    for route in app.routes:
        if isinstance(route, Mount):
            assert route.path in PUBLIC_MOUNTS, f"unexpected mount {route.path}"
            continue
        assert isinstance(route, APIRoute), f"unexpected route type {route!r}"
        for method in sorted(route.methods):
            if (method, route.path) in PUBLIC_ROUTES:
                continue
            path = route.path.replace("{alert_id}", alert_id)
            assert "{" not in path, f"add a sample value for {route.path}"
            out.append((method, path, {"json": {}} if route.path == "/api/users" else {}))
    return out


def status_of(client: httpx.Client, method: str, path: str, **kwargs) -> int:
    # stream() so /api/events answers with its status without us reading the endless body.
    with client.stream(method, path, **kwargs) as response:
        return response.status_code


def test_only_login_health_and_the_page_shell_are_public(hub):
    assert {("POST", "/api/login"), ("GET", "/api/health"), ("GET", "/")} == PUBLIC_ROUTES
    assert {"/static"} == PUBLIC_MOUNTS
    requests = route_requests(hub.app, hub.alert_id)
    assert len(requests) >= 14  # the test really walked the app
    anonymous = hub.client()
    forged = hub.client(token="not-a-real-session-token")
    for method, path, kwargs in requests:
        for client in (anonymous, forged):
            assert status_of(client, method, path, **kwargs) == 401, f"{method} {path}"
    # ...and each of them does work for an admin (so the 401 was about the session).
    for method, path, kwargs in requests:
        token, _ = hub.store.accounts.open_session("admin")
        admin = hub.client(token=token)
        kwargs = {"json": {"username": f"probe{len(path)}", "role": "viewer"}} if kwargs else {}
        assert status_of(admin, method, path, **kwargs) in (200, 201, 204), f"{method} {path}"


def test_public_routes_reveal_nothing(hub):
    anonymous = hub.client()
    health = anonymous.get("/api/health")
    assert health.json() == {"status": "ok"}
    page = anonymous.get("/")
    assert page.status_code == 200 and 'id="login-form"' in page.text
    assert hub.alert_id not in page.text and "Riverside" not in page.text  # a shell, no data
    assert "content-security-policy" in page.headers
    assert anonymous.get("/static/app.js").status_code == 200
    for sneaky in ("/static/../../hub/hub.sqlite3", "/static/%2e%2e/api.py"):
        assert anonymous.get(sneaky).status_code == 404


def test_an_expired_session_is_refused(hub):
    client = hub.client("viewer")
    assert client.get("/api/me").status_code == 200
    with hub.store.lock:
        hub.store.db.execute("UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000+00:00'")
    assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("role", ["viewer", "officer"])
def test_non_admins_cannot_read_quarantine_audit_or_manage_users(hub, role):
    client = hub.client(role)
    assert client.get("/api/quarantine").status_code == 403
    assert client.get("/api/audit").status_code == 403
    assert client.get("/api/users").status_code == 403
    created = client.post("/api/users", json={"username": "mallory", "role": "admin"})
    assert created.status_code == 403
    assert hub.store.accounts.get_user("mallory") is None
    # What they may do:
    for path in (
        "/api/alerts",
        f"/api/alerts/{hub.alert_id}",
        "/api/nodes",
        "/api/stats",
        "/api/site",
        f"/api/alerts/{hub.alert_id}/snapshot",
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


def test_repeated_failed_logins_are_slowed_down(hub):
    anonymous = hub.client()
    wrong = {"username": "admin", "password": "not-the-password"}
    assert [anonymous.post("/api/login", json=wrong).status_code for _ in range(3)] == [401] * 3
    blocked = anonymous.post(
        "/api/login", json={"username": "admin", "password": hub.passwords["admin"]}
    )
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    actions = [r["action"] for r in hub.store.accounts.audit_rows()]
    assert actions.count("login.failed") == 3 and "login.throttled" in actions
    # Another user from the same address is not locked out by admin's failures.
    assert (
        anonymous.post(
            "/api/login", json={"username": "viewer", "password": hub.passwords["viewer"]}
        ).status_code
        == 200
    )


def test_logins_and_snapshot_views_are_audited(hub):
    viewer = hub.client("viewer")
    hub.client().post("/api/login", json={"username": "viewer", "password": "wrong-password!"})
    snap = viewer.get(f"/api/alerts/{hub.alert_id}/snapshot")
    assert snap.status_code == 200 and snap.headers["content-type"] == "image/jpeg"
    assert snap.content == snapshot_jpeg()
    viewer.get("/api/alerts")
    rows = hub.store.accounts.audit_rows()
    seen = {(r["username"], r["action"], r["target"]) for r in rows}
    assert ("viewer", "login", None) in seen
    assert ("viewer", "login.failed", None) in seen
    assert ("viewer", "snapshot.view", hub.alert_id) in seen
    assert ("viewer", "alerts.list", None) in seen
    # Admins can read the trail through the API (and that read is audited too).
    audit = hub.client("admin").get("/api/audit").json()
    assert any(r["action"] == "snapshot.view" and r["target"] == hub.alert_id for r in audit)
    assert hub.store.accounts.audit_rows(action="audit.view")


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


def test_alert_list_is_newest_first_and_filters(hub):
    older = make_alert(seq=5, area="north-gate", camera=None, zone=None)
    hub.store.insert_alert(older.model_copy(update={"ts": older.ts.replace(year=2020)}))
    viewer = hub.client("viewer")
    alerts = viewer.get("/api/alerts").json()
    assert alerts[0]["id"] == hub.alert_id and len(alerts) == 2
    assert alerts[0]["snapshot_url"] == f"/api/alerts/{hub.alert_id}/snapshot"
    assert "snapshot_path" not in alerts[0]  # file layout stays internal
    gate = viewer.get("/api/alerts", params={"area": "north-gate"}).json()
    assert [a["seq"] for a in gate] == [5]
    recent = viewer.get("/api/alerts", params={"since": "2021-01-01T00:00:00Z"}).json()
    assert [a["id"] for a in recent] == [hub.alert_id]
    assert viewer.get("/api/alerts", params={"limit": 0}).status_code == 422
    assert viewer.get("/api/alerts/" + "0" * 32).status_code == 404
    assert viewer.get("/api/alerts/not-an-id").status_code == 422


def test_api_responses_are_not_cached(hub):
    r = hub.client("viewer").get("/api/alerts")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_openapi_is_served_to_signed_in_users(hub):
    assert hub.client().get("/api/openapi.json").status_code == 401
    spec = hub.client("viewer").get("/api/openapi.json").json()
    assert {"/api/alerts", "/api/events", "/api/login"} <= set(spec["paths"])


class SseReader:
    """Splits a streaming response into SSE blocks (events or comments)."""

    def __init__(self, response: httpx.Response) -> None:
        self.chunks = response.iter_text()
        self.buf = ""

    def next(self, count: int = 1) -> list[str]:
        blocks: list[str] = []
        while len(blocks) < count:
            while "\n\n" not in self.buf:
                self.buf += next(self.chunks)  # the client timeout bounds the wait
            block, self.buf = self.buf.split("\n\n", 1)
            blocks.append(block)
        return blocks


def test_event_stream_delivers_live_events_and_heartbeats(hub):
    viewer = hub.client("viewer")
    with viewer.stream("GET", "/api/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        sse = SseReader(response)
        assert "retry:" in sse.next()[0]
        # Publish from a foreign thread, as the MQTT ingest thread does.
        threading.Thread(
            target=hub.live.publish, args=({"type": "alert", "id": hub.alert_id, "area": "plaza"},)
        ).start()
        blocks = sse.next(3)
        assert any(b.startswith("event: alert\ndata: {") and hub.alert_id in b for b in blocks)
        assert any(b.startswith(": keepalive") for b in blocks)


def test_event_stream_ends_when_the_session_is_logged_out(hub):
    viewer = hub.client("viewer")
    with viewer.stream("GET", "/api/events") as response:
        sse = SseReader(response)
        sse.next()
        hub.client("viewer")  # another session of the same user stays valid...
        token = viewer.cookies.get("vw_session")
        hub.store.accounts.close_session(token)  # ...but this one is ended
        blocks = []
        while not blocks or blocks[-1].startswith(": keepalive"):
            blocks += sse.next()
        assert blocks[-1].startswith("event: logout")
