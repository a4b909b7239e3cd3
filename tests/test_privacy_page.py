"""The privacy page in a real Chromium against a real hub: an admin sees what is collected,
where, for how long and under which authorisation (none), opens the printable sign notice,
finds a plate's alerts and erases them (asked to confirm); other roles have no Privacy tab."""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_helpers import ingest_plate_alert, serve_api
from officer_kit import DESK, add_user, browser, open_page, sign_in
from playwright.sync_api import Browser, expect

from hub.domain.users import Role

pytestmark = [pytest.mark.browser]
__all__ = ["browser"]  # the fixture, imported for pytest


@pytest.fixture
def hub(tmp_path: Path):
    api = serve_api(tmp_path / "hub", passwords={})
    yield api
    api.close()


def test_an_admin_reads_the_privacy_page_and_erases_a_plate(hub, browser: Browser):
    mine = ingest_plate_alert(hub, "粤C12345")
    ingest_plate_alert(hub, "京A88888")
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "root", add_user(hub, "root", Role.ADMIN), problems)
        page.click("#tab-privacy")
        expect(page.locator("#privacy-view")).to_be_visible()
        expect(page.locator("#privacy-cameras tr")).not_to_have_count(0)
        expect(page.locator("#privacy-cameras .privacy-faces").first).to_have_text("off")
        expect(page.locator('#privacy-retention tr[data-kind="plate_log"] .privacy-days')
               ).to_have_text("not kept")  # fmt: skip
        expect(page.locator('#privacy-retention tr[data-kind="alerts"] .privacy-days')
               ).to_have_text("30 days")  # fmt: skip
        expect(page.locator("#privacy-auths")).to_have_text("none in force")
        expect(page.locator("#privacy-plate-log")).to_contain_text("not kept")

        with page.context.expect_page() as opened:
            page.click("#privacy-notice")
        notice = opened.value
        expect(notice.locator("h1")).to_contain_text("CCTV")
        expect(notice.locator("body")).to_contain_text("Vehicle number plates")
        notice.close()

        page.fill("#subject-plate", "粤C·12345")
        page.click("#subject-form button[type=submit]")
        expect(page.locator("#subject-summary")).to_contain_text("Found: alert: 1, snapshot: 1")
        expect(page.locator('#subject-records li[data-kind="alert"]')).to_contain_text(mine)

        page.once("dialog", lambda d: d.accept())
        page.click("#subject-erase")
        expect(page.locator("#subject-summary")).to_contain_text("Erased: alert: 1, snapshot: 1")
        assert hub.storage.alerts.get(mine) is None

        # The tombstone is in the chain, and the chain holds.
        page.click("#audit-verify")
        expect(page.locator("#audit-chain")).to_contain_text("chain intact:")
        expect(page.locator("#audit-chain")).to_have_attribute("data-intact", "true")
        assert problems == []


def test_other_roles_have_no_privacy_tab(hub, browser: Browser):
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "sup", add_user(hub, "sup", Role.SUPERVISOR), problems)
        expect(page.locator("#tab-reports")).to_be_visible()
        expect(page.locator("#tab-privacy")).to_be_hidden()
