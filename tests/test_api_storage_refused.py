"""Signing in and staying signed in while the store refuses writes (a full disk): the
issue saw login answer 500 because it writes a session row. Here the hub's own SQLite
connection is switched to ``PRAGMA query_only`` (every write then fails as on a read-only
store, through the same error path as a full disk), over real HTTP on a ManualClock."""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_helpers import serve_api

from hub.accounts import token_hash


def refuse_writes(hub, refuse: bool) -> None:
    with hub.storage.alerts.database.read() as db:
        db.execute(f"PRAGMA query_only = {int(refuse)}")


@pytest.fixture
def hub(tmp_path: Path, clock):
    api = serve_api(tmp_path / "hub", clock=clock)
    yield api
    refuse_writes(api, False)
    api.close()


def sign_in(hub, role: str):
    client = hub.client()
    response = client.post("/api/login", json={"username": role, "password": hub.passwords[role]})
    return client, response


def test_a_login_while_the_store_refuses_writes_works_and_is_saved_once_it_takes_them(hub, clock):
    refuse_writes(hub, True)
    officer, signed_in = sign_in(hub, "officer")
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["token"]
    assert officer.get("/api/me").json()["username"] == "officer"
    assert officer.get("/api/alerts").status_code == 200

    refuse_writes(hub, False)
    assert officer.get("/api/me").status_code == 200  # this use saves the session
    assert hub.storage.sessions.user(token_hash(token), clock()) is not None
    assert officer.post("/api/logout").status_code == 204
    assert officer.get("/api/me").status_code == 401


def test_signing_out_while_the_store_refuses_writes_is_a_503_and_the_session_stays(hub):
    viewer, _ = sign_in(hub, "viewer")
    refuse_writes(hub, True)
    refused = viewer.post("/api/logout")
    # The hub says so instead of pretending: the session is still valid.
    assert refused.status_code == 503 and refused.headers["retry-after"] == "30"
    assert viewer.get("/api/me").status_code == 200
    refuse_writes(hub, False)
    assert viewer.post("/api/logout").status_code == 204


def test_a_session_in_use_outlives_a_full_disk_without_sliding_its_expiry(hub, clock):
    viewer, _ = sign_in(hub, "viewer")
    refuse_writes(hub, True)
    clock.advance(minutes=5)  # past the step at which every use slides the expiry
    assert viewer.get("/api/me").status_code == 200
    assert viewer.get("/api/nodes").status_code == 200


def test_revoking_a_users_sessions_ends_one_kept_in_memory_too(hub):
    refuse_writes(hub, True)
    viewer, _ = sign_in(hub, "viewer")
    refuse_writes(hub, False)
    assert hub.accounts.revoke_sessions("viewer") == 1
    assert viewer.get("/api/me").status_code == 401


def test_a_password_reset_ends_a_session_kept_in_memory_too(hub):
    refuse_writes(hub, True)
    viewer, _ = sign_in(hub, "viewer")
    refuse_writes(hub, False)
    hub.accounts.reset_password("viewer")
    assert viewer.get("/api/me").status_code == 401


def test_writes_the_store_refuses_are_503_with_retry_after_not_500(hub):
    admin, _ = sign_in(hub, "admin")
    officer, _ = sign_in(hub, "officer")
    refuse_writes(hub, True)
    for response in (
        admin.post("/api/users", json={"username": "newcomer", "role": "viewer"}),
        officer.post(
            "/api/incidents",
            json={
                "source": "call",
                "kind": "burglary",
                "severity": "major",
                "title": "break-in reported by a neighbour",
                "location": {"area": "plaza"},
            },
        ),
    ):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "30"
    refuse_writes(hub, False)
    created = admin.post("/api/users", json={"username": "newcomer", "role": "viewer"})
    assert created.status_code == 201


def test_disabling_a_user_ends_a_session_kept_in_memory_for_good(hub):
    refuse_writes(hub, True)
    viewer, _ = sign_in(hub, "viewer")
    refuse_writes(hub, False)
    hub.accounts.set_disabled("viewer", True)
    # Enabled again before the phone next asks: it needs a new sign-in, the old one is gone.
    hub.accounts.set_disabled("viewer", False)
    assert viewer.get("/api/me").status_code == 401
