"""Sessions over real HTTP, with the hub's clock in the test's hand (a ManualClock): a session
slides forward while it is used and ends when left idle; an admin can end a person's
sessions by disabling them, resetting their password or revoking their sessions; every
such action is in the audit trail."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hub_helpers import ApiHub, SseReader, serve_api

from hub.clock import ManualClock
from hub.events import SnapshotArrived

IDLE_MINUTES = 30


@pytest.fixture
def hub(tmp_path: Path, clock: ManualClock):
    api = serve_api(
        tmp_path / "hub", clock=clock, session_idle_minutes=IDLE_MINUTES, heartbeat_s=0.3
    )
    yield api
    api.close()


def audited(hub: ApiHub, action: str) -> list[tuple[str | None, str | None, str | None]]:
    """(who, target, detail) of each audit row for ``action``, oldest first."""
    rows = hub.storage.audit.entries(action=action)
    return [(e.username, e.target, e.detail) for e in reversed(rows)]


def login_status(hub: ApiHub, username: str, password: str) -> int:
    r = hub.client().post("/api/login", json={"username": username, "password": password})
    return r.status_code


def test_a_session_used_every_10_minutes_lives_past_the_idle_limit(hub, clock):
    officer = hub.client("officer")
    started = clock()
    for _ in range(12):  # two hours of a shift, four times the idle limit
        clock.advance(minutes=10)
        assert officer.get("/api/me").status_code == 200
    assert clock() - started == timedelta(hours=2)
    # It still ends once the officer stops using it.
    clock.advance(minutes=IDLE_MINUTES, seconds=1)
    assert officer.get("/api/me").status_code == 401


def test_an_idle_session_expires(hub, clock):
    r = hub.client().post(
        "/api/login", json={"username": "viewer", "password": hub.passwords["viewer"]}
    )
    assert datetime.fromisoformat(r.json()["expires_at"]) == clock() + timedelta(
        minutes=IDLE_MINUTES
    )
    idle = hub.client(token=r.json()["token"])
    busy = hub.client("viewer")
    clock.advance(minutes=IDLE_MINUTES - 1)
    assert busy.get("/api/me").status_code == 200  # used: slides forward
    clock.advance(minutes=2)
    assert idle.get("/api/me").status_code == 401  # untouched for 31 minutes
    assert busy.get("/api/me").status_code == 200


def test_disabling_a_user_ends_their_sessions_and_they_cannot_sign_in(hub):
    admin, officer = hub.client("admin"), hub.client("officer")
    with officer.stream("GET", "/api/events") as feed:
        live = SseReader(feed)
        assert live.event().name == "ping"
        r = admin.post("/api/users/officer/disable")
        assert r.status_code == 200 and r.json()["disabled"] is True
        assert officer.get("/api/me").status_code == 401
        # The open live feed notices at its next ping and tells the page to sign out.
        event = live.event()
        while event.name == "ping":
            event = live.event()
        assert event.name == "logout"
    assert login_status(hub, "officer", hub.passwords["officer"]) == 401
    assert audited(hub, "user.disable") == [("admin", "officer", None)]

    assert admin.post("/api/users/officer/enable").json()["disabled"] is False
    assert login_status(hub, "officer", hub.passwords["officer"]) == 200
    assert audited(hub, "user.enable") == [("admin", "officer", None)]


def test_a_password_reset_gives_a_new_password_and_ends_the_old_sessions(hub):
    admin, officer = hub.client("admin"), hub.client("officer")
    old = hub.passwords["officer"]
    r = admin.post("/api/users/officer/password")
    assert r.status_code == 200
    new = r.json()["password"]
    assert r.json()["username"] == "officer" and len(new) >= 16 and new != old
    assert officer.get("/api/me").status_code == 401
    assert login_status(hub, "officer", old) == 401
    assert login_status(hub, "officer", new) == 200
    assert audited(hub, "user.password_reset") == [("admin", "officer", None)]
    assert new not in str(hub.storage.audit.entries())  # shown once, never kept


def test_revoking_a_users_sessions_signs_them_out_everywhere_and_no_one_else(hub):
    admin = hub.client("admin")
    phone, desk = hub.client("officer"), hub.client("officer")
    viewer = hub.client("viewer")
    assert admin.delete("/api/users/officer/sessions").status_code == 204
    assert phone.get("/api/me").status_code == 401
    assert desk.get("/api/me").status_code == 401
    assert viewer.get("/api/me").status_code == 200
    assert admin.get("/api/me").status_code == 200
    # Signing in again works: revoking is not disabling.
    assert login_status(hub, "officer", hub.passwords["officer"]) == 200
    assert audited(hub, "user.sessions_revoked") == [("admin", "officer", "2 sessions")]


def test_an_admin_cannot_disable_themselves(hub):
    admin = hub.client("admin")
    r = admin.post("/api/users/admin/disable")
    assert r.status_code == 409 and "yourself" in r.json()["detail"]
    assert admin.get("/api/me").status_code == 200
    assert hub.storage.users.get("admin").disabled is False
    assert audited(hub, "user.disable") == []
    nobody = admin.post("/api/users/nobody/disable")
    assert nobody.status_code == 404 and nobody.json()["detail"] == "no user 'nobody'"


def test_a_busy_live_feed_still_ends_soon_after_the_user_is_disabled(hub):
    """The feed re-checks the session at least every heartbeat, not only when it is idle:
    on a busy hub events never leave a quiet heartbeat for a ping."""
    officer = hub.client("officer")
    with officer.stream("GET", "/api/events") as feed:
        live = SseReader(feed)
        assert live.event().name == "ping"
        hub.accounts.set_disabled("officer", True)
        # A backlog of 50, topped up as each is read: the feed never waits for an event
        # (however slowly this test reads), for up to 20 heartbeats.
        sent = 0

        def publish() -> None:
            nonlocal sent
            hub.bus.publish(SnapshotArrived(alert_id=f"{sent:032x}"))
            sent += 1

        for _ in range(50):
            publish()
        deadline = time.monotonic() + 20 * 0.3
        names = []
        while time.monotonic() < deadline:
            names.append(live.event().name)
            if names[-1] == "logout":
                break
            publish()
        assert names[-1] == "logout", f"still streaming after {len(names)} events"
        assert "ping" not in names  # it was never idle: the check did not wait for one
