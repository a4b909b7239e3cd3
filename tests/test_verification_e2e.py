"""Camera-verified alarms end to end, on real parts: real mosquitto, the real edge agent on
the committed lawn footage (people walking), the real hub on its SQLite file, and a door
sensor node publishing its alarm over MQTT as the firmware does.

* a door alarm in the plaza area comes back verified with a person seen: the snapshot and
  the clip join the incident, its severity goes up one step, a note says so;
* a node that is not the gateway cannot read its commands (the door sensor subscribes to the
  gateway's verify topic and hears nothing, while a later message to itself arrives);
* a gateway that never answers leaves the incident unverified, said so — on the hub's
  injected clock, not by sleeping through ``answer_s``.

No timed assertions: every wait is for a condition.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from broker_kit import Probe
from hub_helpers import NodeClient, example_config, wait_for
from officer_kit import DESK, add_user, browser, open_page, sign_in
from playwright.sync_api import Browser, expect

from contract.ids import new_alert_id
from contract.protocol import (
    Alert,
    NodeRole,
    Severity,
    alert_topic,
    encode,
)
from contract.verification import (
    EvidenceHeader,
    VerifyRequest,
    encode_evidence,
    evidence_topic,
    verify_topic,
)
from edge.agent import EdgeAgent
from hub.clock import ManualClock
from hub.domain.incidents import Incident
from hub.events import AlertStored, HubEvent, IncidentChanged
from hub.service import HubService

pytestmark = [pytest.mark.mosquitto]
__all__ = ["browser"]  # the fixture, imported for pytest
SITE, GATEWAY, DOOR = "riverside", "gw-plaza", "plaza-door"


@dataclass
class Site:
    hub: HubService
    door: NodeClient
    edge_dir: Path
    changes: list[tuple[str, str]] = field(default_factory=list)  # (incident id, change)
    door_incidents: list[str] = field(default_factory=list)
    door_seq: int = 0

    def on_event(self, event: HubEvent) -> None:
        if isinstance(event, IncidentChanged):
            self.changes.append((event.incident.id, event.change))
        elif isinstance(event, AlertStored) and event.alert.node == DOOR:
            self.door_incidents.append(event.alert.incident_id or "")

    def door_opens(self) -> Incident:
        """The door sensor's alarm, over MQTT; returns the incident it was filed under."""
        self.door_seq += 1
        alert = Alert(
            id=new_alert_id(), site=SITE, node=DOOR, seq=self.door_seq, ts=datetime.now(UTC),
            kind="door", severity=Severity.MAJOR, area="plaza", message="Service door opened",
        )  # fmt: skip
        self.door.publish(alert_topic("vw", SITE, DOOR), encode(alert))
        wait_for(lambda: self.door_incidents, 30, "the door alarm to be filed")
        return self.hub.incidents.get(self.door_incidents[0])

    def notes(self, incident_id: str) -> list[str]:
        return [n.text for n in self.hub.storage.incidents.notes(incident_id)]

    def start_gateway(self, mosquitto, blind: bool = False) -> EdgeAgent:
        """The plaza gateway on the lawn footage; ``blind``: a privacy mask over the whole
        view, so its camera sees nobody."""
        config = self.hub.config
        gateways = [g.model_copy(update={"data_dir": str(self.edge_dir)}) for g in config.gateways]
        if blind:
            whole = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
            camera = gateways[0].cameras[0]
            privacy = camera.privacy.model_copy(update={"masks": [whole]})
            cameras = [camera.model_copy(update={"privacy": privacy})]
            gateways[0] = gateways[0].model_copy(update={"cameras": cameras})
        config = config.model_copy(update={"gateways": gateways})
        agent = EdgeAgent(config, GATEWAY, mosquitto.provision(GATEWAY))
        agent.start()
        return agent


def start_site(mosquitto, tmp_path: Path, clock: ManualClock | None = None) -> Site:
    extra = {"clock": clock} if clock is not None else {}
    hub = HubService(
        example_config(), mosquitto.connection("hub", NodeRole.HUB), tmp_path / "hub",
        "127.0.0.1", 0, **extra,
    )  # fmt: skip
    site = Site(hub, NodeClient(mosquitto.provision(DOOR, NodeRole.SENSOR)), tmp_path / "edge")
    hub.bus.on(site.on_event)
    hub.start()
    assert hub.wait_ready(10), "hub never subscribed"
    return site


