"""The patrol's phone (360 px, real Chromium) takes an order, loses the network, taps
"on scene", and gets it back: the hub stores the tap's own time, not the time it heard it.

The tap waits in IndexedDB (hub/web/static/tap_queue.js), shared by the page and the
service worker: it is sent when the page sees the network return, by the service worker's
Background Sync even after the page was closed, and, where the browser has no Background
Sync, by the page the next time it is opened."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hub_helpers import login, wait_for
from officer_kit import SMALL_PHONE, add_user, browser, hub, open_page, sign_in
from playwright.sync_api import Page, expect
from test_officer_incidents import raise_intrusion

from hub.domain.users import Role

pytestmark = [pytest.mark.browser, pytest.mark.mosquitto]
__all__ = ["browser", "hub"]  # the fixtures, imported for pytest

#: Chromium logs the requests that fail while offline; nothing else may go wrong.
OFFLINE_NOISE = ("ERR_INTERNET_DISCONNECTED",)


@dataclass
class Order:
    boss: httpx.Client
    incident_id: str
    unit_id: str
    password: str  # the patrol "pat"'s

    def on_scene_at(self) -> str | None:
        return self.boss.get(f"/api/incidents/{self.incident_id}/assignments").json()[0][
            "on_scene_at"
        ]


@pytest.fixture
def order(hub, mosquitto) -> Iterator[Order]:
    """Unit P-01 (patrol "pat", placed 5 s ago) and an acknowledged incident from a camera."""
    boss = login(hub.url, "sue", add_user(hub, "sue", Role.SUPERVISOR))
    password = add_user(hub, "pat", Role.PATROL)
    unit = boss.post("/api/units", json={"callsign": "P-01", "kind": "foot", "members": ["pat"]})
    assert unit.status_code in (200, 201), unit.text
    at = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    with contextlib.closing(login(hub.url, "pat", password)) as patrol:
        r = patrol.post("/api/positions", json={"lat": 51.4862, "lon": -0.1248, "at": at})
        assert r.status_code in (200, 201), r.text
    _, incident_id = raise_intrusion(mosquitto, hub)
    r = boss.post(f"/api/incidents/{incident_id}/transitions", json={"action": "acknowledge"})
    assert r.status_code == 200, r.text
    yield Order(boss, incident_id, unit.json()["id"], password)
    boss.close()


def dispatch_and_drive_to_the_scene(page: Page, order: Order) -> str:
    """The desk sends P-01; the phone rings, accepts and goes en route. → the assignment id."""
    r = order.boss.post(
        f"/api/incidents/{order.incident_id}/dispatch", json={"unit_id": order.unit_id}
    )
    assert r.status_code in (200, 201), r.text
    nxt = page.locator("#patrol-next")
    expect(nxt).to_have_text("Accept order")
    expect(page.locator("body")).to_have_attribute("data-orders", "1")  # the alarm rang
    nxt.click()
    expect(nxt).to_have_text("En route")
    nxt.click()
    expect(nxt).to_have_text("On scene")
    expect(page.locator("#patrol-queued")).to_be_hidden()
    return r.json()["id"]


def tap_on_scene_offline(page: Page) -> datetime:
    """No network: "on scene" is tapped, shown at once, and queued. → the tap's time."""
    page.context.set_offline(True)
    page.wait_for_function("!navigator.onLine")  # the browser knows before the tap is made
    page.locator("#patrol-next").click()
    expect(page.locator("#patrol-state")).to_have_text("on scene")
    expect(page.locator("#patrol-queued")).to_be_visible()
    queued = page.evaluate("TapQueue.all()")
    assert [q["step"] for q in queued] == ["on_scene"]
    return datetime.fromisoformat(queued[0]["at"].replace("Z", "+00:00"))


def stored_time(order: Order) -> datetime:
    # A generous bound: on a loaded machine Chromium may take a while to wake the worker.
    stored = wait_for(order.on_scene_at, timeout=30, what="the on-scene time")
    return datetime.fromisoformat(stored.replace("Z", "+00:00"))


def test_a_step_tapped_offline_keeps_its_tap_time(browser, hub, order: Order) -> None:
    with open_page(browser, SMALL_PHONE) as (page, problems):
        sign_in(page, hub.url, "pat", order.password, problems)
        expect(page.locator("#patrol-view")).to_be_visible()
        assignment_id = dispatch_and_drive_to_the_scene(page, order)
        tapped = tap_on_scene_offline(page)

        page.context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        expect(page.locator("#patrol-queued")).to_be_hidden()
        assert stored_time(order) == tapped
        assignments = order.boss.get(f"/api/incidents/{order.incident_id}/assignments").json()
        assert [a["id"] for a in assignments] == [assignment_id]
        assert [p for p in problems if not any(n in p for n in OFFLINE_NOISE)] == []


def test_the_service_worker_sends_a_queued_tap_after_the_page_was_closed(
    browser, hub, order: Order
) -> None:
    with open_page(browser, SMALL_PHONE) as (page, problems):
        sign_in(page, hub.url, "pat", order.password, problems)
        assert page.evaluate("navigator.serviceWorker.ready.then((r) => Boolean(r.sync))")
        dispatch_and_drive_to_the_scene(page, order)
        tapped = tap_on_scene_offline(page)
        context = page.context
        page.close()  # the phone's browser is closed in the tunnel

        context.set_offline(False)  # no page: Background Sync wakes the service worker
        assert stored_time(order) == tapped

        again = context.new_page()
        again.goto(hub.url)  # still signed in (the session cookie)
        expect(again.locator("#patrol-state")).to_have_text("on scene")
        expect(again.locator("#patrol-queued")).to_be_hidden()
        assert again.evaluate("TapQueue.all()") == []
        assert [p for p in problems if not any(n in p for n in OFFLINE_NOISE)] == []


def test_without_background_sync_the_queue_survives_a_reload_and_is_sent(
    browser, hub, order: Order
) -> None:
    with open_page(browser, SMALL_PHONE) as (page, problems):
        # A browser with no Background Sync (Firefox, Safari): only the page can send.
        page.context.add_init_script(
            "Object.defineProperty(ServiceWorkerRegistration.prototype, 'sync', "
            "{ get: () => undefined })"
        )
        sign_in(page, hub.url, "pat", order.password, problems)
        dispatch_and_drive_to_the_scene(page, order)
        tapped = tap_on_scene_offline(page)
        context = page.context
        page.close()
        context.set_offline(False)
        assert order.on_scene_at() is None  # nothing asked the worker to send it

        again = context.new_page()
        again.goto(hub.url)  # the page opens again: its queue is still there, and goes out
        expect(again.locator("#patrol-state")).to_have_text("on scene")
        assert stored_time(order) == tapped
        expect(again.locator("#patrol-queued")).to_be_hidden()
        assert [p for p in problems if not any(n in p for n in OFFLINE_NOISE)] == []
