"""The statistics page in real Chromium: the example site's hub with three months of
hand-made history (January 2027, December 2026, January 2026, from a seeded generator), an
officer picks January 2027, and every figure draws its chart (Chart.js, served by the hub)
with its table and CSV beside it. The screenshot is docs/statistics.png, shown in the README.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from officer_kit import DESK, add_user, browser, hub, open_page, sign_in
from playwright.sync_api import expect
from statistics_kit import alert, incident, insert

__all__ = ["browser", "hub"]  # the fixtures, imported for pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
KINDS = {"intrusion": 6, "loiter": 3, "theft": 2, "door_open": 3, "crowd": 1}
RULES = [("plaza", "entrance", "intrusion"), ("plaza", "car-park", "loiter"),
         ("plaza", "car-park", "intrusion"), ("plaza", "entrance", "crowd")]  # fmt: skip
ENDS = (
    [("resolved", "handled")] * 6
    + [("resolved", "false_alarm")] * 3
    + [("cancelled", None), ("resolved", "duplicate"), ("new", None)]
)


def month_of_history(rng: random.Random, first: datetime, count: int) -> tuple[list, list]:
    """``count`` incidents over the 31 days from ``first``, most in the evening, each
    with one to four alerts from the plaza camera's rules or a door sensor."""
    incidents, alerts = [], []
    for _ in range(count):
        hour = rng.choices(range(24), [1] * 7 + [2] * 10 + [4] * 5 + [2] * 2)[0]
        opened = first + timedelta(days=rng.randrange(31), hours=hour, minutes=rng.randrange(60))
        kind = rng.choices(list(KINDS), list(KINDS.values()))[0]
        state, outcome = rng.choice(ENDS)
        s = rng.randint(20, 240)
        row = incident(
            opened, kind=kind, area=rng.choice(["plaza", "plaza", "north-gate"]), state=state,
            outcome=outcome, acknowledged_at=opened + timedelta(seconds=s),
            dispatched_at=opened + timedelta(seconds=2 * s),
            en_route_at=opened + timedelta(seconds=2 * s + 30),
            on_scene_at=opened + timedelta(seconds=3 * s + 200),
            resolved_at=opened + timedelta(seconds=9 * s + 900),
        )  # fmt: skip
        incidents.append(row)
        if kind == "door_open":
            node = rng.choice(["gate-door", "plaza-door"])
            alerts.append(alert(row, opened, node=node, camera=None, zone=None, kind=kind))
            continue
        camera, zone, rule_kind = rng.choice(RULES)
        for k in range(rng.randint(1, 4)):
            alerts.append(
                alert(row, opened + timedelta(seconds=k), node="gw-plaza", camera=camera,
                      zone=zone, kind=rule_kind)
            )  # fmt: skip
    return incidents, alerts


def test_statistics_page_draws_every_chart_with_its_table(browser, hub) -> None:
    rng = random.Random(2027)
    for first, count in (
        (datetime(2027, 1, 1, tzinfo=UTC), 160),
        (datetime(2026, 12, 1, tzinfo=UTC), 130),
        (datetime(2026, 1, 1, tzinfo=UTC), 190),
    ):
        insert(hub.storage.incidents.database, *month_of_history(rng, first, count))

    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "ana", add_user(hub, "ana"), problems)
        page.click("#tab-statistics")
        view = page.locator("#statistics-view")
        expect(view).to_be_visible()
        page.fill("#stats-date", "2027-01-20")
        page.dispatch_event("#stats-form", "change")
        expect(page.locator("#stats-summary")).to_contain_text("160 incidents")
        expect(view).to_have_attribute("data-ready", "true")
        expect(page.locator("#stats-summary")).to_contain_text("2027-01-01 \u2013 2027-01-31")

        figures = page.locator("#stats-figures figure.stats-figure")
        expect(figures).to_have_count(8)
        drawn = page.evaluate(
            "() => [...document.querySelectorAll('#stats-figures canvas')]"
            ".filter((c) => window.Chart && Chart.getChart(c)).length"
        )
        assert drawn == 8, "every figure drew its chart"
        expect(page.locator("#stats-charts-missing")).to_be_hidden()
        expect(page.locator("#stats-alerts-purged")).to_be_hidden()  # alerts kept since 2026

        # The tables say what the charts show: 24 hours, 7 days, the kinds of January.
        hours = page.locator('[data-figure="incidents-by-hour"] tbody tr')
        expect(hours).to_have_count(24)
        expect(page.locator('[data-figure="incidents-by-weekday"] tbody tr')).to_have_count(7)
        kinds = page.locator('[data-figure="incidents-by-kind"] tbody tr')
        expect(kinds).to_have_count(len(KINDS))
        rules = page.locator('[data-figure="false-alarms-by-rule"] tbody tr')
        expect(rules).to_have_count(len(RULES))
        with page.expect_download() as download:
            page.click('[data-figure="incidents-by-kind"] a[download]')
        assert download.value.suggested_filename == "incidents-by-kind.csv"
        csv = Path(download.value.path()).read_text()
        lines = csv.splitlines()
        assert lines[0] == "Kind,Incidents,Against the period before,Against last year"
        assert sum(int(line.split(",")[1]) for line in lines[1:]) == 160

        page.locator('[data-figure="incidents-by-kind"] summary').click()
        expect(kinds.first).to_be_visible()
        DOCS.mkdir(exist_ok=True)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(DOCS / "statistics.png"), full_page=True)
        assert problems == []