@pytest.fixture
def site(mosquitto, tmp_path: Path) -> Iterator[Site]:
    site = start_site(mosquitto, tmp_path)
    try:
        yield site
    finally:
        site.door.stop()
        site.hub.stop()


def test_a_door_alarm_in_the_plaza_comes_back_verified_with_a_person_seen(
    site, mosquitto, browser: Browser
):
    agent = site.start_gateway(mosquitto)
    try:
        # 4 s of pre-event buffer (4 frames/s) before the door opens.
        buffer = agent.pre_event["plaza"]
        wait_for(lambda: len(buffer) >= 16, 60, "the pre-event buffer to fill")
        opened = site.door_opens()
        assert opened.severity is Severity.MAJOR
        wait_for(lambda: (opened.id, "verified") in site.changes, 30, "the verdict")
        wait_for(
            lambda: len(site.hub.storage.incidents.attachments(opened.id)) == 2, 30, "the clip"
        )
        # The door again, into the same incident: verified already, nobody is asked again.
        site.door_incidents.clear()
        assert site.door_opens().id == opened.id
        wait_for(lambda: site.hub.verifier.already_verified == 1, 30, "the second alarm")
    finally:
        agent.stop()
    incident = site.hub.incidents.get(opened.id)
    assert incident.severity is Severity.CRITICAL  # raised one step by the camera
    verdicts = [n for n in site.notes(opened.id) if n.startswith("Verified: camera plaza")]
    assert len(verdicts) == 1, verdicts
    assert (opened.id, "unverified") not in site.changes
    files = {a.filename: a for a in site.hub.storage.incidents.attachments(opened.id)}
    assert set(files) == {"plaza-snapshot.jpg", "plaza-clip.avi"}
    snap, jpeg = site.hub.incidents.attachment(opened.id, files["plaza-snapshot.jpg"].id)
    assert snap.content_type == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape[1] == 480
    clip, avi = site.hub.incidents.attachment(opened.id, files["plaza-clip.avi"].id)
    assert clip.content_type == "video/x-msvideo" and avi[8:12] == b"AVI "
    # Both parts were answered (the hub measured it; the bench prints the figure).
    assert {part for _, part, _ in site.hub.verifier.attached} == {"snapshot", "clip"}
    # The officer's incident view shows the snapshot, offers the clip, and says "verified".
    password = add_user(site.hub, "ana")
    with open_page(browser, DESK) as (page, problems):
        sign_in(page, site.hub.url, "ana", password, problems)
        page.evaluate(
            "id => import('/static/incident_view.js').then(m => m.IncidentView.open(id))",
            opened.id,
        )
        image = page.locator("#incident-attachments li.attachment img")
        expect(image).to_have_count(1)
        page.wait_for_function(
            "() => document.querySelector('#incident-attachments img').naturalWidth === 480"
        )
        expect(page.locator("#incident-attachments .attachment-file")).to_have_text(
            "\u25b6 plaza-clip.avi"
        )
        expect(page.locator("#incident-notes .note-text")).to_contain_text(["Verified: camera"])
        assert problems == []


def test_a_camera_that_sees_nobody_leaves_the_alarm_unverified_said_so(site, mosquitto):
    agent = site.start_gateway(mosquitto, blind=True)
    try:
        wait_for(lambda: len(agent.pre_event["plaza"]) >= 16, 60, "the pre-event buffer")
        opened = site.door_opens()
        wait_for(lambda: (opened.id, "unverified") in site.changes, 30, "the verdict")
    finally:
        agent.stop()
    assert site.notes(opened.id) == ["Unverified: no person seen on camera plaza."]
    assert site.hub.incidents.get(opened.id).severity is Severity.MAJOR
    # The images still join the incident: an officer may look for himself.
    names = {a.filename for a in site.hub.storage.incidents.attachments(opened.id)}
    assert names == {"plaza-snapshot.jpg", "plaza-clip.avi"}


