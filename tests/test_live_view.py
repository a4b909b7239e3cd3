"""The live view end to end on real parts: the demo footage through a real edge agent (the
privacy filter included), real mosquitto, the hub's relay, and a real Chromium.

* nobody watching: the gateway encodes and sends nothing;
* an officer opens the incident's camera from the incident view: frames arrive in the <img>
  (several distinct ones), the view is audited, closing it ends the gateway's lease;
* a viewer (no right to watch) gets 403, and the refusal is audited;
* a lease that is not renewed lapses on the gateway's own (injected) clock.

No timed assertions: every wait is for a condition.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from broker_kit import wait_until
from hub_helpers import example_config, wait_for
from officer_kit import DESK, add_user, browser, open_page, sign_in
from playwright.sync_api import Browser, expect

from contract.connection import NodeConnection
from contract.live import LiveRequest, decode_frame, encode_request, live_subscription, watch_topic
from contract.protocol import NodeRole, Severity
from edge.agent import EdgeAgent
from hub.domain.incidents import Location, Source
from hub.domain.units import Availability, Unit, UnitKind
from hub.domain.users import Role
from hub.incidents.requests import NewIncident
from hub.service import HubService

pytestmark = [pytest.mark.mosquitto]
__all__ = ["browser"]  # the fixture, imported for pytest
GATEWAY, CAMERA, SITE = "gw-plaza", "plaza", "riverside"


class SteppedClock:
    """The edge's lease clock: monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@dataclass
class Site:
    hub: HubService
    agent: EdgeAgent
    clock: SteppedClock
    incident_id: str

    def frames_processed(self) -> int:
        """Frames the camera's pipeline has been through (it loops the footage)."""
        last = self.agent.pipelines[0]._last_frame
        return last.frame.index if last is not None else -1


@pytest.fixture
def site(mosquitto, tmp_path: Path) -> Iterator[Site]:
    config = example_config()
    gateways = [g.model_copy(update={"data_dir": str(tmp_path / "edge")}) for g in config.gateways]
    config = config.model_copy(update={"gateways": gateways})
    hub = HubService(
        config, mosquitto.connection("hub", NodeRole.HUB), tmp_path / "hub", "127.0.0.1", 0
    )
    hub.start()
    assert hub.wait_ready(10), "hub never subscribed"
    clock = SteppedClock()
    agent = EdgeAgent(config, GATEWAY, mosquitto.provision(GATEWAY), live_clock=clock)
    agent.start()
    report = NewIncident(
        source=Source.CALL,
        kind="fight",
        severity=Severity.MAJOR,
        title="Two men fighting on the lawn",
        location=Location(area="plaza"),
    )
    incident, _ = hub.incidents.open_call(report, "desk")
    try:
        yield Site(hub, agent, clock, incident.id)
    finally:
        agent.stop()
        hub.stop()


class HubListener:
    """A second hub-identity client on the broker that counts live frames on the wire."""

    def __init__(self, conn: NodeConnection) -> None:
        from contract.mqtt import LinkSettings, MqttLink

        self.frames: list[bytes] = []
        self.link = MqttLink(
            LinkSettings(
                host=conn.host,
                port=conn.port,
                username=conn.username,
                password=conn.password,
                client_id="test-live-listener",
                subscriptions=[(live_subscription("vw"), 0)],
            ),
            on_message=lambda _t, payload: self.frames.append(payload),
        )
        self.link.start()
        assert self.link.wait_connected(10)

    def close(self) -> None:
        self.link.stop(announce_offline=False)


def test_nobody_watching_sends_nothing_and_an_officer_sees_the_camera_live(
    site: Site, mosquitto, browser: Browser
):
    listener = HubListener(mosquitto.connection("hub", NodeRole.HUB))
    try:
        # Nobody watches: the pipeline runs, the gateway sends no frame.
        start = site.frames_processed()
        wait_for(lambda: site.frames_processed() > start + 25, 30, "the camera to process")
        assert site.agent.live.sent == 0 and listener.frames == []

        password = add_user(site.hub, "ana", Role.OFFICER)
        with open_page(browser, DESK) as (page, problems):
            sign_in(page, site.hub.url, "ana", password, problems)
            page.evaluate(
                "id => import('/static/incident_view.js').then(m => m.IncidentView.open(id))",
                site.incident_id,
            )
            page.click(f'button.live-open[data-camera="{CAMERA}"]')
            figure = page.locator(f'figure.live-view[data-camera="{CAMERA}"]')
            expect(figure.locator("figcaption")).to_contain_text("Live: plaza")
            expect(figure.locator("figcaption")).to_contain_text("Central plaza and lawn")
            # Frames arrive: the <img> has a picture, and it changes (hashed in a canvas).
            page.wait_for_function(DISTINCT_FRAMES, arg=3, timeout=30_000)
            assert page.evaluate("document.querySelector('img.live-img').naturalWidth") > 0
            relay = site.hub.live
            assert relay.viewers(GATEWAY, CAMERA) == 1
            header, jpeg = decode_frame(listener.frames[-1])
            assert header.camera == CAMERA and header.width <= 960 and jpeg[:2] == b"\xff\xd8"

            # Closing the view ends the stream: the hub ends the lease, the gateway stops.
            page.click("button.live-close")
            expect(figure).to_have_count(0)
            wait_for(lambda: relay.viewers(GATEWAY, CAMERA) == 0, what="the viewer to leave")
            wait_for(lambda: not site.agent.live.streaming(CAMERA), what="the lease to end")
            assert problems == []
        entries = site.hub.storage.audit.entries(100)
        watched = [e for e in entries if e.action == "live.watch"]
        ended = wait_for(
            lambda: [e for e in site.hub.storage.audit.entries(100) if e.action == "live.end"],
            what="the end of the view in the audit",
        )
        for entry in (watched[0], ended[0]):
            assert entry.username == "ana" and entry.target == f"{GATEWAY}/{CAMERA}"
            assert site.incident_id in entry.detail
        assert "frames" in ended[0].detail
    finally:
        listener.close()


