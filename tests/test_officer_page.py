"""The officer page in a real Chromium on a phone-sized screen, fed by a real hub and a real
mosquitto: sign in, see an alert with its snapshot arrive live, see nodes come and go."""

from __future__ import annotations

import pytest
from hub_helpers import NodeClient, make_alert, snapshot_jpeg
from officer_kit import PHONE, SITE, add_user, browser, hub, open_page
from playwright.sync_api import Browser, expect

from contract.protocol import NodeRole, Severity, alert_topic, encode, snapshot_topic

pytestmark = [pytest.mark.browser, pytest.mark.mosquitto]
__all__ = ["browser", "hub"]  # the fixtures, imported for pytest


def test_officer_sees_live_alerts_with_snapshots_and_node_status_on_a_phone(
    mosquitto, hub, browser: Browser
):
    password = add_user(hub, "officer1")
    with open_page(browser, PHONE) as (page, problems):
        page.goto(hub.url)
        expect(page.locator("#login-form")).to_be_visible()
        # A wrong password is refused with a message, and nothing else is shown.
        page.fill("#login-username", "officer1")
        page.fill("#login-password", "not-my-password")
        page.click("#login-submit")
        expect(page.locator("#login-error")).to_contain_text("Wrong username or password")
        expect(page.locator("#main-view")).to_be_hidden()
        problems.clear()  # the 401 above is logged by Chromium as a console error

        page.fill("#login-password", password)
        page.click("#login-submit")
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        expect(page.locator("#site-name")).to_have_text("Riverside Compound")
        expect(page.locator("#whoami")).to_contain_text("officer1")
        page.click("#tab-alerts")  # the incident queue comes first; alerts are one tap away

        gw = NodeClient(mosquitto.provision("gw-plaza"), client_id="gw-plaza")
        door = NodeClient(mosquitto.provision("gate-door", NodeRole.SENSOR), client_id="gate-door")
        chip = page.locator('.node[data-node="gw-plaza"]')
        expect(chip).to_have_attribute("data-state", "online")
        expect(page.locator('.node[data-node="gate-door"]')).to_have_attribute(
            "data-state", "online"
        )

        # An intrusion with its snapshot, through the broker, shows up live.
        alert = make_alert(seq=0)
        gw.publish(alert_topic("vw", SITE, "gw-plaza"), encode(alert))
        card = page.locator(f'li.card[data-id="{alert.id}"]')
        expect(card).to_contain_text("Central plaza and lawn")
        expect(card).to_contain_text("zone lawn")
        expect(card).to_contain_text("camera plaza on gw-plaza")
        expect(card).to_have_attribute("data-severity", "major")
        gw.publish(snapshot_topic("vw", SITE, "gw-plaza", alert.id), snapshot_jpeg())
        thumb = card.locator(".thumb img")
        expect(thumb).to_be_visible()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
        )
        assert thumb.evaluate("img => img.naturalWidth") == 768

        # A door alert without a photo lands on top of the list.
        door_alert = make_alert(
            node="gate-door",
            seq=0,
            kind="door",
            severity=Severity.CRITICAL,
            area="north-gate",
            zone=None,
            camera=None,
            objects=[],
            frame_size=None,
            has_snapshot=False,
            message="north gate opened",
        )
        door.publish(alert_topic("vw", SITE, "gate-door"), encode(door_alert))
        first = page.locator("li.card").first
        expect(first).to_have_attribute("data-id", door_alert.id)
        expect(first).to_contain_text("North gate")
        expect(first.locator(".thumb-note")).to_have_text("No photo")
        expect(page.locator("#alert-count")).to_have_text("(2)")

        page.click("#sound-toggle")  # the user gesture that allows WebAudio
        expect(page.locator("#sound-toggle")).to_have_text("Sound on")
        page.screenshot(path="/tmp/officer_page.png")

        # Tapping the card opens the details pane with the full snapshot.
        card.locator(".card-main").tap()
        details = page.locator("#details")
        expect(details).to_be_visible()
        expect(page.locator("#details-fields")).to_contain_text("person 87%")
        page.wait_for_function("() => document.getElementById('details-img').naturalWidth > 0")
        page.screenshot(path="/tmp/officer_page_details.png")
        page.click("#details-close")
        expect(details).to_be_hidden()

        # Nodes going away: the gateway says goodbye, the door sensor crashes (its will).
        gw.stop()
        expect(chip).to_have_attribute("data-state", "offline")
        door.crash()
        expect(page.locator('.node[data-node="gate-door"]')).to_have_attribute(
            "data-state", "offline"
        )

        # Signing out drops the data from the page.
        page.click("#logout")
        expect(page.locator("#login-form")).to_be_visible()
        assert page.locator("li.card").count() == 0
        assert problems == []
        audit = {(e.username, e.action, e.target) for e in hub.storage.audit.entries(1000)}
        assert ("officer1", "snapshot.view", alert.id) in audit