def test_a_node_that_is_not_the_gateway_cannot_read_its_commands(site, mosquitto):
    agent = site.start_gateway(mosquitto)
    spare = mosquitto.provision("gw-spare")  # another camera gateway of the same site
    eavesdropper = Probe(mosquitto.port, spare.username, spare.password, "gw-spare")
    try:
        eavesdropper.subscribe(verify_topic("vw", SITE, GATEWAY))
        eavesdropper.subscribe(f"vw/{SITE}/+/verify")
        own = verify_topic("vw", SITE, "gw-spare")
        eavesdropper.subscribe(own)
        wait_for(lambda: len(agent.pre_event["plaza"]) >= 4, 60, "the pre-event buffer")
        opened = site.door_opens()
        # The gateway got the request: its evidence came back.
        wait_for(lambda: site.hub.storage.incidents.attachments(opened.id), 30, "evidence")
        hub = NodeClient(mosquitto.connection("hub", NodeRole.HUB), client_id="test-barrier")
        hub.publish(own, b"barrier")
        hub.stop(say_offline=False)
        assert eavesdropper.wait_for(own, b"barrier")
        assert eavesdropper.payloads(verify_topic("vw", SITE, GATEWAY)) == []
    finally:
        eavesdropper.close()
        agent.stop()


def test_a_gateway_that_never_answers_leaves_the_incident_unverified_said_so(
    mosquitto, tmp_path: Path
):
    """Its agent is not running; the hub's clock moves past ``answer_s``. The verdict is on
    the incident in the hub's SQLite file: read back after a restart."""
    clock = ManualClock(datetime.now(UTC))
    site = start_site(mosquitto, tmp_path, clock)
    try:
        opened = site.door_opens()
        verifier = site.hub.verifier
        wait_for(verifier.pending, 30, "the hub to ask the gateway")
        clock.advance(seconds=verifier.settings.answer_s - 1)
        assert not any(change == "unverified" for _, change in site.changes)
        clock.advance(seconds=1)
        wait_for(lambda: (opened.id, "unverified") in site.changes, 30, "the verdict")
        assert (opened.id, "verified") not in site.changes
    finally:
        site.door.stop()
        site.hub.stop()
    again = start_site(mosquitto, tmp_path, clock)
    try:
        assert again.notes(opened.id) == ["Unverified: no answer within 10 s from gw-plaza/plaza."]
        assert again.hub.incidents.get(opened.id).severity is Severity.MAJOR
        assert again.hub.storage.incidents.attachments(opened.id) == []
    finally:
        again.door.stop()
        again.hub.stop()


def test_evidence_from_a_gateway_that_was_not_asked_is_not_attached(mosquitto, tmp_path: Path):
    """gw-spare learns the request id (here: from a hub-identity listener) and answers
    "person seen" — on the asked gateway's topic (the broker drops it) and on its own (the
    hub drops it: it asked gw-plaza). The alarm stays unverified: nobody answered."""
    clock = ManualClock(datetime.now(UTC))
    site = start_site(mosquitto, tmp_path, clock)
    mosquitto.provision(GATEWAY)  # provisioned, but its agent is not running
    spare = NodeClient(mosquitto.provision("gw-spare"))
    hub = mosquitto.connection("hub", NodeRole.HUB)
    listener = Probe(mosquitto.hub_port, hub.username, hub.password, "test-listener")
    try:
        listener.subscribe(verify_topic("vw", SITE, GATEWAY))
        opened = site.door_opens()
        wait_for(lambda: listener.payloads(verify_topic("vw", SITE, GATEWAY)), 30, "the ask")
        asked = VerifyRequest.model_validate_json(
            listener.payloads(verify_topic("vw", SITE, GATEWAY))[0]
        )
        header = EvidenceHeader(
            request_id=asked.request_id, camera="plaza", part="snapshot", person_seen=True,
            person_score=0.99, frames=1,
        )  # fmt: skip
        forged = encode_evidence(header)
        for node in (GATEWAY, "gw-spare"):
            spare.publish(evidence_topic("vw", SITE, node, asked.request_id), forged)
        wait_for(lambda: site.hub.verifier.refused == 1, 30, "the hub to refuse its own")
        clock.advance(seconds=site.hub.verifier.settings.answer_s)
        wait_for(lambda: (opened.id, "unverified") in site.changes, 30, "the verdict")
        assert (opened.id, "verified") not in site.changes
        assert site.hub.incidents.get(opened.id).severity is Severity.MAJOR
        assert site.notes(opened.id) == ["Unverified: no answer within 10 s from gw-plaza/plaza."]
    finally:
        listener.close()
        spare.stop()
        site.door.stop()
        site.hub.stop()
