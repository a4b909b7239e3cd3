"""Officers working incidents on the officer page, in real Chromium windows fed by a real hub
and a real mosquitto: two officers see one incident move live, a 110 call becomes an
incident, and the dialogs behave for keyboard and screen-reader users.

The first test photographs the incident view on a phone; ``VW_WRITE_SCREENSHOTS=1`` saves
it as the README's docs/officer-incidents.png (otherwise it goes to the test's tmp_path)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hub_helpers import REPO, NodeClient, make_alert, snapshot_jpeg, wait_for
from officer_kit import DESK, PHONE, SITE, SMALL_PHONE, add_user, browser, hub, open_page, sign_in
from playwright.sync_api import Browser, Page, expect

from contract.protocol import alert_topic, encode, snapshot_topic

pytestmark = [pytest.mark.browser, pytest.mark.mosquitto]
__all__ = ["browser", "hub"]  # the fixtures, imported for pytest

SCREENSHOT = REPO / "docs" / "officer-incidents.png"


def raise_intrusion(mosquitto, hub) -> tuple[str, str]:
    """A camera intrusion with its snapshot, through the broker; returns (alert, incident)."""
    gw = NodeClient(mosquitto.provision("gw-plaza"), client_id="gw-plaza")
    alert = make_alert(seq=0)
    gw.publish(alert_topic("vw", SITE, "gw-plaza"), encode(alert))
    gw.publish(snapshot_topic("vw", SITE, "gw-plaza", alert.id), snapshot_jpeg())
    incident_id = wait_for(
        lambda: getattr(hub.storage.alerts.get(alert.id), "incident_id", None), what="an incident"
    )
    return alert.id, incident_id


def act(page: Page, action: str) -> None:
    page.click(f'#incident-actions button[data-action="{action}"]')


def test_two_officers_see_one_incident_acknowledged_worked_and_resolved_live(
    mosquitto, hub, browser: Browser, tmp_path: Path
):
    # Officer Ana on her phone, Ben at the desk.
    with open_page(browser, PHONE) as (a, problems_a), open_page(browser, DESK) as (b, problems_b):
        sign_in(a, hub.url, "ana", add_user(hub, "ana"), problems_a)
        sign_in(b, hub.url, "ben", add_user(hub, "ben"), problems_b)
        alert_id, incident_id = raise_intrusion(mosquitto, hub)

        row_a = a.locator(f'#queue li.incident[data-id="{incident_id}"]')
        row_b = b.locator(f'#queue li.incident[data-id="{incident_id}"]')
        for row in (row_a, row_b):
            expect(row).to_have_attribute("data-state", "new")
            expect(row.locator(".timer")).to_contain_text(re.compile(r"^new \d+ s"))
        expect(a.locator("#announcer")).to_contain_text("New major incident")

        # Ben watches the incident; Ana acknowledges it with one key from her queue.
        row_b.locator(".inc-main").click()
        incident_b = b.locator("#incident")
        expect(incident_b).to_have_attribute("data-state", "new")
        expect(b.locator("#ack-hint")).to_be_visible()  # the desk shows the key
        expect(b.locator("#ack-hint kbd")).to_have_text("a")
        a.keyboard.press("a")
        expect(row_a).to_have_attribute("data-state", "acknowledged")
        expect(incident_b).to_have_attribute("data-state", "acknowledged")  # live, no reload
        expect(b.locator("#incident-history")).to_contain_text("ana")

        # Ana opens it: the camera's alert with its snapshot; she dispatches and arrives.
        row_a.locator(".inc-main").click()
        expect(a.locator("#incident")).to_have_attribute("data-state", "acknowledged")
        snapshot = a.locator(f'#incident-alerts li[data-id="{alert_id}"] img')
        expect(snapshot).to_be_visible()
        act(a, "dispatch")
        expect(incident_b).to_have_attribute("data-state", "dispatched")
        act(a, "arrive")
        expect(incident_b).to_have_attribute("data-state", "on_scene")

        # A note and a photo from the scene reach Ben's screen as they are added.
        a.fill("#note-text", "Two youths on the lawn, talking to them")
        a.click("#note-form button[type=submit]")
        expect(b.locator("#incident-notes")).to_contain_text("talking to them")
        a.set_input_files(
            "#attachment-file",
            files=[{"name": "lawn.jpg", "mimeType": "image/jpeg", "buffer": snapshot_jpeg()}],
        )
        expect(b.locator("#incident-attachments li")).to_have_count(1)
        photo = a.locator("#incident-attachments img")
        expect(photo).to_have_count(1)
        a.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=photo.element_handle()
        )
        a.evaluate("document.getElementById('incident').scrollTop = 0")  # the top: state, actions
        a.screenshot(
            path=SCREENSHOT if os.environ.get("VW_WRITE_SCREENSHOTS") else tmp_path / "s.png"
        )

        # Both start to resolve; Ana is first, with her outcome. Ben's try is refused with
        # the hub's reason, and his screen already shows how it ended.
        act(b, "resolve")
        act(a, "resolve")
        a.check('#resolve-form input[value="handled"]')
        a.fill("#transition-note", "Sent home")
        a.click("#resolve-confirm")
        expect(incident_b).to_have_attribute("data-state", "resolved")
        expect(b.locator("#incident-state")).to_have_text("resolved (handled)")
        b.check('#resolve-form input[value="duplicate"]')
        b.click("#resolve-confirm")
        expect(b.locator("#incident-error")).to_contain_text("cannot resolve")
        history = a.locator("#incident-history")
        expect(history).to_contain_text("Sent home")
        expect(history).to_contain_text("outcome: handled")
        expect(history.locator("li.transition")).to_have_count(4)

        # Closed incidents leave the queue for "Recently closed", on both screens.
        b.keyboard.press("Escape")
        expect(incident_b).to_be_hidden()
        expect(row_b).to_have_count(0)
        closed = b.locator(f'#closed li.incident[data-id="{incident_id}"]')
        expect(closed).to_have_attribute("data-state", "resolved")
        expect(closed).to_contain_text("resolved (handled)")

        assert problems_a == []
        # Chromium logs the refused request itself; nothing else went wrong.
        assert [p for p in problems_b if "409" not in p] == []
        incident = hub.storage.incidents.get(incident_id)
        assert (incident.state, incident.outcome) == ("resolved", "handled")


def test_a_110_call_becomes_an_incident_on_a_360_px_phone(hub, browser: Browser):
    with open_page(browser, SMALL_PHONE) as (page, problems):
        sign_in(page, hub.url, "ana", add_user(hub, "ana"), problems)
        page.click("#new-call")
        expect(page.locator("#call-name")).to_be_focused()
        page.fill("#call-name", "Mrs Okafor")
        page.fill("#call-phone", "+44 7700 900123")
        page.select_option("#call-area", "north-gate")
        page.select_option("#call-kind", "suspicious_person")
        page.fill("#call-title-input", "Man trying car doors by the north gate")
        page.select_option("#call-severity", "critical")
        page.click("#call-submit")

        incident = page.locator("#incident")
        expect(incident).to_have_attribute("data-severity", "critical")
        expect(page.locator("#incident-title")).to_contain_text("trying car doors")
        fields = page.locator("#incident-fields")
        expect(fields).to_contain_text("Mrs Okafor, +44 7700 900123")
        expect(fields).to_contain_text("North gate")
        expect(fields).to_contain_text("phone call")
        page.keyboard.press("Escape")
        row = page.locator("#queue li.incident").first
        expect(row).to_have_attribute("data-severity", "critical")
        expect(row).to_contain_text("Man trying car doors")
        # Nothing sticks out sideways on the narrowest common phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert problems == []


def test_dialogs_take_the_focus_keep_it_and_give_it_back(mosquitto, hub, browser: Browser):
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "ben", add_user(hub, "ben"), problems)
        # Landmarks and one h1 for the whole page.
        assert page.locator("h1:visible").count() == 1
        for landmark in ("header", "nav", "main"):
            expect(page.locator(f"{landmark}:visible").first).to_be_visible()
        _, incident_id = raise_intrusion(mosquitto, hub)

        opener = page.locator(f'#queue li[data-id="{incident_id}"] .inc-main')
        opener.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#incident-close")).to_be_focused()
        for _ in range(40):  # Tab round the whole dialog, twice over: it stays inside
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.closest('dialog')?.id") == "incident"
        page.keyboard.press("Escape")
        expect(page.locator("#incident")).to_be_hidden()
        expect(opener).to_be_focused()

        # Times read "… ago"; a tap shows the exact time, and another tap goes back.
        opener.click()
        when = page.locator("#incident-fields button.when").first
        expect(when).to_contain_text(re.compile(r"just now|s ago"))
        when.click()
        expect(when).to_contain_text(re.compile(r"\d\d:\d\d:\d\d"))
        when.click()
        expect(when).to_contain_text(re.compile(r"just now|s ago"))

        # Every visible button has a name a screen reader can say.
        nameless = page.evaluate(
            """() => [...document.querySelectorAll('button')]
                .filter(b => b.offsetParent !== null)
                .filter(b => !(b.getAttribute('aria-label') || b.textContent).trim())
                .map(b => b.outerHTML)"""
        )
        assert nameless == []
        assert problems == []
