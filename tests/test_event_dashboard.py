"""The event dashboard in real Chromium: a hub on a real mosquitto, a gateway reporting its
crowd ring counts over MQTT, the hub's sampler run on an injected clock, and the page showing
each ring against its limit, the trend, the feeding cameras, the incident the core opened, the
rings and heat on the site plan, and the replay. Saves docs/event-dashboard.png.

The hub's clock is a ManualClock: the event (20:00-23:00 UTC) is on at its 21:00. The
sampler's own thread may add samples at the same clock moment; a sample is keyed by its
moment, so that changes nothing this test reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import REPO
from event_kit import NODE, NOW, SITE_ID, site_config, stats
from hub_helpers import NodeClient, wait_for
from officer_kit import DESK, add_user, browser, open_page, sign_in
from playwright.sync_api import expect

from contract.protocol import NodeRole, NodeStats, encode, stats_topic
from hub.clock import ManualClock
from hub.domain.users import Role
from hub.service import HubService

__all__ = ["browser"]  # the fixture, imported for pytest

SCREENSHOT = REPO / "docs" / "event-dashboard.png"

#: (north core, south core, south control, east control, east diversion) per sample: the
#: core's two cameras overlap, so the core holds the larger of their counts.
SAMPLES = [
    (20, 18, 40, 30, 90),
    (31, 27, 52, 33, 120),
    (44, 39, 61, 35, 150),
    (46, 41, 66, 38, 170),
]


@pytest.fixture
def event_hub(mosquitto, tmp_path: Path) -> Iterator[tuple[HubService, ManualClock]]:
    clock = ManualClock(NOW)
    service = HubService(
        site_config(), mosquitto.connection("hub", NodeRole.HUB), tmp_path / "hub",
        "127.0.0.1", 0, clock=clock,
    )  # fmt: skip
    service.start()
    assert service.wait_ready(10), "hub never subscribed"
    yield service, clock
    service.stop()


def send_counts(gateway: NodeClient, hub: HubService, n: int, sample: tuple[int, ...]) -> None:
    """The gateway's stats with its cameras' ring counts, measured at the hub's now."""
    north, south, south_control, east_control, east_diversion = sample
    at = hub.event_security.clock()
    cameras = {
        "north": stats({"stage/core": north}, at),
        "south": stats({"stage/core": south, "stage/control": south_control}, at),
        "east": stats({"east/control": east_control, "east/diversion": east_diversion}, at),
    }
    message = NodeStats(site=SITE_ID, node=NODE, ts=at, uptime_s=60 + n, cameras=cameras)
    gateway.publish(stats_topic(hub.connection.topic_root, SITE_ID, NODE), encode(message))

    def stored() -> bool:
        node = hub.storage.nodes.get(SITE_ID, NODE)
        return bool(node and node.stats and node.stats.uptime_s == 60 + n)

    wait_for(stored, what=f"stats {n} stored")


