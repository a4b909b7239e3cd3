"""The 110 loop end to end in real Chromium: a node's alert becomes an incident on the duty
desk (a desktop window), the desk acknowledges it and sends the suggested unit with one click,
the patrol's phone (360 px, another browser context) rings and works the order to the end,
and the desk sees every unit's segment times, the incident resolved and the report's timings.

Time is injected: the hub runs on a :class:`ManualClock`, and both browsers' ``Date`` are
pinned to it (Playwright's clock, timers still run), so every stored time is the one the
test chose and no test waits on the wall clock."""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from dispatch_kit import PLAZA, north_of
from hub_helpers import example_config, login
from officer_kit import DESK, SMALL_PHONE, add_user, browser, open_page, sign_in
from playwright.sync_api import BrowserContext, Page, expect
from test_officer_incidents import raise_intrusion

from contract.protocol import NodeRole
from hub.clock import ManualClock
from hub.domain.users import Role
from hub.service import HubService

pytestmark = [pytest.mark.browser, pytest.mark.mosquitto]
__all__ = ["browser"]  # the fixture, imported for pytest


@dataclass
class Clocks:
    """The hub's clock and the browsers' ``Date``, moved together."""

    hub: ManualClock
    contexts: list[BrowserContext] = field(default_factory=list)

    def follow(self, context: BrowserContext) -> None:
        """``context``'s pages see the hub's time from now on (timers keep running)."""
        context.clock.set_fixed_time(self.hub())
        self.contexts.append(context)

    def advance(self, seconds: float) -> datetime:
        now = self.hub.advance(seconds=seconds)
        for context in self.contexts:
            context.clock.set_fixed_time(now)
        return now


@dataclass
class LoopHub:
    service: HubService
    clocks: Clocks
    boss: httpx.Client  # a supervisor over HTTP, for setting up and checking

    @property
    def url(self) -> str:
        return self.service.url

    def patrol_unit(self, callsign: str, username: str, metres_north: float) -> tuple[dict, str]:
        """A foot unit with one patrol member, placed ``metres_north`` of the plaza by its
        own phone 5 s ago (fresh); returns (unit, the member's password)."""
        password = add_user(self.service, username, Role.PATROL)
        r = self.boss.post(
            "/api/units", json={"callsign": callsign, "kind": "foot", "members": [username]}
        )
        assert r.status_code == 201, r.text
        lat, lon = north_of(PLAZA, metres_north)
        at = (self.clocks.hub() - timedelta(seconds=5)).isoformat()
        with contextlib.closing(login(self.url, username, password)) as phone:
            r = phone.post("/api/positions", json={"lat": lat, "lon": lon, "at": at})
            assert r.status_code == 201, r.text
        return self.unit(callsign), password

    def unit(self, callsign: str) -> dict:
        return next(u for u in self.boss.get("/api/units").json() if u["callsign"] == callsign)

    def expire_unaccepted(self) -> list:
        """One tick of the hub's accept time-out worker (it also runs every second)."""
        return self.service.dispatch.expire_unaccepted()


@pytest.fixture
def loop_hub(mosquitto, tmp_path: Path) -> Iterator[LoopHub]:
    """The example site's hub on real mosquitto and SQLite, on a manual clock started now
    (whole seconds: the browsers' clocks keep milliseconds)."""
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    service = HubService(
        example_config(),
        mosquitto.connection("hub", NodeRole.HUB),
        tmp_path / "hub",
        "127.0.0.1",
        0,
        clock=clock,
        heartbeat_s=1.0,
    )
    service.start()
    assert service.wait_ready(10), "hub never subscribed"
    boss = login(service.url, "sue", add_user(service, "sue", Role.SUPERVISOR))
    try:
        yield LoopHub(service, Clocks(clock), boss)
    finally:
        boss.close()
        service.stop()


@contextlib.contextmanager
def desk_and_phone(browser, hub: LoopHub, patrol: str, password: str):
    """The duty desk (supervisor "sue", desktop) and a patrol's phone (360 px), both signed
    in, both on the hub's clock."""
    desk_password = add_user(hub.service, "dora", Role.SUPERVISOR)
    with (
        open_page(browser, DESK) as (desk, desk_problems),
        open_page(browser, SMALL_PHONE) as (phone, phone_problems),
    ):
        hub.clocks.follow(desk.context)
        hub.clocks.follow(phone.context)
        sign_in(desk, hub.url, "dora", desk_password, desk_problems)
        sign_in(phone, hub.url, patrol, password, phone_problems)
        expect(phone.locator("#patrol-view")).to_be_visible()
        expect(phone.locator("#patrol-none")).to_be_visible()
        yield desk, phone, desk_problems, phone_problems


def open_incident_and_acknowledge(desk: Page, incident_id: str) -> None:
    row = desk.locator(f'#queue li.incident[data-id="{incident_id}"]')
    expect(row).to_have_attribute("data-state", "new")
    row.locator(".inc-main").click()
    desk.click('#incident-actions button[data-action="acknowledge"]')
    expect(desk.locator("#incident")).to_have_attribute("data-state", "acknowledged")


def suggestion(desk: Page, callsign: str):
    return desk.locator(f'#suggestions li.suggestion[data-callsign="{callsign}"]')


