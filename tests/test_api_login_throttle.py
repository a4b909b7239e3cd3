"""The login throttle over real HTTP. Failures slow down the (username, address) pair and an
address spraying many usernames, never the real user signing in from elsewhere; the waits
are measured on the throttle's clock (a ManualClock here, no sleeping), and twenty wrong
attempts sent at once cannot slip past it.

Requests come from different loopback addresses (127.0.0.2, 127.0.0.3 ...): Linux routes all
of 127/8 to the loopback interface, so the hub sees real, distinct client addresses.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest
from hub_helpers import serve_api

from hub.api.auth import LoginThrottle
from hub.clock import ManualClock
from hub.storage.sqlite.throttle import SqliteLoginFailures

STRANGER, SPRAYER = "127.0.0.2", "127.0.0.3"


@pytest.fixture
def hub(tmp_path: Path, clock: ManualClock):
    api = serve_api(tmp_path / "hub", clock=clock)
    yield api
    api.close()


@pytest.fixture
def throttle(hub) -> LoginThrottle:
    """The hub's own throttle (on the hub's clock): 3 free failures, then 1 s, 2 s, 4 s ..."""
    return hub.service.api.services["throttle"]


def attempt(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/api/login", json={"username": username, "password": password})


def test_a_stranger_guessing_a_password_does_not_lock_out_the_real_user(hub):
    stranger = hub.client(local_address=STRANGER)
    guesses = [attempt(stranger, "officer", f"guess-{i}").status_code for i in range(4)]
    assert guesses == [401, 401, 401, 429]
    # Even the right password is refused to the guesser while the wait lasts...
    assert attempt(stranger, "officer", hub.passwords["officer"]).status_code == 429
    # ...while the officer on their own phone signs in at once.
    officer = hub.client()
    assert attempt(officer, "officer", hub.passwords["officer"]).status_code == 200
    # The hub saw both addresses for what they are.
    failed = {e.detail for e in hub.storage.audit.entries(action="login.failed")}
    assert failed == {STRANGER}
    assert [e.detail for e in hub.storage.audit.entries(action="login")] == ["127.0.0.1"]


def test_each_further_failure_doubles_the_wait_on_the_throttles_clock(hub, clock):
    client = hub.client(local_address=STRANGER)
    for _ in range(3):  # the free attempts
        assert attempt(client, "viewer", "wrong").status_code == 401
    retry_after = []
    for wait_s in (1, 2, 4):
        refused = attempt(client, "viewer", "wrong")
        assert refused.status_code == 429
        retry_after.append(int(refused.headers["retry-after"]))
        clock.advance(seconds=wait_s - 0.001)
        assert attempt(client, "viewer", "wrong").status_code == 429  # not yet
        clock.advance(seconds=0.001)
        assert attempt(client, "viewer", "wrong").status_code == 401  # tried, and wrong
    assert retry_after == [2, 3, 5]  # whole seconds, rounded up
    clock.advance(seconds=8)
    # The right password after the wait signs in and forgets the pair's failures.
    assert attempt(client, "viewer", hub.passwords["viewer"]).status_code == 200
    assert attempt(client, "viewer", "wrong").status_code == 401


def test_an_address_spraying_many_usernames_is_slowed_down(hub, throttle):
    sprayer = hub.client(local_address=SPRAYER)
    per_address = throttle.free * 3
    names = [f"user{i}" for i in range(per_address)]
    assert {attempt(sprayer, name, "Winter2026!").status_code for name in names} == {401}
    # One more name, even a real one with its real password: the address must wait.
    assert attempt(sprayer, "new-name", "Winter2026!").status_code == 429
    assert attempt(sprayer, "viewer", hub.passwords["viewer"]).status_code == 429
    # Nobody else is slowed by it.
    assert attempt(hub.client(), "viewer", hub.passwords["viewer"]).status_code == 200
    throttled = hub.storage.audit.entries(action="login.throttled")
    assert {e.detail for e in throttled} == {SPRAYER} and len(throttled) == 2


def test_twenty_concurrent_wrong_attempts_let_at_most_free_reach_the_password_check(hub, throttle):
    # The hub's own throttle writes every count through to SQLite, under its lock.
    assert isinstance(throttle.store, SqliteLoginFailures)
    clients = [hub.client() for _ in range(20)]
    start = threading.Barrier(len(clients))
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(client: httpx.Client) -> None:
        start.wait()
        status = attempt(client, "admin", "not-the-password").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=guess, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(statuses)
    # The clock never moved, so exactly the free attempts were checked; the rest waited.
    assert counts == {401: throttle.free, 429: 20 - throttle.free}, counts
    assert len(hub.storage.audit.entries(action="login.failed")) == throttle.free
    assert len(hub.storage.audit.entries(action="login.throttled")) == 20 - throttle.free