def test_the_event_dashboard_shows_rings_trend_cameras_incident_and_replay(
    browser, event_hub, mosquitto
) -> None:
    hub, clock = event_hub
    gateway = NodeClient(mosquitto.provision(NODE, NodeRole.CAMERA_GATEWAY, SITE_ID))
    try:
        wait_for(lambda: hub.storage.nodes.get(SITE_ID, NODE) or None, what="gateway online")
        for n, sample in enumerate(SAMPLES):
            if n:
                clock.advance(seconds=15)
            send_counts(gateway, hub, n, sample)
            hub.event_security.tick()
    finally:
        gateway.stop(say_offline=False)
    # The core went over 40 on the third and fourth samples (44, 46): one incident.
    incidents = hub.event_security.dashboard(hub.event_security.get("fireworks")).incidents
    assert len(incidents) == 1

    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "sup", add_user(hub, "sup", Role.SUPERVISOR), problems)
        page.click("#tab-site-events")
        core = page.locator('#site-event-rings .event-ring[data-ring="core"]')
        expect(core).to_have_attribute("data-occupancy", "46")  # max(46, 41), not 87
        expect(core.locator(".event-occupancy")).to_contain_text("46 of 40 people (115 %)")
        expect(core).to_contain_text("Up to 87 if overlapping cameras saw different people")
        expect(core.locator("meter")).to_have_attribute("value", "46")
        expect(core.locator("svg.event-trend polyline")).to_have_count(1)
        expect(core.locator(".event-feeds li")).to_have_count(2)
        control = page.locator('#site-event-rings .event-ring[data-ring="control"]')
        expect(control).to_have_attribute("data-occupancy", str(66 + 38))  # disjoint: added
        expect(
            page.locator('#site-event-rings .event-ring[data-ring="diversion"]')
        ).to_have_attribute("data-occupancy", "170")
        expect(page.locator("#site-event-incidents li")).to_have_count(1)
        expect(page.locator("#site-event-incidents")).to_contain_text("core ring over its limit")
        # The plan, the three rings, and one heat circle per counted camera ring (north's
        # core, south's and east's control, east's diversion; south's core is not counted).
        expect(page.locator("#site-event-map img.plan-image")).to_have_count(1)
        expect(page.locator("#site-event-map path.event-ring-core")).to_have_count(1)
        expect(page.locator("#site-event-map")).to_have_attribute("data-points", "4")
        page.wait_for_function(
            "() => document.querySelector('#site-event-map img.plan-image').naturalWidth > 0"
        )
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        # The replay: the stored series, one moment per sample, the last one first.
        page.select_option("#site-event-mode", "replay")
        expect(page.locator("#site-event-slider")).to_have_attribute("max", str(len(SAMPLES) - 1))
        expect(core).to_have_attribute("data-occupancy", "46")
        page.locator("#site-event-slider").fill("0")
        expect(core).to_have_attribute("data-occupancy", "20")
        expect(control).to_have_attribute("data-occupancy", str(40 + 30))
        assert problems == []
    assert clock() == NOW + timedelta(seconds=45)


def test_a_supervisor_draws_a_new_event_on_the_plan(browser, event_hub) -> None:
    hub, _ = event_hub
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, hub.url, "sup", add_user(hub, "sup", Role.SUPERVISOR), problems)
        page.click("#tab-site-events")
        expect(page.locator("#site-event-select option")).to_have_count(1)
        page.click("#site-event-new summary")
        expect(page.locator("#new-event-map img.plan-image")).to_have_count(1)
        # Every crowd ring of every camera is offered: north and south have the stage rule's
        # control and core, east its diversion and control.
        expect(page.locator("#new-event-feeds input")).to_have_count(6)
        page.fill("#new-event-id", "market")
        page.fill("#new-event-name", "Night market")
        page.fill("#new-event-start", "2026-12-02T20:30")  # the browser's zone: UTC here
        page.fill("#new-event-end", "2026-12-02T23:30")
        page.fill("#new-event-limit-core", "25")
        map_ = page.locator("#new-event-map")
        box = map_.bounding_box()
        cx, cy = box["width"] / 2, box["height"] / 2
        for dx, dy in [(-40, -30), (40, -30), (40, 30), (-40, 30)]:
            map_.click(position={"x": cx + dx, "y": cy + dy})
        expect(map_).to_have_attribute("data-corners", "0,0,4")
        expect(page.locator("#new-event-map path.new-ring-core")).to_have_count(1)
        for camera in ("north", "south"):
            page.locator("#new-event-feeds label", has_text=f"{camera} · stage/core").locator(
                "input"
            ).check()
        page.check("#new-event-overlap")
        page.click("#site-event-new-form button[type=submit]")
        expect(page.locator("#site-event-select")).to_have_value("market")
        core = page.locator('#site-event-rings .event-ring[data-ring="core"]')
        expect(core.locator(".event-feeds li")).to_have_count(2)
        expect(core.locator(".event-occupancy")).to_contain_text("0 of 25 people")
        assert problems == []
    market = hub.event_security.get("market")
    assert market.source == "page" and market.active
    assert [(f.camera, f.ring, f.overlap) for f in market.event.feeds] == [
        ("north", "core", "core"),
        ("south", "core", "core"),
    ]
    assert len(market.event.rings.core.polygon) == 4 and market.event.rings.core.limit == 25
