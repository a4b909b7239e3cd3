"""The officer page's live feed and alarm in a real Chromium, fed by a real hub (pinging every
second) and a real mosquitto: a stalled connection is noticed and resumed without losing an
alert, the sound choice is remembered, and an escalated incident alarms until acknowledged."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hub_helpers import NodeClient, make_alert, wait_for
from officer_kit import (
    DESK,
    PHONE,
    SITE,
    StallingProxy,
    add_user,
    browser,
    hub,
    open_page,
    sign_in,
    start_officer_hub,
)
from playwright.sync_api import Browser, Page, expect

from contract.hub_settings import EscalationSettings, EscalationTier
from contract.protocol import Severity, alert_topic, encode
from hub.clock import ManualClock
from hub.domain.users import Role
from hub.escalation import EscalationWorker
from hub.notify.service import NotificationService

pytestmark = [pytest.mark.browser, pytest.mark.mosquitto]
__all__ = ["browser", "hub"]  # the fixtures, imported for pytest


def chimes(page: Page, counter: str = "chimes") -> int:
    """How often the page decided to chime (sound on or off)."""
    return int(page.evaluate(f"document.body.dataset.{counter} || '0'"))


def test_a_stalled_stream_says_reconnecting_and_the_alerts_it_missed_arrive_as_new(
    mosquitto, hub, browser: Browser
):
    with (
        contextlib.closing(StallingProxy(hub.web.port)) as proxy,
        open_page(browser, PHONE) as (page, problems),
    ):
        conn = page.locator("#conn")
        sign_in(page, proxy.url, "ana", add_user(hub, "ana"), problems)
        page.click("#tab-alerts")
        gw = NodeClient(mosquitto.provision("gw-plaza"), client_id="gw-plaza")
        first = make_alert(seq=0)
        gw.publish(alert_topic("vw", SITE, "gw-plaza"), encode(first))
        expect(page.locator(f'li.card[data-id="{first.id}"]')).to_have_class(re.compile(r"\bnew\b"))
        before = chimes(page)

        # The link goes silent (no error, no close): after two missed pings the page stops
        # claiming "Live" and opens a new stream (which stalls too, for now).
        proxy.stall()
        expect(conn).to_have_attribute("data-state", "reconnecting")
        expect(page.locator("#conn-label")).to_have_text("Reconnecting")
        missed = [make_alert(seq=n, severity=Severity.CRITICAL) for n in (1, 2, 3)]
        for alert in missed:
            gw.publish(alert_topic("vw", SITE, "gw-plaza"), encode(alert))
        wait_for(lambda: hub.storage.alerts.count() == 4, what="the hub storing all four")

        # The link comes back: the new stream resumes after the last event the page saw.
        proxy.flow()
        expect(conn).to_have_attribute("data-state", "live")
        for alert in missed:
            card = page.locator(f'li.card[data-id="{alert.id}"]')
            expect(card).to_have_class(re.compile(r"\bnew\b"))  # highlighted like live ones
            expect(card).to_have_attribute("data-severity", "critical")
        expect(page.locator("li.card").first).to_have_attribute("data-id", missed[-1].id)
        expect(page.locator("#alert-count")).to_have_text("(4)")
        assert chimes(page) > before
        resumed = [e.detail for e in hub.storage.audit.entries(100, action="events.subscribe")]
        assert any(resumed), "the page never asked the hub to resume after an event id"
        assert problems == []


def test_alerts_sent_while_the_hub_restarted_show_up_as_new_once_it_is_back(
    mosquitto, tmp_path: Path, browser: Browser
):
    first_run = start_officer_hub(mosquitto, tmp_path / "hub")
    port = first_run.web.port
    second_run = None
    try:
        with open_page(browser, PHONE) as (page, problems):
            sign_in(page, first_run.url, "ana", add_user(first_run, "ana"), problems)
            page.click("#tab-alerts")
            gw = NodeClient(mosquitto.provision("gw-plaza"), client_id="gw-plaza")
            gw.publish(alert_topic("vw", SITE, "gw-plaza"), encode(make_alert(seq=0)))
            expect(page.locator("li.card")).to_have_count(1)

            first_run.stop()
            expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
            # The broker keeps these for the hub's session while it is away.
            missed = [make_alert(seq=n) for n in (1, 2)]
            for alert in missed:
                gw.publish(alert_topic("vw", SITE, "gw-plaza"), encode(alert))

            # Same data, same address: the session still holds, but the new run's event ids do
            # not continue the old ones, so the hub says resync and the page asks the API.
            second_run = start_officer_hub(mosquitto, tmp_path / "hub", port=port)
            expect(page.locator("#conn")).to_have_attribute("data-state", "live")
            for alert in missed:
                card = page.locator(f'li.card[data-id="{alert.id}"]')
                expect(card).to_have_class(re.compile(r"\bnew\b"))
            expect(page.locator("#alert-count")).to_have_text("(3)")
            # While the hub was away, Chromium logged the refused connections.
            assert [p for p in problems if "ERR_CONNECTION_REFUSED" not in p] == []
    finally:
        first_run.stop()
        if second_run is not None:
            second_run.stop()


def test_the_sound_choice_survives_a_reload_and_a_silent_duty_desk_is_told(hub, browser: Browser):
    with open_page(browser, DESK) as (page, problems):
        toggle, banner = page.locator("#sound-toggle"), page.locator("#sound-banner")
        sign_in(page, hub.url, "ben", add_user(hub, "ben"), problems)
        expect(toggle).to_have_text("Sound off")
        expect(banner).to_be_visible()
        page.click("#sound-banner-on")
        expect(toggle).to_have_text("Sound on")
        expect(toggle).to_have_attribute("aria-pressed", "true")
        expect(banner).to_be_hidden()

        page.reload()
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        expect(toggle).to_have_text("Sound on")
        expect(banner).to_be_hidden()

        toggle.click()
        expect(banner).to_be_visible()
        page.reload()
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        expect(toggle).to_have_text("Sound off")
        expect(banner).to_be_visible()
        assert problems == []

    # A viewer (no duty desk) is not nagged about sound.
    with open_page(browser, PHONE) as (page, _):
        sign_in(page, hub.url, "vera", add_user(hub, "vera", Role.VIEWER))
        expect(page.locator("#sound-toggle")).to_have_text("Sound off")
        expect(page.locator("#sound-banner")).to_be_hidden()
        expect(page.locator("#new-call")).to_be_hidden()


def test_an_escalated_incident_alarms_again_and_again_until_someone_acknowledges_it(
    mosquitto, hub, browser: Browser
):
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "ben", add_user(hub, "ben"), problems)
        page.click("#sound-toggle")
        gw = NodeClient(mosquitto.provision("gw-plaza"), client_id="gw-plaza")
        alert = make_alert(seq=0, severity=Severity.CRITICAL)
        gw.publish(alert_topic("vw", SITE, "gw-plaza"), encode(alert))
        row = page.locator("#queue li.incident").first
        expect(row).to_have_attribute("data-state", "new")
        assert page.evaluate("document.body.dataset.alarm || ''") == ""

        # The hub's escalation rule, on a clock that starts when the incident opened.
        (incident,) = hub.storage.incidents.unacknowledged()
        clock = ManualClock(incident.opened_at)
        settings = EscalationSettings(tiers=[EscalationTier(name="station supervisors")])
        notifications = NotificationService(hub.storage, clock, [])
        escalation = EscalationWorker(hub.storage, hub.bus, settings, clock, notifications)
        clock.advance(seconds=30)  # critical: 30 s without an acknowledgement
        assert len(escalation.tick()) == 1
        expect(row).to_have_class(re.compile(r"\bescalated\b"))
        expect(page.locator("body")).to_have_attribute("data-alarm", "urgent")
        page.wait_for_function(
            "() => Number(document.body.dataset.urgentChimes) >= 2"
        )  # it repeats

        page.keyboard.press("a")
        expect(row).to_have_attribute("data-state", "acknowledged")
        expect(page.locator("body")).to_have_attribute("data-alarm", "")
        assert problems == []
