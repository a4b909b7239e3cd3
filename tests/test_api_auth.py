"""The hub API over real HTTP (uvicorn on a free port): authentication, roles, audit, SSE."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime
from pathlib import Path

import fastapi.routing
import httpx
import pytest
from fastapi.routing import APIRoute
from hub_helpers import ApiHub, SseReader, login, make_alert, serve_api, snapshot_jpeg
from starlette.routing import Mount

from hub.api.app import PUBLIC_MOUNTS, PUBLIC_ROUTES
from hub.clock import ManualClock
from hub.domain.alerts import AlertRecord
from hub.domain.units import Availability, Unit, UnitKind
from hub.events import AlertStored
from hub.incidents.requests import NewIncident


@pytest.fixture
def hub(tmp_path: Path):
    api = serve_api(tmp_path / "hub", heartbeat_s=0.3)
    yield api
    api.close()


@pytest.fixture
def ids(hub: ApiHub) -> dict[str, str]:
    """One of everything a route can name: an alert with its snapshot, the incident it
    opened, a photo on that incident, and a user."""
    alert = make_alert()
    hub.ingest(alert)
    hub.storage.alerts.save_snapshot(
        alert.site, alert.node, alert.id, snapshot_jpeg(), datetime.now(UTC)
    )
    incident_id = hub.storage.alerts.get(alert.id).incident_id
    assert incident_id, "ingest files every alert under an incident"
    photo = hub.service.incidents.add_attachment(
        incident_id, "officer", "scene.jpg", snapshot_jpeg(), "image/jpeg"
    )
    unit_id, assignment_id = _units(hub)
    return {
        "alert_id": alert.id,
        "incident_id": incident_id,
        "attachment_id": str(photo.id),
        "username": "viewer",
        "unit_id": unit_id,
        "assignment_id": assignment_id,
        "node": "gw-plaza",
        "camera": "plaza",
        "area": "plaza",
        # Watchlist routes: ids nothing has, answered 404 (ADMIN_STATUS) past the session.
        "entry_id": "f" * 32,
        "auth_id": "f" * 32,
        "event_id": "no-such-event",  # event security: answered 404 past the session
        "action": "access",  # privacy: a subject access request
        "grant_id": "no-such-token",  # sharing: answered 404 past the session
        "month": "2026-11",  # safety: no monthly report written yet, answered 404
    }


#: The unit the dispatch routes name: available, with the admin as its member.
SAMPLE_UNIT = "d" * 32


def _units(hub: ApiHub) -> tuple[str, str]:
    """An available unit (the admin in it) and an assignment of another unit on a call."""
    now = datetime.now(UTC)
    for unit_id, callsign, members in ((SAMPLE_UNIT, "P-01", ["admin"]), ("e" * 32, "P-02", [])):
        hub.storage.units.create(
            Unit(
                id=unit_id,
                callsign=callsign,
                kind=UnitKind.CAR,
                members=members,
                availability=Availability.AVAILABLE,
                created_at=now,
                updated_at=now,
            )
        )
    call = NewIncident(
        source="call", kind="fight", severity="major", title="t", location={"area": "plaza"}
    )
    incident, _ = hub.service.incidents.open_call(call, "officer")
    assignment = hub.service.dispatch.dispatch(incident.id, "e" * 32, "officer")
    return SAMPLE_UNIT, assignment.id


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


PUSH_SUBSCRIPTION = {
    "endpoint": "https://push.example.net/send/abc",
    "keys": {"p256dh": _b64url(b"\x04" + b"\x01" * 64), "auth": _b64url(b"\x02" * 16)},
}

#: A request that a signed-in admin may make on each route with a body.
SAMPLE_REQUESTS = {
    ("POST", "/api/users"): {"json": {"username": "probe", "role": "viewer"}},
    ("POST", "/api/incidents"): {
        "json": {
            "source": "call",
            "kind": "burglary",
            "severity": "major",
            "title": "break-in reported by a neighbour",
            "location": {"area": "plaza"},
        }
    },
    ("POST", "/api/incidents/{incident_id}/transitions"): {"json": {"action": "acknowledge"}},
    ("POST", "/api/incidents/{incident_id}/notes"): {"json": {"text": "gate found open"}},
    ("POST", "/api/incidents/{incident_id}/attachments"): {
        "content": snapshot_jpeg(),
        "headers": {"content-type": "image/jpeg"},
    },
    ("POST", "/api/push/subscriptions"): {"json": PUSH_SUBSCRIPTION},
    ("DELETE", "/api/push/subscriptions"): {"json": {"endpoint": PUSH_SUBSCRIPTION["endpoint"]}},
    ("POST", "/api/units"): {"json": {"callsign": "P-99", "kind": "foot"}},
    ("PATCH", "/api/units/{unit_id}"): {"json": {"kind": "bicycle"}},
    ("POST", "/api/units/{unit_id}/trackers"): {"json": {"name": "car phone"}},
    ("POST", "/api/positions"): {"json": {"lat": 51.486, "lon": -0.124}},
    ("POST", "/api/incidents/{incident_id}/dispatch"): {"json": {"unit_id": SAMPLE_UNIT}},
    ("POST", "/api/assignments/{assignment_id}/steps"): {"json": {"step": "accept"}},
    ("PUT", "/api/arming/{area}"): {"json": {"mode": "armed"}},
    ("POST", "/api/watchlist/plates"): {
        "json": {
            "plate": "粤C·12345",
            "reason": "stolen",
            "owner": "officer",
            "case_ref": "C-1",
            "expires_at": "2099-01-01T00:00:00Z",
        }
    },
    ("POST", "/api/watchlist/authorisations"): {
        "json": {
            "legal_basis": "court order 12/2026",
            "case_number": "C-2",
            "approved_by": "supervisor",
            "areas": ["plaza"],
            "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2099-01-01T00:00:00Z",
            "expires_at": "2099-01-01T00:00:00Z",
        }
    },
    ("POST", "/api/privacy/subjects/{action}"): {"json": {"plate": "粤C·12345"}},
    ("POST", "/api/privacy/subjects/face/{action}"): {
        "content": snapshot_jpeg(),
        "headers": {"content-type": "image/jpeg"},
    },
    ("POST", "/api/site-events"): {
        "json": {
            "id": "probe-event",
            "name": "Probe",
            "starts_at": "2026-01-01T18:00:00Z",
            "ends_at": "2026-01-01T23:00:00Z",
            "rings": {
                "core": {
                    "polygon": [
                        {"lat": 51.486, "lon": -0.1242},
                        {"lat": 51.486, "lon": -0.1240},
                        {"lat": 51.4859, "lon": -0.1241},
                    ]
                }
            },
        }
    },
    ("POST", "/api/watchlist/faces"): {
        "params": {"authorisation": "f" * 32},
        "content": snapshot_jpeg(),
        "headers": {"content-type": "image/jpeg"},
    },
    ("POST", "/api/watchlist/candidates/{alert_id}/dispatch"): {"json": {"unit_id": SAMPLE_UNIT}},
    ("POST", "/api/sharing/accounts"): {"json": {"name": "Probe brigade", "department": "fire"}},
    ("POST", "/api/sharing/tokens"): {
        "json": {
            "account_id": "no-such-account",
            "agreement": "DSA-probe",
            "datasets": ["areas"],
            "areas": ["plaza"],
            "data_from": "2026-01-01T00:00:00Z",
            "data_until": "2026-02-01T00:00:00Z",
            "expires_at": "2099-01-01T00:00:00Z",
        }
    },
    ("GET", "/api/share/v1/data"): {"params": {"dataset": "areas", "format": "geojson"}},
}

#: Routes whose answer to an admin is, by design, not a 2xx: it still proves the session
#: was accepted (a 401 or 403 would not be in this table).
ADMIN_STATUS = {
    ("POST", "/api/push/subscriptions"): 409,  # Web Push is off on this site
    ("GET", "/api/cameras/{node}/{camera}/live"): 422,  # a live view needs ?incident=
    # Watchlist: face recognition is off on the example site; no such entry or candidate.
    ("POST", "/api/watchlist/faces"): 409,
    # Privacy: the sample frame shows people far off, no face the model can describe.
    ("POST", "/api/privacy/subjects/face/{action}"): 422,
    # Event security: no such event.
    ("GET", "/api/site-events/{event_id}"): 404,
    ("GET", "/api/site-events/{event_id}/replay"): 404,
    ("DELETE", "/api/site-events/{event_id}"): 404,
    ("POST", "/api/watchlist/authorisations/{auth_id}/end"): 404,
    ("DELETE", "/api/watchlist/entries/{entry_id}"): 404,
    ("GET", "/api/watchlist/faces/{entry_id}/photo"): 404,
    ("GET", "/api/watchlist/candidates/{alert_id}/crop"): 404,
    ("POST", "/api/watchlist/candidates/{alert_id}/confirm"): 404,
    ("POST", "/api/watchlist/candidates/{alert_id}/reject"): 404,
    ("POST", "/api/watchlist/candidates/{alert_id}/dispatch"): 404,
    # Sharing: a token for no account is refused; no such token to revoke.
    ("POST", "/api/sharing/tokens"): 422,
    ("POST", "/api/sharing/tokens/{grant_id}/revoke"): 404,
    ("GET", "/api/safety/reports/{month}"): 404,
}


def app_routes(app) -> list[tuple[object, str, set[str]]]:
    """(route, full path, methods) of every route, also inside included routers (FastAPI
    0.165 keeps those as routers; older versions flattened them into ``app.routes``)."""
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_contexts is None:
        return [(r, r.path, getattr(r, "methods", set())) for r in app.routes]
    return [(c.original_route, c.path, c.methods or set()) for c in iter_contexts(app.routes)]


def route_requests(app, ids: dict[str, str]) -> list[tuple[str, str, str, dict]]:
    """(method, route, path, request kwargs) for every protected API route in the app."""
    out = []
    for route, route_path, methods in app_routes(app):
        if isinstance(route, Mount):
            assert route_path in PUBLIC_MOUNTS, f"unexpected mount {route_path}"
            continue
        assert isinstance(route, APIRoute), f"unexpected route type {route!r}"
        for method in sorted(methods):
            if (method, route_path) in PUBLIC_ROUTES:
                continue
            path = route_path
            for name, value in ids.items():
                path = path.replace("{" + name + "}", value)
            assert "{" not in path, f"add a sample value for {route_path}"
            kwargs = SAMPLE_REQUESTS.get((method, route_path), {})
            out.append((method, route_path, path, kwargs))
    return out


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
