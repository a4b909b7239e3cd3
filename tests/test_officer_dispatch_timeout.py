"""The duty desk in real Chromium when a unit does not answer, and when a unit calls for
help: an order not accepted in time (the hub's clock moved past ``accept_timeout_s``, the
time-out worker ticked) shows the desk a banner and puts the next unit on top; "need
backup" on the patrol's phone opens a second assignment on the same incident, on the desk
at once. No waiting: the hub runs on a manual clock the browsers follow."""

from __future__ import annotations

import pytest
from officer_kit import browser
from playwright.sync_api import expect
from test_officer_dispatch_loop import (
    LoopHub,
    desk_and_phone,
    loop_hub,
    open_incident_and_acknowledge,
    suggestion,
    tap,
)
from test_officer_incidents import raise_intrusion

pytestmark = [pytest.mark.browser, pytest.mark.mosquitto]
__all__ = ["browser", "loop_hub"]  # the fixtures, imported for pytest


def test_an_order_not_accepted_in_time_tells_the_desk_and_suggests_the_next_unit(
    browser, loop_hub: LoopHub, mosquitto
) -> None:
    hub = loop_hub
    first, password = hub.patrol_unit("P-01", "pat", metres_north=300)
    second, _ = hub.patrol_unit("P-02", "pete", metres_north=900)
    timeout_s = hub.service.config.hub.dispatch.accept_timeout_s
    with desk_and_phone(browser, hub, "pat", password) as (desk, phone, desk_pb, phone_pb):
        _, incident_id = raise_intrusion(mosquitto, hub.service)
        open_incident_and_acknowledge(desk, incident_id)
        expect(desk.locator("#suggestions li.suggestion").first).to_have_attribute(
            "data-callsign", "P-01"
        )
        suggestion(desk, "P-01").get_by_role("button", name="Dispatch P-01").click()
        expect(phone.locator("body")).to_have_attribute("data-orders", "1")
        expect(desk.locator("#dispatch-banner")).to_be_hidden()

        hub.clocks.advance(timeout_s + 1)  # nobody taps "Accept order"
        hub.expire_unaccepted()  # the worker's tick (its own thread may have been first)
        states = [
            a["state"] for a in hub.boss.get(f"/api/incidents/{incident_id}/assignments").json()
        ]
        assert states == ["timed_out"]

        banner = desk.locator("#dispatch-banner")
        expect(banner).to_be_visible()
        expect(banner).to_have_text("P-01 did not accept in time: send the next unit.")
        top = desk.locator("#suggestions li.suggestion").first
        expect(top).to_have_attribute("data-callsign", "P-02")
        expect(top.get_by_role("button", name="Dispatch P-02")).to_have_class("btn btn-primary")
        expect(suggestion(desk, "P-01")).to_have_count(0)  # passed: not offered again
        timed_out = desk.locator(f'#assignments li.assignment[data-unit="{first["id"]}"]')
        expect(timed_out).to_have_attribute("data-state", "timed_out")
        expect(phone.locator("#patrol-none")).to_be_visible()  # the order left the phone
        assert second["availability"] == "available"  # as created, before the order
        assert hub.unit("P-02")["availability"] == "available"  # still: suggested, not sent
        assert desk_pb == [] and phone_pb == []


def test_need_backup_on_the_phone_sends_a_second_unit_to_the_same_incident(
    browser, loop_hub: LoopHub, mosquitto
) -> None:
    hub = loop_hub
    first, password = hub.patrol_unit("P-01", "pat", metres_north=300)
    second, _ = hub.patrol_unit("P-02", "pete", metres_north=900)
    with desk_and_phone(browser, hub, "pat", password) as (desk, phone, desk_pb, phone_pb):
        _, incident_id = raise_intrusion(mosquitto, hub.service)
        open_incident_and_acknowledge(desk, incident_id)
        suggestion(desk, "P-01").get_by_role("button", name="Dispatch P-01").click()
        hub.clocks.advance(5)
        tap(phone, "Accept order")
        expect(phone.locator("#patrol-next")).to_have_text("En route")
        hub.clocks.advance(5)
        phone.click("#patrol-backup")

        backup = desk.locator(f'#assignments li.assignment[data-unit="{second["id"]}"]')
        expect(backup).to_have_attribute("data-state", "dispatched")
        expect(backup).to_contain_text("P-02")
        expect(backup).to_contain_text("(backup)")
        mine = desk.locator(f'#assignments li.assignment[data-unit="{first["id"]}"]')
        expect(mine).to_have_attribute("data-state", "accepted")
        expect(desk.locator("#assignments li.assignment")).to_have_count(2)
        expect(phone.locator("#patrol-next")).to_have_text("En route")  # still P-01's order
        assignments = hub.boss.get(f"/api/incidents/{incident_id}/assignments").json()
        by_unit = {a["unit_id"]: a for a in assignments}
        assert by_unit[second["id"]]["backup_for"] == by_unit[first["id"]]["id"]
        assert {a["incident_id"] for a in assignments} == {incident_id}
        assert desk_pb == [] and phone_pb == []
