"""Bad requests get a clear 4xx, never a 500: hostile queries on the alert list and hostile
bodies and names on the admin and login routes, over real HTTP. The hub must also keep
serving afterwards, and never echo a huge input back."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from hub_helpers import ApiHub, make_alert, serve_api

from hub.domain.users import Role


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    api = serve_api(Path(tmp_path_factory.mktemp("hub")))
    api.ingest(make_alert())
    yield api
    api.close()


@pytest.fixture(scope="module")
def admin(hub: ApiHub) -> httpx.Client:
    return hub.client("admin")


def cursor_of(text: str) -> str:
    """A cursor in the hub's own encoding, but with content the hub never made."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


#: What Starlette answers when no route matches: a 404 with it proves nothing about a route.
NO_ROUTE = {"detail": "Not Found"}


def assert_refused(response: httpx.Response, allowed: tuple[int, ...] = (400, 413, 422)) -> None:
    assert response.status_code in allowed, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    assert len(response.content) < 2048, "the answer must not echo a large input back"
    if response.status_code == 404:
        assert response.json() != NO_ROUTE, f"no route answered {response.request.url.path}"


ALERT_QUERIES = {
    "limit zero": {"limit": 0},
    "limit a billion": {"limit": 10**9},
    "limit not a number": {"limit": "many"},
    "unknown severity": {"severity": "bogus"},
    "severity six times": {"severity": ["major"] * 6},
    "unknown incident state": {"status": "bogus"},
    "since garbage": {"since": "garbage"},
    "before garbage": {"before": "yesterday-ish"},
    # Valid dates whose offset pushes them past the calendar's ends in UTC.
    "since year 1 east of UTC": {"since": "0001-01-01T00:00:00+05:00"},
    "before year 9999 west of UTC": {"before": "9999-12-31T23:59:59-05:00"},
    "cursor garbage": {"cursor": "garbage"},
    "cursor not base64": {"cursor": "%%%"},
    "cursor of three parts": {"cursor": cursor_of("x|y|z")},
    "cursor with a row number past SQLite's integers": {
        "cursor": cursor_of("2026-12-02T21:00:00.000+00:00|99999999999999999999999")
    },
    "cursor with a negative row number": {"cursor": cursor_of("2026-12-02T21:00:00+00:00|-1")},
    "cursor too long": {"cursor": "a" * 10_000},
    "q of 10 kB": {"q": "x" * 10_000},
    "kind with SQL in it": {"kind": "a' OR 1=1 --"},
    "area climbing folders": {"area": "../../etc"},
    "node of 1000 characters": {"node": "n" * 1000},
}


@pytest.mark.parametrize("case", sorted(ALERT_QUERIES))
def test_a_hostile_alert_list_query_is_a_4xx(hub, admin, case):
    assert_refused(admin.get("/api/alerts", params=ALERT_QUERIES[case]))
    # ...and the list still works right after it.
    assert len(admin.get("/api/alerts").json()["items"]) == 1


def test_hostile_alert_ids_and_event_ids_are_4xx(admin):
    for path in ("/api/alerts/not-an-id", "/api/alerts/" + "A" * 32, "/api/alerts/" + "0" * 5000):
        assert_refused(admin.get(path), (404, 414, 422))
    assert_refused(admin.get(f"/api/alerts/{'0' * 32}/snapshot"), (404,))
    assert_refused(admin.get("/api/events", params={"last_event_id": "x" * 1000}))


JSON = {"content-type": "application/json"}

USER_BODIES = {
    "not JSON": {"content": b"{", "headers": JSON},
    "a JSON list": {"content": b"[1, 2]", "headers": JSON},
    "null": {"content": b"null", "headers": JSON},
    "empty": {"content": b"", "headers": JSON},
    "bad UTF-8": {"content": b"\xff\xfe{}", "headers": JSON},
    "a lone surrogate": {"content": b'{"username": "\\ud800"}', "headers": JSON},
    "nested 100000 deep": {"content": b"[" * 100_000 + b"]" * 100_000, "headers": JSON},
    "a number for a name": {"json": {"username": 5}},
    "a 10 kB name": {"json": {"username": "x" * 10_000}},
    "a name with spaces": {"json": {"username": "Bad Name!"}},
    "an unknown role": {"json": {"username": "ok", "role": "root"}},
    "a form, not JSON": {"data": {"username": "ok"}},
}


@pytest.mark.parametrize("case", sorted(USER_BODIES))
def test_a_hostile_body_on_user_creation_is_a_4xx(hub, admin, case):
    assert_refused(admin.post("/api/users", **USER_BODIES[case]))
    # serve_api makes one user per role, named after it: nobody else may appear.
    assert {u.username for u in hub.storage.users.all()} <= {r.value for r in Role}


@pytest.mark.parametrize("action", ["disable", "enable", "password"])
def test_hostile_user_names_in_admin_paths_are_4xx(admin, action):
    for name in ("a" * 1000, "Bad%20Name", "%2e%2e", "admin%00", "nobody"):
        assert_refused(admin.post(f"/api/users/{name}/{action}"), (404, 422))
    assert_refused(admin.delete("/api/users/nobody/sessions"), (404,))
    assert_refused(admin.delete("/api/users/%2e%2e/sessions"), (404, 422))


def test_hostile_admin_list_queries_are_4xx(admin):
    for path, params in (
        ("/api/audit", {"limit": 0}),
        ("/api/audit", {"limit": "9" * 30}),
        ("/api/audit", {"action": "x" * 1000}),
        ("/api/audit", {"target": "y" * 10_000}),
        ("/api/quarantine", {"limit": -1}),
        ("/api/quarantine", {"limit": "lots"}),
    ):
        assert_refused(admin.get(path, params=params))


LOGIN_BODIES = {
    "1 MB password": {
        "content": b'{"username": "admin", "password": "' + b"p" * 2**20 + b'"}',
        "headers": JSON,
    },
    "nested 100000 deep": {"content": b"[" * 100_000 + b"]" * 100_000, "headers": JSON},
    "a list for a name": {"json": {"username": ["admin"], "password": "x"}},
    "no password": {"json": {"username": "admin"}},
    "bad UTF-8 form": {
        "content": b"username=\xff&password=\xfe",
        "headers": {"content-type": "application/x-www-form-urlencoded"},
    },
    "a form of 500 fields": {
        "content": b"&".join(b"f%d=v" % i for i in range(500)),
        "headers": {"content-type": "application/x-www-form-urlencoded"},
    },
}


@pytest.mark.parametrize("case", sorted(LOGIN_BODIES))
def test_a_hostile_login_body_is_a_4xx(hub, case):
    assert_refused(hub.client().post("/api/login", **LOGIN_BODIES[case]))


REPORT_QUERIES = {
    "end in year 1": {"end": "0001-01-01T00:00:00Z"},
    "start in year 1": {"start": "0001-01-01T00:00:00Z", "end": "0001-02-01T00:00:00Z"},
    "end in year 9999": {"end": "9999-12-31T23:59:59Z"},
    "start in year 9999": {"start": "9999-12-31T00:00:00Z"},
    "start after end": {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    "five years": {"start": "2020-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"},
}


@pytest.mark.parametrize("case", sorted(REPORT_QUERIES))
def test_a_report_period_at_the_calendars_ends_is_a_422(hub, admin, case):
    # The report also reads the period before and the year before: near year 1 or 9999
    # that arithmetic overflowed into a 500 (found by the schemathesis fuzz).
    assert_refused(admin.get("/api/reports/response-times", params=REPORT_QUERIES[case]))
    assert admin.get("/api/reports/response-times").status_code == 200