def tap(phone: Page, label: str) -> None:
    """The patrol's one big button, showing ``label``."""
    button = phone.locator("#patrol-next")
    expect(button).to_have_text(label)
    button.click()


def test_an_alert_is_answered_by_the_nearest_unit_from_desk_to_phone_and_back(
    browser, loop_hub: LoopHub, mosquitto
) -> None:
    hub, clocks = loop_hub, loop_hub.clocks
    unit, password = hub.patrol_unit("P-01", "pat", metres_north=300)
    with desk_and_phone(browser, hub, "pat", password) as (desk, phone, desk_pb, phone_pb):
        # A camera node's alert (through mosquitto) becomes an incident on the desk.
        _, incident_id = raise_intrusion(mosquitto, hub.service)
        clocks.advance(10)
        open_incident_and_acknowledge(desk, incident_id)

        # The unit is suggested with its estimated travel time; one click sends it.
        ranked = hub.boss.get(f"/api/incidents/{incident_id}/suggestions").json()
        eta_s = ranked[0]["eta_s"]
        row = suggestion(desk, "P-01")
        expect(row.locator(".eta")).to_have_text(f"ETA ~{int(eta_s) // 60} min {int(eta_s) % 60} s")
        expect(row).to_have_attribute("data-stale", "false")
        dispatched = clocks.advance(10)
        row.get_by_role("button", name="Dispatch P-01").click()
        assignment = desk.locator(f'#assignments li.assignment[data-unit="{unit["id"]}"]')
        expect(assignment).to_have_attribute("data-state", "dispatched")

        # The phone rings once and shows the order; the patrol works it step by step.
        expect(phone.locator("body")).to_have_attribute("data-orders", "1")
        expect(phone.locator("#patrol-order")).to_be_visible()
        expect(phone.locator("#patrol-nav")).to_have_attribute("href", re.compile(r"^geo:"))
        clocks.advance(5)
        tap(phone, "Accept order")
        expect(assignment).to_have_attribute("data-state", "accepted")
        clocks.advance(5)
        tap(phone, "En route")
        expect(assignment).to_have_attribute("data-state", "en_route")
        arrived = clocks.advance(150)
        tap(phone, "On scene")
        expect(assignment).to_have_attribute("data-state", "on_scene")
        expect(desk.locator("#incident")).to_have_attribute("data-state", "on_scene")
        clocks.advance(60)
        tap(phone, "Resolve\u2026")
        phone.check('#patrol-resolve input[value="arrest"]')
        phone.fill("#patrol-note", "one detained at the kiosk")
        phone.click("#patrol-resolve-confirm")
        expect(phone.locator("#patrol-none")).to_be_visible()

        # The desk: resolved, the unit's segment times, its travel time (dispatch → on scene).
        expect(desk.locator("#incident")).to_have_attribute("data-state", "resolved")
        expect(desk.locator("#incident-state")).to_have_text("resolved (arrest)")
        expect(assignment).to_have_attribute("data-state", "resolved")
        travel = int((arrived - dispatched).total_seconds())
        expect(assignment.locator(".travel")).to_have_text(
            f" \u00b7 travel {travel // 60} min {travel % 60} s"
        )
        for label in ("dispatched", "accepted", "en route", "on scene", "ended"):
            expect(assignment.locator(".segments")).to_contain_text(label)
        stored = hub.boss.get(f"/api/incidents/{incident_id}/assignments").json()[0]
        assert datetime.fromisoformat(stored["on_scene_at"]) == arrived
        assert datetime.fromisoformat(stored["dispatched_at"]) == dispatched

        # The report page shows the timings of the period (this one incident).
        desk.keyboard.press("Escape")
        desk.click("#tab-reports")
        expect(desk.locator('#report-rows tr[data-segment="travel"] td').nth(0)).to_have_text(
            "2 min 30 s"  # en route → on scene
        )
        # Each unit's travel (its dispatch → on scene), by unit kind and by area.
        travel_text = f"{travel // 60} min {travel % 60} s"
        for row in ('tr[data-all="all"]', 'tr[data-kind="foot"]', 'tr[data-area="plaza"]'):
            expect(desk.locator(f"#travel-rows {row} td").nth(0)).to_have_text(travel_text)
        expect(desk.locator('#travel-rows tr[data-area="plaza"] th')).to_have_text(
            "Central plaza and lawn"
        )
        # The heat map: one circle on the plan, where the incident was.
        expect(desk.locator("#report-heatmap path.heat-point")).to_have_count(1)
        expect(desk.locator("#report-heatmap-status")).to_have_text("1 incident on the map.")
        # The export: the incident and its unit with all their timings.
        with desk.expect_download() as download:
            desk.click("#report-csv")
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        incident_row = next(r for r in rows if r["record"] == "incident")
        unit_row = next(r for r in rows if r["record"] == "assignment")
        assert incident_row["state"] == "resolved" and incident_row["outcome"] == "arrest"
        assert float(incident_row["travel_s"]) == 150  # en route → on scene, the first unit
        assert (unit_row["unit"], unit_row["unit_kind"]) == ("P-01", "foot")
        assert float(unit_row["unit_travel_s"]) == travel
        assert unit_row["on_scene_at"].startswith(arrived.isoformat(timespec="milliseconds")[:23])
        assert desk_pb == []
        assert phone_pb == []
