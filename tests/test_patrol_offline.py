"""The patrol's phone (360 px, real Chromium) takes an order, loses the network, taps
"on scene", and gets it back: the hub stores the tap's own time, not the time it heard it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub_helpers import login, wait_for
from officer_kit import SMALL_PHONE, add_user, browser, hub, open_page, sign_in
from playwright.sync_api import expect
from test_officer_incidents import raise_intrusion

from hub.domain.users import Role

__all__ = ["browser", "hub"]  # the fixtures, imported for pytest


def test_a_step_tapped_offline_keeps_its_tap_time(browser, hub, mosquitto) -> None:
    boss = login(hub.url, "sue", add_user(hub, "sue", Role.SUPERVISOR))
    pat_password = add_user(hub, "pat", Role.PATROL)
    patrol = login(hub.url, "pat", pat_password)
    unit = boss.post("/api/units", json={"callsign": "P-01", "kind": "foot", "members": ["pat"]})
    assert unit.status_code in (200, 201), unit.text
    at = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    r = patrol.post("/api/positions", json={"lat": 51.4862, "lon": -0.1248, "at": at})
    assert r.status_code in (200, 201), r.text
    _, incident_id = raise_intrusion(mosquitto, hub)
    r = boss.post(f"/api/incidents/{incident_id}/transitions", json={"action": "acknowledge"})
    assert r.status_code == 200, r.text

    with open_page(browser, SMALL_PHONE) as (page, problems):
        sign_in(page, hub.url, "pat", pat_password, problems)
        expect(page.locator("#patrol-view")).to_be_visible()
        r = boss.post(f"/api/incidents/{incident_id}/dispatch", json={"unit_id": unit.json()["id"]})
        assert r.status_code in (200, 201), r.text
        assignment_id = r.json()["id"]
        nxt = page.locator("#patrol-next")
        expect(nxt).to_have_text("Accept order")
        expect(page.locator("body")).to_have_attribute("data-orders", "1")  # the alarm rang
        nxt.click()
        expect(nxt).to_have_text("En route")
        nxt.click()
        expect(nxt).to_have_text("On scene")
        expect(page.locator("#patrol-queued")).to_be_hidden()

        page.context.set_offline(True)
        nxt.click()
        expect(page.locator("#patrol-queued")).to_be_visible()
        queued = page.evaluate("JSON.parse(localStorage.getItem('vw.patrol.queue'))")
        assert [q["step"] for q in queued] == ["on_scene"]
        tapped = datetime.fromisoformat(queued[0]["at"].replace("Z", "+00:00"))

        page.context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        expect(page.locator("#patrol-queued")).to_be_hidden()
        stored = wait_for(
            lambda: boss.get(f"/api/incidents/{incident_id}/assignments").json()[0]["on_scene_at"],
            what="the on-scene time",
        )
        assert datetime.fromisoformat(stored.replace("Z", "+00:00")) == tapped
        assert boss.get(f"/api/incidents/{incident_id}/assignments").json()[0]["id"] == (
            assignment_id
        )
        assert [p for p in problems if "ERR_INTERNET_DISCONNECTED" not in p] == []
