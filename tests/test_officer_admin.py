"""The admin's and supervisor's parts of the officer page in a real Chromium against a real
hub: users (a generated password shown once, sessions ended, disabled and enabled again) and
the response-times panel."""

from __future__ import annotations

import contextlib
import re

import pytest
from hub_helpers import login
from officer_kit import DESK, PHONE, add_user, browser, hub, open_page, sign_in
from playwright.sync_api import Browser, Page, expect

from hub.domain.users import Role

pytestmark = [pytest.mark.browser, pytest.mark.mosquitto]
__all__ = ["browser", "hub"]  # the fixtures, imported for pytest


def shown_password(page: Page) -> str:
    """Read the password from its dialog and close it; it must be gone from the page."""
    dialog = page.locator("#secret-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#secret-done")).to_be_focused()
    password = page.locator("#secret-value").text_content()
    assert password
    page.click("#secret-done")
    expect(dialog).to_be_hidden()
    expect(page.locator("#secret-value")).to_have_text("")
    return password


def expect_signed_out(page: Page) -> None:
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text("sign in again")


def test_an_admin_creates_a_user_ends_her_sessions_resets_and_disables_her(hub, browser: Browser):
    with open_page(browser, DESK) as (admin, problems), open_page(browser, PHONE) as (carla, _):
        sign_in(admin, hub.url, "root", add_user(hub, "root", Role.ADMIN), problems)
        admin.click("#tab-admin")
        admin.fill("#new-user-name", "carla")
        admin.select_option("#new-user-role", "officer")
        admin.click("#new-user-form button[type=submit]")
        row = admin.locator('#users li[data-username="carla"]')
        password = shown_password(admin)
        expect(row).to_contain_text("officer")
        # A second carla is refused, and the hub's reason stays on screen once the list
        # has been drawn again (a mark on her row tells the old list from the new one).
        row.evaluate("li => { li.dataset.before = 'yes'; }")
        admin.fill("#new-user-name", "carla")
        admin.click("#new-user-form button[type=submit]")
        expect(row).not_to_have_attribute("data-before", "yes")
        expect(admin.locator("#admin-error")).to_have_text("user already exists")
        problems[:] = [p for p in problems if "409 (Conflict)" not in p]  # Chromium logs it

        # Carla signs in on her phone; the admin ends her sessions (a lost phone).
        sign_in(carla, hub.url, "carla", password)
        row.get_by_role("button", name="End every session of carla").click()
        expect_signed_out(carla)

        # A new password, shown once, works; disabling her ends that session too.
        row.get_by_role("button", name="Reset the password of carla").click()
        sign_in(carla, hub.url, "carla", shown_password(admin))
        row.get_by_role("button", name="Disable carla").click()
        expect(row).to_have_attribute("data-disabled", "true")
        expect_signed_out(carla)
        row.get_by_role("button", name="Enable carla").click()
        expect(row).to_have_attribute("data-disabled", "false")
        assert problems == []
        actions = {e.action for e in hub.storage.audit.entries(200) if e.username == "root"}
        assert {"user.create", "user.sessions_revoked", "user.password_reset"} <= actions
        assert {"user.disable", "user.enable"} <= actions


def test_a_supervisor_sees_response_times_per_step(hub, browser: Browser):
    # One call worked from acknowledgement to arrival, through the API.
    call = {
        "source": "call",
        "kind": "burglary",
        "severity": "major",
        "title": "Shed broken into",
        "location": {"area": "plaza"},
    }
    with contextlib.closing(login(hub.url, "ana", add_user(hub, "ana"))) as officer:
        incident = officer.post("/api/incidents", json=call).json()
        for action in ("acknowledge", "dispatch", "en_route", "arrive"):
            path = f"/api/incidents/{incident['id']}/transitions"
            r = officer.post(path, json={"action": action})
            assert r.status_code == 200, r.text

    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "sue", add_user(hub, "sue", Role.SUPERVISOR), problems)
        expect(page.locator("#tab-admin")).to_be_hidden()  # users are for admins only
        page.click("#tab-reports")
        rows = page.locator("#report-rows tr")
        expect(rows).to_have_count(5)
        first = rows.first
        expect(first.locator("th")).to_have_text("alert → acknowledged")
        expect(first.locator("td").nth(2)).to_have_text("1")  # incidents counted
        expect(first.locator("td").first).to_have_text(re.compile(r"^\d+ s$"))
        expect(page.locator("#report-mean")).to_contain_text("Mean from alert to arrival")
        assert problems == []
