"""The sensor side end to end: sensor nodes on a real mosquitto, the whole hub, and the
sensors page in real Chromium.

The hub runs on a ManualClock, so "three intervals later" is a clock step, not a wait; the
waits below are for messages to cross the broker (conditions, never durations).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import SITE
from hub_helpers import NodeClient, make_alert, wait_for
from officer_kit import DESK, add_user, browser, open_page, sign_in  # noqa: F401
from playwright.sync_api import expect
from sensor_kit import sensor_site

from contract.protocol import Heartbeat, NodeRole, alert_topic, encode, heartbeat_topic
from hub.clock import ManualClock
from hub.domain.users import Role
from hub.service import HubService

ROOT = "vw"


@pytest.fixture
def sensor_hub(mosquitto, tmp_path: Path) -> Iterator[HubService]:
    service = HubService(
        sensor_site(),
        mosquitto.connection("hub", NodeRole.HUB),
        tmp_path / "hub",
        "127.0.0.1",
        0,
        clock=ManualClock(),
        heartbeat_s=1.0,
    )
    service.start()
    assert service.wait_ready(10), "hub never subscribed"
    yield service
    service.stop()


def node(mosquitto, name: str) -> NodeClient:
    return NodeClient(mosquitto.provision(name, NodeRole.SENSOR), client_id=name)


def heartbeat(hub: HubService, name: str, **fields) -> bytes:
    values = {"site": SITE, "node": name, "ts": hub.sensors.health.clock(), "interval_s": 60}
    return encode(Heartbeat(**(values | {"uptime_s": 50.0} | fields)))


def test_a_node_silent_over_mqtt_is_offline_though_its_connection_and_will_never_end(
    mosquitto, sensor_hub
):
    door = node(mosquitto, "gate-door")
    try:
        door.publish(heartbeat_topic(ROOT, SITE, "gate-door"), heartbeat(sensor_hub, "gate-door"))
        health = sensor_hub.sensors.health
        wait_for(lambda: health.report(), what="the heartbeat stored")
        clock: ManualClock = health.clock  # type: ignore[assignment]
        clock.advance(seconds=180)  # three intervals; the node is still connected: no will
        sensor_hub.sensors.watch.tick()
        [row] = health.report()
        assert row.offline
        offline = [i for i in sensor_hub.incidents.repo.queue() if i.kind == "node_offline"]
        assert len(offline) == 1 and offline[0].location.area == "north-gate"
    finally:
        door.stop()


def test_the_sensors_page_shows_health_and_an_officer_disarms_an_area(
    mosquitto,
    sensor_hub,
    browser,  # noqa: F811
):
    door = node(mosquitto, "gate-door")
    pir = node(mosquitto, "plaza-pir")
    try:
        door.publish(
            heartbeat_topic(ROOT, SITE, "gate-door"),
            heartbeat(sensor_hub, "gate-door", battery_v=2.95, battery_pct=80, tamper=False),
        )
        pir.publish(
            heartbeat_topic(ROOT, SITE, "plaza-pir"),
            heartbeat(sensor_hub, "plaza-pir", battery_pct=9, rssi_dbm=-71),
        )
        wait_for(lambda: len(sensor_hub.sensors.health.report()) == 2, what="two heartbeats")
        password = add_user(sensor_hub, "ana", Role.OFFICER)
        with open_page(browser, DESK) as (page, problems):
            sign_in(page, sensor_hub.url, "ana", password, problems)
            page.click("#sensors-link")  # from the officer page's toolbar
            gate = page.locator('#health-rows tr[data-node="gate-door"]')
            expect(gate.locator(".status")).to_have_text("ok")
            expect(gate).to_contain_text("2.95 V")
            expect(page.locator('#health-rows tr[data-node="plaza-pir"]')).to_contain_text("9 %")

            area = page.locator('#arming-rows tr[data-area="north-gate"]')
            expect(area.locator(".armed-state")).to_have_text("Armed")
            area.locator('button[data-mode="disarmed"]').click()
            expect(area.locator(".armed-state")).to_have_text("Disarmed")
            expect(area).to_contain_text("ana")

            # Three intervals of silence: the incident's event updates the open page itself
            # (the page's own refresh is a minute away).
            expect(page.locator("#conn")).to_have_attribute("data-state", "live")
            sensor_hub.sensors.health.clock.advance(seconds=180)
            sensor_hub.sensors.watch.tick()
            expect(gate.locator(".status")).not_to_have_text("ok")
            assert problems == []
        [entry] = sensor_hub.storage.audit.entries(action="area.disarmed")
        assert (entry.username, entry.target) == ("ana", "north-gate")

        # The gate's door now opens in a disarmed area: stored, no incident.
        opened = make_alert(
            node="gate-door", kind="door", area="north-gate", camera=None, zone=None,
            objects=[], has_snapshot=False, frame_size=None,
        )  # fmt: skip
        door.publish(alert_topic(ROOT, SITE, "gate-door"), encode(opened))
        stored = wait_for(lambda: sensor_hub.storage.alerts.get(opened.id), what="the alert")
        assert stored.incident_id is None
    finally:
        door.stop()
        pir.stop()


def test_a_viewer_reads_the_arming_but_cannot_change_it(sensor_hub, browser):  # noqa: F811
    password = add_user(sensor_hub, "vic", Role.VIEWER)
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, sensor_hub.url, "vic", password, problems)
        page.goto(sensor_hub.url + "static/sensors.html")
        area = page.locator('#arming-rows tr[data-area="plaza"]')
        expect(area.locator(".armed-state")).to_have_text("Armed")
        assert area.locator("button").count() == 0
        assert problems == []
    token, _ = sensor_hub.accounts.open_session("vic")
    with httpx.Client(base_url=sensor_hub.url, cookies={}, timeout=10) as client:
        refused = client.put(
            "/api/arming/plaza",
            json={"mode": "disarmed"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert refused.status_code == 403
