"""The watchlist view in real Chromium, with three people at three browsers: a supervisor
authorises and enrols a person on the page; a face match comes in as a candidate; officer A
confirms it and cannot confirm again; the supervisor who enrolled the person cannot confirm
it; officer B confirms it, it becomes an incident, and only then can a unit be dispatched
(the hub refused it before)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hub_helpers import ApiHub, serve_api
from officer_kit import DESK, PHONE, browser, open_page, sign_in  # noqa: F401 (fixture)
from playwright.sync_api import Page, expect
from watchlist_kit import UNIT, carphone_photo, crop_jpeg, face_alert, send, watchlist_config

from hub.clock import ManualClock
from hub.domain.units import Availability, Unit, UnitKind
from hub.domain.users import Role


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ApiHub]:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    api = serve_api(tmp_path / "hub", clock=clock, config=watchlist_config(), heartbeat_s=1.0)
    for name in ("officer_a", "officer_b"):
        api.passwords[name] = api.accounts.create_user(name, Role.OFFICER)
    now = clock()
    api.storage.units.create(
        Unit(id=UNIT, callsign="P-01", kind=UnitKind.CAR, members=[],
             availability=Availability.AVAILABLE, created_at=now, updated_at=now)
    )  # fmt: skip
    api.clock = clock
    yield api
    api.close()


def post_status(page: Page, path: str, body: dict | None = None) -> int:
    """What the hub answers this signed-in page for a POST (the buttons are off; the rule
    is the hub's, so ask it directly too)."""
    return page.evaluate(
        """async ([path, body]) => (await fetch(path, {method: "POST",
             headers: {"Content-Type": "application/json"},
             body: JSON.stringify(body || {})})).status""",
        [path, body],
    )


def open_watchlist(page: Page, hub: ApiHub, user: str, problems: list[str]) -> None:
    sign_in(page, hub.url, user, hub.passwords[user], problems)
    page.click("#tab-watchlist")
    expect(page.locator("#watchlist-view")).to_be_visible()


def local(moment: datetime) -> str:
    """A datetime-local input's value (the browser runs in UTC here, like the hub)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def supervisor_enrols(s: Page, hub: ApiHub) -> str:
    """Through the page: an authorisation for the plaza camera, then the carphone man
    enrolled under it. Returns the entry id."""
    now = hub.clock()
    s.fill("#wl-auth-basis", "Criminal Procedure Law art. 28, court order 12/2026")
    s.fill("#wl-auth-case", "RV-2026-0142")
    s.fill("#wl-auth-approver", "superintendent-li")
    s.check('.wl-auth-camera[value="gw-plaza/plaza"]')
    s.fill("#wl-auth-start", local(now - timedelta(hours=1)))
    s.fill("#wl-auth-end", local(now + timedelta(days=2)))
    s.fill("#wl-auth-expires", local(now + timedelta(days=3)))
    s.click('#wl-auth-form button[type="submit"]')
    expect(s.locator("li.wl-auth")).to_contain_text("Case RV-2026-0142")
    expect(s.locator("#wl-enrol-auth option")).to_have_count(1)
    photo = {"name": "man.jpg", "mimeType": "image/jpeg", "buffer": carphone_photo()}
    s.set_input_files("#wl-enrol-photo", files=[photo])
    s.click('#wl-enrol-form button[type="submit"]')
    expect(s.locator("li.wl-face")).to_have_count(1)
    [face] = hub.service.watchlist.repo.faces()
    assert face.enrolled_by == "supervisor"
    return face.entry.id


def test_two_officers_verify_a_face_match_before_dispatch(browser, hub):  # noqa: F811
    with open_page(browser, DESK) as (s, problems_s):
        open_watchlist(s, hub, "supervisor", problems_s)
        entry_id = supervisor_enrols(s, hub)
        [auth] = hub.service.watchlist.repo.authorisations()
        alert = face_alert(entry_id, auth.authorisation.id)
        send(hub, alert, crop_jpeg())
        base = f"/api/watchlist/candidates/{alert.id}"
        item = f'li.wl-candidate[data-alert-id="{alert.id}"]'

        with open_page(browser, DESK) as (a, problems_a):
            open_watchlist(a, hub, "officer_a", problems_a)
            expect(a.locator("#wl-auth-form")).to_be_hidden()  # officers do not authorise
            card = a.locator(item)
            expect(card.locator(".wl-state")).to_have_text("0 of 2 confirmations")
            expect(card).to_contain_text("Score 0.81")
            expect(card).to_contain_text("case RV-2026-0142")
            crop = card.locator("img.wl-crop")
            expect(crop).to_be_visible()
            loaded = "img => img.complete && img.naturalWidth > 0"
            a.wait_for_function(loaded, arg=crop.element_handle())
            expect(card.locator(".wl-dispatch")).to_be_disabled()
            assert post_status(a, f"{base}/dispatch", {"unit_id": UNIT}) == 409
            card.locator(".wl-confirm").click()
            expect(card.locator(".wl-state")).to_have_text("1 of 2 confirmations (officer_a)")
            expect(card.locator(".wl-confirm")).to_be_disabled()
            expect(card).to_contain_text("a different officer must confirm")
            assert post_status(a, f"{base}/confirm") == 409
            assert post_status(a, f"{base}/dispatch", {"unit_id": UNIT}) == 409

        # The enroller sees the candidate but may not confirm it.
        s.click("#wl-refresh")
        card = s.locator(item)
        expect(card).to_contain_text("You enrolled this person")
        expect(card.locator(".wl-confirm")).to_be_disabled()
        assert post_status(s, f"{base}/confirm") == 403
        # The face list shows no photo until the supervisor opens one (audited).
        face = s.locator(f'li.wl-face[data-entry-id="{entry_id}"]')
        expect(face.locator("img")).to_have_count(0)
        face.get_by_role("button", name="Show photo").click()
        expect(face.locator("img.wl-photo")).to_be_visible()

    with open_page(browser, PHONE) as (b, problems_b):
        open_watchlist(b, hub, "officer_b", problems_b)
        card = b.locator(item)
        expect(card.locator(".wl-confirm")).to_be_enabled()
        card.locator(".wl-confirm").click()
        expect(card.locator(".wl-state")).to_have_text("Verified by officer_a and officer_b")
        expect(card).to_have_attribute("data-state", "verified")
        incident_id = hub.storage.alerts.get(alert.id).incident_id
        assert incident_id is not None
        expect(card.locator(".wl-dispatch")).to_be_enabled()
        card.locator(".wl-dispatch").click()
        expect(b.locator("#wl-status")).to_have_text("P-01 dispatched to the verified match.")
        assert [x.unit_id for x in hub.service.dispatch.for_incident(incident_id)] == [UNIT]

    # The refusals above are the hub's 4xx answers, which Chromium logs: nothing else.
    for problems in (problems_a, problems_s, problems_b):
        assert [p for p in problems if "status of 40" not in p] == []
    assert hub.storage.audit.entries(action="watchlist.view_photo", target=entry_id)
    assert hub.storage.audit.entries(action="watchlist.authorise")
