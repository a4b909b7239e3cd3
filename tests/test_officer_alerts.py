"""The alert list of the officer page in a real Chromium, over 120 real alerts that came
through a real mosquitto into a real hub: pages of 50 with "Load more", newest received
first, and filters that narrow the list on the hub's side."""

from __future__ import annotations

import pytest
from hub_helpers import NodeClient, make_alert, wait_for
from officer_kit import DESK, SITE, add_user, browser, hub, open_page, sign_in
from playwright.sync_api import Browser, Page, expect

from contract.protocol import Severity, alert_topic, encode

pytestmark = [pytest.mark.browser, pytest.mark.mosquitto]
__all__ = ["browser", "hub"]  # the fixtures, imported for pytest

SEVERITIES = [Severity.CRITICAL, Severity.MAJOR, Severity.MINOR]


def card_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("#alerts li.card", "cards => cards.map(c => c.dataset.id)")


def test_120_alerts_page_in_with_load_more_and_filters_narrow_them(
    mosquitto, hub, browser: Browser
):
    gw = NodeClient(mosquitto.provision("gw-plaza"), client_id="gw-plaza")
    alerts = [
        make_alert(
            seq=n,
            severity=SEVERITIES[n % 3],
            message="vehicle at the lawn" if n % 10 == 0 else "person in zone lawn",
        )
        for n in range(120)
    ]
    for alert in alerts:
        gw.publish(alert_topic("vw", SITE, "gw-plaza"), encode(alert))
    wait_for(lambda: hub.storage.alerts.count() == 120, what="all 120 alerts stored")

    with open_page(browser, DESK) as (page, problems):
        more = page.locator("#load-more")
        sign_in(page, hub.url, "ben", add_user(hub, "ben"), problems)
        page.click("#tab-alerts")
        expect(page.locator("#alert-count")).to_have_text("(50)")
        assert card_ids(page)[0] == alerts[-1].id  # newest received first
        more.click()
        expect(page.locator("#alert-count")).to_have_text("(100)")
        more.click()
        expect(page.locator("#alert-count")).to_have_text("(120)")
        expect(more).to_be_hidden()  # the last page
        ids = card_ids(page)
        assert ids == [a.id for a in reversed(alerts)]  # every alert once, in order

        page.select_option("#f-severity", "critical")
        expect(page.locator("#alert-count")).to_have_text("(40)")
        expect(more).to_be_hidden()
        severities = page.eval_on_selector_all(
            "#alerts li.card", "cards => [...new Set(cards.map(c => c.dataset.severity))]"
        )
        assert severities == ["critical"]

        page.fill("#f-q", "vehicle")
        page.press("#f-q", "Enter")
        # Every 10th alert is about a vehicle; of those, the ones with n % 3 == 0 are critical.
        expected = [a.id for a in reversed(alerts) if a.seq % 10 == 0 and a.seq % 3 == 0]
        expect(page.locator("#alert-count")).to_have_text(f"({len(expected)})")
        assert card_ids(page) == expected

        page.click("#more-filters summary")
        page.click("#alert-filters button[type=reset]")
        expect(page.locator("#alert-count")).to_have_text("(50)")
        expect(more).to_be_visible()
        assert problems == []
