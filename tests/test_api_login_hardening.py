"""Login, hardened (issue 7): the throttle's counters live in the hub's database, so a
restart gives an attacker no fresh guesses, and a login posted by another site's page
(login CSRF: signing the victim's browser in as the attacker) is refused with 403 and no
cookie. Over real HTTP, on a ManualClock."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hub_helpers import ApiHub, serve_api

from hub.clock import ManualClock
from hub.storage.sqlite.throttle import SqliteLoginFailures

STRANGER = "127.0.0.2"


def attempt(client: httpx.Client, username: str, password: str, **headers) -> httpx.Response:
    return client.post(
        "/api/login", json={"username": username, "password": password}, headers=headers
    )


class RestartableHub:
    """The hub API on one data folder, stopped and started again like a real restart, on
    the test's clock; its throttle is the hub's own, in the hub's database."""

    def __init__(self, data_dir: Path, clock: ManualClock) -> None:
        self.data_dir, self.clock = data_dir, clock
        self.hub = self.passwords = None

    def start(self) -> ApiHub:
        self.hub = serve_api(self.data_dir, clock=self.clock, passwords=self.passwords)
        self.passwords = self.hub.passwords
        return self.hub

    def stop(self) -> None:
        if self.hub is not None:
            self.hub.close()
            self.hub = None


@pytest.fixture
def restartable(tmp_path: Path, clock: ManualClock):
    hub = RestartableHub(tmp_path / "hub", clock)
    yield hub
    hub.stop()


def test_a_restart_gives_no_fresh_guesses_and_the_wait_keeps_doubling(restartable, clock):
    hub = restartable.start()
    stranger = hub.client(local_address=STRANGER)
    assert [attempt(stranger, "admin", f"guess-{i}").status_code for i in range(4)] == [
        401,
        401,
        401,
        429,
    ]
    restartable.stop()

    hub = restartable.start()  # a new process would load the same rows
    stranger = hub.client(local_address=STRANGER)
    assert attempt(stranger, "admin", "guess-4").status_code == 429
    clock.advance(seconds=1)
    assert attempt(stranger, "admin", "guess-5").status_code == 401
    refused = attempt(stranger, "admin", "guess-6")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "3"  # 2 s: the doubling carried on
    # The real admin, from their own address, is not slowed by any of it.
    assert attempt(hub.client(), "admin", hub.passwords["admin"]).status_code == 200


def test_the_hubs_own_throttle_keeps_its_counters_in_the_database(tmp_path: Path):
    hub = serve_api(tmp_path / "hub")
    try:
        throttle = hub.service.api.services["throttle"]
        assert isinstance(throttle.store, SqliteLoginFailures)
        attempt(hub.client(local_address=STRANGER), "admin", "wrong")
        keys = {key for key, _count, _last in throttle.store.load(100)}
        assert keys == {f"pair:admin\0{STRANGER}", f"addr:{STRANGER}"}
    finally:
        hub.close()


@pytest.fixture
def hub(tmp_path: Path):
    api = serve_api(tmp_path / "hub")
    yield api
    api.close()


def own_origin(hub) -> str:
    return hub.url.rstrip("/")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a data: page
        {"Referer": "https://evil.example/login-trap.html"},
        {"Origin": "http://127.0.0.1:1"},  # the right host, another port: another origin
    ],
    ids=["other-site", "null-origin", "other-site-referer", "other-port"],
)
def test_a_login_posted_from_another_origin_is_403_and_sets_no_cookie(hub, headers):
    response = attempt(hub.client(), "officer", hub.passwords["officer"], **headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert hub.storage.audit.entries(action="login") == []
    assert [e.detail for e in hub.storage.audit.entries(action="login.cross_origin")] == [
        "127.0.0.1"
    ]


def test_a_login_from_the_hubs_own_page_or_from_a_script_signs_in(hub):
    own = {"Origin": own_origin(hub)}
    referer = {"Referer": hub.url + "?view=incidents"}
    for headers in (own, referer, {}):
        response = attempt(hub.client(), "officer", hub.passwords["officer"], **headers)
        assert response.status_code == 200, (headers, response.text)
        assert "vw_session=" in response.headers["set-cookie"]