def test_a_viewer_may_not_watch_and_the_refusal_is_audited(site: Site):
    password = add_user(site.hub, "vic", Role.VIEWER)
    with httpx.Client(base_url=site.hub.url, timeout=10) as client:
        client.post("/api/login", json={"username": "vic", "password": password})
        listed = client.get(f"/api/incidents/{site.incident_id}/cameras").json()
        assert [(c["camera"], c["allowed"]) for c in listed] == [(CAMERA, False)]
        url = f"/api/cameras/{GATEWAY}/{CAMERA}/live?incident={site.incident_id}"
        refused = client.get(url)
        assert refused.status_code == 403
        assert (
            client.get(f"/api/cameras/{GATEWAY}/nope/live?incident={site.incident_id}").status_code
            == 404
        )
        assert client.get(f"/api/cameras/{GATEWAY}/{CAMERA}/live?incident=bad").status_code == 422
    denied = site.hub.storage.audit.entries(100, action="live.denied")
    assert denied and denied[0].username == "vic" and site.incident_id in denied[0].detail
    assert site.hub.live.viewers(GATEWAY, CAMERA) == 0
    assert site.agent.live.sent == 0


def test_a_patrol_may_watch_only_the_incident_its_unit_works_on(site: Site):
    now = datetime.now(UTC)
    unit = Unit(
        id=uuid.uuid4().hex, callsign="P-01", kind=UnitKind.FOOT, members=["pat"],
        availability=Availability.BUSY, incident_id=site.incident_id,
        created_at=now, updated_at=now,
    )  # fmt: skip
    site.hub.storage.units.create(unit)
    url = f"/api/cameras/{GATEWAY}/{CAMERA}/live?incident={site.incident_id}"
    for username, allowed in (("pat", True), ("pete", False)):
        password = add_user(site.hub, username, Role.PATROL)
        with httpx.Client(base_url=site.hub.url, timeout=10) as client:
            client.post("/api/login", json={"username": username, "password": password})
            with client.stream("GET", url) as response:
                assert response.status_code == (200 if allowed else 403), username
                if allowed:
                    assert response.headers["content-type"].startswith("multipart/x-mixed")
                    next(response.iter_raw())  # the first frame: the gateway streams
    denied = site.hub.storage.audit.entries(100, action="live.denied")
    assert [e.username for e in denied] == ["pete"]
    wait_for(lambda: site.hub.live.viewers(GATEWAY, CAMERA) == 0, what="the patrol to leave")


def test_a_lease_not_renewed_lapses_on_the_gateways_clock(site: Site, mosquitto):
    hub = mosquitto.connection("hub", NodeRole.HUB)
    listener = HubListener(hub)
    try:
        request = LiveRequest(
            site=SITE, node=GATEWAY, camera=CAMERA, lease_s=5, max_fps=10, max_width=320, quality=50
        )

        # As the hub would (its relay is idle: nobody watches through it), renewing it until
        # frames come: the gateway may not have subscribed to its watch topic yet (a request
        # before its SUBACK is gone). The gateway's clock stands still: one expiry for all.
        def renewed_until_streaming() -> bool:
            topic = watch_topic("vw", SITE, GATEWAY)
            listener.link.publish(topic, encode_request(request), qos=1)
            return wait_until(lambda: site.agent.live.sent >= 3, 2.0)

        wait_for(renewed_until_streaming, 60, "frames under the lease", poll_s=0)
        header, _ = decode_frame(wait_for(lambda: listener.frames, what="a frame")[-1])
        assert header.width == 320  # the lease's caps hold

        site.clock.advance(5.0)  # the hub never renewed: the lease lapses
        wait_for(lambda: not site.agent.live.streaming(CAMERA), what="the lease to lapse")
        wait_for(site.agent.live.quiet, what="a frame in flight to go")
        sent = site.agent.live.sent
        start = site.frames_processed()
        wait_for(lambda: site.frames_processed() > start + 25, 30, "the camera to go on")
        assert site.agent.live.sent == sent
    finally:
        listener.close()


#: Hashes the <img>'s current picture in a canvas; true once ``n`` distinct ones were seen.
DISTINCT_FRAMES = """n => {
  const img = document.querySelector('img.live-img');
  if (!img || !img.naturalWidth) return false;
  const c = window.__liveCanvas || (window.__liveCanvas = document.createElement('canvas'));
  c.width = 64; c.height = 48;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0, 64, 48);
  const px = g.getImageData(0, 0, 64, 48).data;
  let h = 0;
  for (let i = 0; i < px.length; i += 4) h = (h * 31 + px[i] + px[i + 1] * 7) >>> 0;
  (window.__liveSeen = window.__liveSeen || new Set()).add(h);
  return window.__liveSeen.size >= n;
}"""
