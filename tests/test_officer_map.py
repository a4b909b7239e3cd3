"""The site map in real Chromium: the plan drawn by Leaflet (served from the hub, no
internet), the example site's areas, camera and sensors, an incident marker that appears
live with its distance rings (gone when it is resolved), and a patrol unit whose marker
moves when it reports a new position."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from hub_helpers import login
from officer_kit import DESK, add_user, browser, hub, open_page, sign_in
from playwright.sync_api import expect
from test_officer_incidents import raise_intrusion

from hub.domain.users import Role

__all__ = ["browser", "hub"]  # the fixtures, imported for pytest

PLAZA = (51.485932, -0.124114)


def post_position(client: httpx.Client, lat: float, lon: float, at: str) -> None:
    r = client.post("/api/positions", json={"lat": lat, "lon": lon, "at": at, "accuracy_m": 5})
    assert r.status_code in (200, 201), r.text


def marker_box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


# The page's own Leaflet layers, read through the same module instance app.js uses (an ES
# module is one per URL): each ring's centre and radius in metres as Leaflet holds them.
RINGS_OF = """async (id) => {
  const { SiteMapView } = await import("/static/map.js");
  const group = SiteMapView.rings.get(id);
  if (!group) return [];
  return group.getLayers().filter((layer) => layer instanceof L.Circle).map((ring) => (
    { radius: ring.getRadius(), lat: ring.getLatLng().lat, lon: ring.getLatLng().lng }));
}"""


def test_map_shows_the_plan_an_incident_and_a_moving_unit(browser, hub, mosquitto) -> None:
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "ana", add_user(hub, "ana"), problems)
        page.click("#tab-map")
        expect(page.locator("#site-map")).to_have_attribute("data-ready", "true")
        plan = page.locator("#site-map img.plan-image")
        expect(plan).to_have_attribute("src", "/api/map/plan")
        page.wait_for_function(
            "() => document.querySelector('#site-map img.plan-image').naturalWidth > 0"
        )
        expect(page.locator("#site-map .map-area")).to_have_count(2)
        expect(page.locator('.map-node[data-kind="camera"]')).to_have_count(1)
        sensors = len(hub.config.sensors)  # the example site: one of each kind, all placed
        expect(page.locator('.map-node[data-kind="sensor"]')).to_have_count(sensors)

        # An incident opened now shows up on the plaza, coloured by its state.
        _, incident_id = raise_intrusion(mosquitto, hub)
        incident = page.locator(f'.map-incident[data-id="{incident_id}"]')
        expect(incident).to_have_attribute("data-state", "new")
        expect(incident).to_have_attribute("data-lat", str(PLAZA[0]))
        expect(incident.locator(".map-timer")).to_have_text(re.compile(r"^\d+ s$"))

        # A unit created and placed while the map is open comes live with its callsign;
        # a new position moves its marker.
        boss = login(hub.url, "sue", add_user(hub, "sue", Role.SUPERVISOR))
        patrol = login(hub.url, "pat", add_user(hub, "pat", Role.PATROL))
        unit = boss.post(
            "/api/units", json={"callsign": "P-01", "kind": "foot", "members": ["pat"]}
        )
        assert unit.status_code in (200, 201), unit.text
        unit_id = unit.json()["id"]
        start = datetime.now(UTC) - timedelta(seconds=30)
        post_position(patrol, 51.4862, -0.1248, start.isoformat())
        unit_marker = page.locator(f'.map-unit[data-id="{unit_id}"]')
        expect(unit_marker).to_contain_text("P-01")
        before = marker_box(page, f'.map-unit[data-id="{unit_id}"]')
        post_position(patrol, PLAZA[0], PLAZA[1], datetime.now(UTC).isoformat())
        expect(unit_marker).to_have_attribute("data-lat", str(PLAZA[0]))
        after = marker_box(page, f'.map-unit[data-id="{unit_id}"]')
        assert (after["x"], after["y"]) != (before["x"], before["y"])
        assert after["x"] > before["x"]  # the plaza is east of where the unit started
        assert problems == []


def test_an_open_incident_has_distance_rings_that_go_when_it_is_resolved(
    browser, hub, mosquitto
) -> None:
    password = add_user(hub, "ana")
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "ana", password, problems)
        page.click("#tab-map")
        expect(page.locator("#site-map")).to_have_attribute("data-ready", "true")
        _, incident_id = raise_intrusion(mosquitto, hub)
        expect(page.locator(f'.map-incident[data-id="{incident_id}"]')).to_be_visible()

        # Three thin unfilled rings (the plan stays visible), each labelled with its distance.
        rings = page.locator(f'#site-map path.map-ring[data-incident="{incident_id}"]')
        expect(rings).to_have_count(3)
        for i in range(3):
            assert rings.nth(i).get_attribute("fill") == "none"
        labels = page.locator(f'.map-ring-label[data-incident="{incident_id}"]')
        # Sized to the example plan (160 x 120 m): 50 and 100 m on it, 250 m past its edges.
        expect(labels).to_have_text(["50 m", "100 m", "250 m"])
        drawn = page.evaluate(RINGS_OF, incident_id)
        assert [r["radius"] for r in drawn] == [50, 100, 250]
        assert {(r["lat"], r["lon"]) for r in drawn} == {PLAZA}  # around the incident

        # Resolved, the incident leaves the map and its rings with it.
        desk = login(hub.url, "ana", password)
        for body in ({"action": "acknowledge"}, {"action": "resolve", "outcome": "handled"}):
            r = desk.post(f"/api/incidents/{incident_id}/transitions", json=body)
            assert r.status_code == 200, r.text
        expect(page.locator(f'.map-incident[data-id="{incident_id}"]')).to_have_count(0)
        expect(rings).to_have_count(0)
        expect(labels).to_have_count(0)
        assert page.evaluate(RINGS_OF, incident_id) == []
        assert problems == []
