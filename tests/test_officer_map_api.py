"""The site map's config and API: the plan is checked when the site file loads (a clear
message naming the field), and the hub serves the map (viewer and up) and the plan image."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from hub_helpers import serve_api

from contract.siteconfig import ConfigError, parse_site_config
from hub.api.vendor import StaticWithVendor

EXAMPLE = REPO / "config" / "site.example.yaml"


def example_data() -> dict:
    return copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))


def leaflet_mount() -> StaticWithVendor:
    return StaticWithVendor(REPO / "hub" / "web" / "static")


def problems_of(data: dict, where: Path = EXAMPLE) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_site_config(data, where)
    return str(caught.value)


def test_the_example_plan_places_every_position_on_the_plan() -> None:
    config = parse_site_config(example_data(), EXAMPLE)
    assert config.map is not None
    corners = config.map.corners(800, 600)
    assert corners["top_left"].lat == config.map.bounds.north_east.lat


def test_a_missing_or_foreign_plan_image_is_named(tmp_path: Path) -> None:
    data = example_data()
    data["map"]["image"] = "nowhere.png"
    assert "map.image: file not found" in problems_of(data)
    (tmp_path / "plan.png").write_text("not an image")
    data["map"]["image"] = str(tmp_path / "plan.png")
    assert "is not a PNG, JPEG or SVG" in problems_of(data)


def test_control_points_on_one_line_are_refused() -> None:
    data = example_data()
    del data["map"]["bounds"]
    data["map"]["control_points"] = [
        {"x": 0, "y": 0, "lat": 51.4865, "lon": -0.1255},
        {"x": 400, "y": 300, "lat": 51.4860, "lon": -0.1245},
        {"x": 800, "y": 600, "lat": 51.4855, "lon": -0.1235},
    ]
    assert "on one line" in problems_of(data)


def test_a_position_off_the_plan_names_its_field() -> None:
    data = example_data()
    data["sensors"][1]["position"] = {"lat": -0.1237, "lon": 51.4861}  # lat and lon swapped
    message = problems_of(data)
    assert "sensors[1].position: not on the site plan" in message


def test_a_rotated_plan_placed_by_control_points_keeps_its_positions() -> None:
    data = example_data()
    bounds = data["map"].pop("bounds")
    ne, sw = bounds["north_east"], bounds["south_west"]
    data["map"]["control_points"] = [
        {"x": 0, "y": 0, "lat": ne["lat"], "lon": sw["lon"]},
        {"x": 800, "y": 0, "lat": ne["lat"], "lon": ne["lon"]},
        {"x": 0, "y": 600, "lat": sw["lat"], "lon": sw["lon"]},
        {"x": 800, "y": 600, "lat": sw["lat"], "lon": ne["lon"]},
    ]
    config = parse_site_config(data, EXAMPLE)
    x, y = config.map.to_pixel(config.areas[0].position, 800, 600)
    assert 0 < x < 800 and 0 < y < 600


def test_the_map_and_its_plan_are_served_to_signed_in_officers(tmp_path: Path) -> None:
    hub = serve_api(tmp_path / "hub")
    try:
        assert hub.client().get("/api/map").status_code == 401
        assert hub.client().get("/api/map/plan").status_code == 401
        viewer = hub.client("viewer")
        body = viewer.get("/api/map").json()
        assert body["image_url"] == "/api/map/plan"
        assert body["plan"] == {"width": 800, "height": 600, "media_type": "image/svg+xml"}
        assert [a["id"] for a in body["areas"]] == ["plaza", "north-gate"]
        assert len(body["areas"][0]["outline"]) == 4
        assert body["cameras"][0] | {"position": None} == {
            "name": "plaza",
            "node": "gw-plaza",
            "area": "plaza",
            "position": None,
        }
        placed = {s["node"] for s in example_data()["sensors"]}  # one of each kind, all placed
        assert {s["node"] for s in body["sensors"]} == placed and "gate-door" in placed
        plan = viewer.get("/api/map/plan")
        assert plan.status_code == 200
        assert plan.headers["content-type"].startswith("image/svg+xml")
        assert "max-age" in plan.headers["cache-control"]
        assert "default-src 'none'" in plan.headers["content-security-policy"]
        assert plan.content.startswith(b"<svg")
        leaflet = hub.client().get("/static/vendor/leaflet/leaflet.js")
        assert leaflet.status_code == 200, "run make (npm ci) to install Leaflet"
        assert hub.client().get("/static/vendor/leaflet/../package.json").status_code == 404
        # httpx (and then Starlette) collapse "../" before the mount looks anything up, so
        # the request above never reaches the vendor guard. Ask the mount itself: without the
        # guard, "../" here is leaflet's package.json, outside the served dist/ folder.
        assert leaflet_mount().lookup_path("vendor/leaflet/../package.json") == ("", None)
        assert leaflet_mount().lookup_path("vendor/leaflet/leaflet.js")[1] is not None
    finally:
        hub.close()
