"""The data-sharing register in a real Chromium against a real hub: an admin adds a
department account, issues it a scoped token (shown once, wiped from the page on Done),
sees who receives what under which agreement and until when, sees the token's last use
after the department reads with it, and revokes it; other roles have no Data sharing tab."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hub_helpers import serve_api
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


def test_an_admin_issues_a_token_sees_its_use_in_the_register_and_revokes_it(hub, browser: Browser):
    today = datetime.now(UTC).date()
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "root", add_user(hub, "root", Role.ADMIN), problems)
        page.click("#tab-sharing")
        expect(page.locator("#sharing-view")).to_be_visible()
        expect(page.locator("#sharing-empty")).to_be_visible()
        expect(page.locator("#sharing-note")).to_contain_text("fewer than 5 events")

        page.fill("#sharing-account-name", "District fire brigade")
        page.select_option("#sharing-account-dept", "fire")
        page.click("#sharing-account-form button[type=submit]")
        expect(page.locator("#sharing-token-account option")).to_have_count(1)

        page.fill("#sharing-token-agreement", "DSA-2026-014 hydrant access")
        page.select_option("#sharing-token-datasets", ["alert_counts", "areas"])
        page.select_option("#sharing-token-areas", ["plaza"])
        page.fill("#sharing-token-from", str(today - timedelta(days=30)))
        page.fill("#sharing-token-until", str(today))
        page.fill("#sharing-token-expires", str(today + timedelta(days=90)))
        page.click("#sharing-token-form button[type=submit]")
        expect(page.locator("#sharing-token-box")).to_be_visible()
        token = page.locator("#sharing-token").text_content()
        assert token and token.startswith("vws_")
        page.click("#sharing-token-done")
        expect(page.locator("#sharing-token-box")).to_be_hidden()
        assert page.locator("#sharing-token").text_content() == ""

        row = page.locator("#sharing-rows tr").first
        expect(row).to_contain_text("District fire brigade (fire)")
        expect(row).to_contain_text("DSA-2026-014 hydrant access")
        expect(row).to_contain_text("alert counts, areas")
        expect(row).to_have_attribute("data-status", "live")
        expect(row.locator("td").nth(7)).to_have_text("never")

        # The department reads once; the register shows the use.
        r = hub.client(token=token).get("/api/share/v1/data", params={"dataset": "alert_counts"})
        assert r.status_code == 200, r.text
        page.click("#tab-incidents")
        page.click("#tab-sharing")
        expect(row.locator("td").nth(7)).to_contain_text("(1)")

        row.get_by_role("button", name="Revoke").click()
        expect(page.locator("#sharing-rows tr").first).to_have_attribute("data-status", "revoked")
        assert (
            hub.client(token=token)
            .get("/api/share/v1/data", params={"dataset": "alert_counts"})
            .status_code
            == 403
        )
        page.locator("#sharing-view").screenshot(
            path=str(hub.storage.data_dir.parent / "sharing.png")
        )
        assert problems == []


def test_only_admins_have_the_data_sharing_tab(hub, browser: Browser):
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "sup", add_user(hub, "sup", Role.SUPERVISOR), problems)
        expect(page.locator("#tab-sharing")).to_be_hidden()
        assert problems == []
