"""The Safety view in a real Chromium against a real hub (real SQLite, manual clock): the
index of the site and each area with the components behind each value, the hot spots as a
layer on the site plan (the Safety view's and, ticked, the Map view's) with the
not-a-prediction statement, and, for supervisors, the monthly
report the hub wrote. The history and its hand-computed values: tests/test_safety_report.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_helpers import serve_api
from officer_kit import DESK, add_user, browser, open_page, sign_in
from playwright.sync_api import Browser, expect
from safety_kit import NOW, history_rows
from statistics_kit import insert

from hub.clock import ManualClock
from hub.domain.users import Role
from hub.safety.schedule import MonthlyReportWorker

pytestmark = [pytest.mark.browser]
__all__ = ["browser"]  # the fixture, imported for pytest


@pytest.fixture
def hub(tmp_path: Path):
    api = serve_api(tmp_path / "hub", passwords={}, clock=ManualClock(NOW))
    insert(api.storage.incidents.database, history_rows())
    yield api
    api.close()


def test_a_supervisor_reads_the_index_its_parts_hot_spots_and_reports(hub, browser: Browser):
    worker = next(w for w in hub.service.workers if isinstance(w, MonthlyReportWorker))
    worker.tick()  # November's report, as the hub writes it at 06:00 on 1 December
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "sam", add_user(hub, "sam", Role.SUPERVISOR), problems)
        page.click("#tab-safety")
        expect(page.locator("#safety-view")).to_be_visible()
        expect(page.locator("#safety-month")).to_have_value("2026-12")  # this month first
        page.locator("#safety-month").fill("2026-11")
        page.locator("#safety-month").dispatch_event("change")
        site = page.locator('#safety-rows tr[data-area="site"]')
        expect(site.locator("strong")).to_have_text("38.6")
        expect(site).to_contain_text("\u221219.4")  # since October's 58.0
        plaza = page.locator('#safety-rows tr[data-area="plaza"]')
        expect(plaza).to_contain_text("1 \u00b7 1 \u00b7 1")  # false alarm, cancelled, duplicate
        expect(plaza).to_contain_text("100 (assumed)")
        parts = page.locator('#safety-parts details[data-area="plaza"]')
        parts.locator("summary").click()
        rate = parts.locator('tr[data-component="rate_per_1000"]')
        expect(rate).to_contain_text("30.0")
        expect(rate).to_contain_text("50.0")
        expect(rate.locator(".worse")).to_have_text("+20.0")  # more incidents: worse

        expect(page.locator("#hotspots-note")).to_contain_text("not a prediction of crime")
        expect(page.locator("#hotspot-rows tr")).to_have_count(4)
        expect(page.locator("#hotspot-rows tr").first).to_contain_text("North gate")
        expect(page.locator("#hotspot-rows tr").first).to_contain_text("Friday 12:00")
        expect(page.locator("#safety-hotspot-map")).to_have_attribute("data-hotspots", "2")
        expect(page.locator("#safety-hotspot-map .hotspot")).to_have_count(2)
        week = page.locator('#hotspot-grids details[data-area="north-gate"]')
        week.locator("summary").click()
        friday_noon = week.locator("tbody tr").nth(4).locator("td").nth(12)
        expect(friday_noon).to_have_text("5")
        expect(friday_noon).to_have_class("heat-4")
        expect(week.locator("td.heat-0")).to_have_count(7 * 24 - 1)

        expect(page.locator("#safety-schedule")).to_contain_text("day 1 at 6:00")
        link = page.locator("#safety-reports a")
        expect(link).to_have_text("Safety report 2026-11")
        expect(link).to_have_attribute("href", "/api/safety/reports/2026-11")

        # The same layer on the Map view's plan, off until ticked.
        page.click("#tab-map")
        expect(page.locator("#site-map .hotspot")).to_have_count(0)
        page.get_by_label("Hot spots (past incidents)").check()
        expect(page.locator("#site-map .hotspot")).to_have_count(2)
        assert problems == []


def test_officers_see_the_index_but_not_the_reports(hub, browser: Browser):
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "olga", add_user(hub, "olga", Role.OFFICER), problems)
        page.click("#tab-safety")
        expect(page.locator('#safety-rows tr[data-area="site"]')).to_be_visible()
        expect(page.locator("#hotspot-rows tr")).to_have_count(4)
        expect(page.locator("#safety-reports-section")).to_be_hidden()
        assert problems == []
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "vic", add_user(hub, "vic", Role.VIEWER), problems)
        expect(page.locator("#tab-safety")).to_be_hidden()
        page.click("#tab-map")
        expect(page.locator("#site-map")).to_have_attribute("data-ready", "true")
        expect(page.get_by_label("Hot spots (past incidents)")).to_have_count(0)
