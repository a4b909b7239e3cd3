"""The edge face stage (edge/face_watch.py) with the real face models on real faces.

Guardrails: with recognition disabled, no authorisation, an expired one, one for another
camera, or no signage, the models are never run (their run counters stay at 0). A match (the
carphone man, enrolled from one frame) gives one ``watchlist_face`` hit with the unblurred crop,
its score, entry and authorisation, and no objects. A face that matches nobody leaves no trace
in the outbox's SQLite file nor on the wire (a real mosquitto; every payload scanned)."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from broker_kit import Probe, wait_until
from conftest import REPO, SITE
from receipt_kit import ReceiptingHub

from bench.face_accuracy import carphone_frames, carphone_path, impostor_photos
from contract.face_descriptor import FaceDescriber, similarity
from contract.protocol import Channel, decode, parse_topic
from contract.siteconfig import Camera, parse_site_config
from contract.watchlist import (
    FACE_KIND,
    Authorisation,
    FaceEntry,
    WatchlistUpdate,
    encode_embedding,
)
from contract.watchlist_settings import FaceSettings
from edge.agent import EdgeAgent
from edge.capture import Frame
from edge.detections import Detections
from edge.detectors import make_detector
from edge.face_watch import FaceWatch, build_face_watch
from edge.processor import FrameProcessor, build_alert
from edge.snapshot import match_snapshot
from edge.watchlist import WatchlistHolder

NODE = "gw-plaza"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ON = FaceSettings(enabled=True)
#: The man's box as the person detector gives it on carphone (SSDLite, every frame ~ this).
MAN = (2.0, 10.0, 174.0, 143.0)


class RecordingDescriber(FaceDescriber):
    """The real describer, keeping a copy of every embedding it makes, so the test knows
    what to look for in storage and on the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[np.ndarray] = []

    def embed(self, image_bgr, box) -> np.ndarray:
        vector = super().embed(image_bgr, box)
        self.made.append(vector.copy())
        return vector


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return carphone_frames()


@pytest.fixture(scope="module")
def enrolled(frames) -> dict[str, np.ndarray]:
    describer = FaceDescriber().load()
    return {
        "man": describer.embed_photo(frames[0]),
        "astronaut": describer.embed_photo(impostor_photos()["astronaut"]),
    }


def authorisation(**kw) -> Authorisation:
    fields = {
        "id": "a" * 32,
        "legal_basis": "court order 12/2026",
        "case_number": "C-42",
        "approved_by": "supervisor1",
        "cameras": [f"{NODE}/car"],
        "starts_at": NOW - timedelta(hours=1),
        "ends_at": NOW + timedelta(hours=1),
        "expires_at": NOW + timedelta(days=1),
    }
    return Authorisation(**(fields | kw))


def holder(vector: np.ndarray | None, auth: Authorisation | None = None) -> WatchlistHolder:
    h = WatchlistHolder(SITE, NODE, "vw", clock=lambda: NOW)
    auth = auth or authorisation()
    faces = []
    if vector is not None:
        faces = [
            FaceEntry(
                id="e" * 32,
                authorisation=auth.id,
                embedding=encode_embedding(vector),
                expires_at=NOW + timedelta(days=1),
            )
        ]
    h.set(WatchlistUpdate(site=SITE, node=NODE, issued_at=NOW, faces=faces, authorisations=[auth]))
    return h


def camera(**kw) -> Camera:
    return Camera(name="car", source="x", area="road", **({"signage_confirmed": True} | kw))


def man(tid: int = 1) -> Detections:
    return Detections.from_arrays([MAN], [0.9], ["person"], [tid])


def run(stage: FaceWatch, frames, n: int = 20) -> list:
    hits = []
    for i, image in enumerate(frames[:n]):
        hits += stage.process(image, man(), i * 0.5).hits
    return hits


def never_ran(describer: FaceDescriber) -> bool:
    return describer.invocations == 0 and describer.detector.runs == 0


# --- guardrails: the models never run -------------------------------------------------------


def test_disabled_face_recognition_builds_no_stage_and_no_model(enrolled):
    made = []
    stage = build_face_watch(camera(), FaceSettings(), holder(enrolled["man"]), made.append)
    assert stage is None and made == []  # the describer factory was never even called
    with pytest.raises(ValueError, match="off"):
        FaceWatch(camera(), FaceSettings(), holder(enrolled["man"]), FaceDescriber())


@pytest.mark.mosquitto
def test_a_gateway_of_a_site_without_face_recognition_has_no_face_model(tmp_path, mosquitto):
    config, _ = site_config(tmp_path, faces=False)
    agent = EdgeAgent(config, NODE, mosquitto.provision(NODE), tmp_path / "edge")
    try:
        assert agent.face_describer is None
        assert all(p.processor.stages == () for p in agent.pipelines)
    finally:
        agent.stop()


@pytest.mark.parametrize(
    "reason, cam, auth",
    [
        ("not_run_no_signage", camera(signage_confirmed=False), authorisation()),
        ("not_run_no_authorisation", camera(), None),  # no authorisation, no entries
        ("not_run_no_authorisation", camera(), authorisation(expires_at=NOW)),  # expired
        (  # the window ended (not yet expired)
            "not_run_no_authorisation",
            camera(),
            authorisation(ends_at=NOW - timedelta(minutes=1)),
        ),
        (  # another camera, and not this camera's area
            "not_run_no_authorisation",
            camera(),
            authorisation(cameras=[f"{NODE}/gate"], areas=["plaza"]),
        ),
    ],
)
def test_the_stage_does_not_run_outside_its_lawful_conditions(frames, enrolled, reason, cam, auth):
    describer = FaceDescriber()
    watch = holder(enrolled["man"] if auth else None, auth)
    stage = build_face_watch(cam, ON, watch, lambda: describer)
    assert stage is not None
    assert run(stage, frames) == []
    assert stage.stats[reason] == 20 and stage.stats["runs"] == 0
    assert never_ran(describer)


def test_an_area_in_scope_is_enough(frames, enrolled):
    describer = FaceDescriber()
    auth = authorisation(cameras=[], areas=["road"])
    stage = FaceWatch(camera(), ON, holder(enrolled["man"], auth), describer)
    assert len(run(stage, frames, 1)) == 1


# --- a match --------------------------------------------------------------------------------


def test_the_carphone_man_becomes_one_watchlist_face_alert_with_crop_and_nothing_else(
    frames, enrolled
):
    """Through the real person detector and tracker (FrameProcessor), frames 1..119."""
    describer = FaceDescriber()
    cam = camera()
    stage = FaceWatch(cam, ON, holder(enrolled["man"]), describer)
    processor = FrameProcessor(
        cam, make_detector(cam.detect, "ssdlite"), cap_fps=False, gate_motion=False, stages=[stage]
    )
    hits, last = [], None
    for i, image in enumerate(frames[1:]):
        last = processor.process(Frame(i, i / 25, image.copy(), restarted=i == 0))
        hits += last.hits
    assert [h.kind for h in hits] == [FACE_KIND]  # one per (track, entry), however long
    hit = hits[0]
    assert hit.watchlist.list == "face" and hit.watchlist.entry_id == "e" * 32
    assert hit.watchlist.authorisation == "a" * 32
    assert ON.match_threshold <= hit.watchlist.score <= 1.0
    assert len(hit.objects) == 0 and hit.image is not None
    assert stage.stats["matches"] == 1 and stage.stats["faces_compared"] >= 1
    alert = build_alert(
        hit,
        alert_id="f" * 32,
        seq=0,
        site=SITE,
        node=NODE,
        camera=cam,
        frame_size=last.frame.size,
        has_snapshot=True,
    )
    assert alert.kind == FACE_KIND and alert.objects == [] and alert.watchlist == hit.watchlist
    assert alert.severity == "major" and "verified" in alert.message
    # The crop is the face itself, unblurred: it still matches the enrolment.
    crop = cv2.imdecode(np.frombuffer(match_snapshot(hit.image), np.uint8), cv2.IMREAD_COLOR)
    assert 60 <= crop.shape[0] <= 144 and 60 <= crop.shape[1] <= 176
    again = describer.embed_photo(crop)
    assert again is not None and similarity(again, enrolled["man"]) >= ON.match_threshold


def test_one_alert_per_track_and_entry_even_when_the_tracker_loses_it_for_a_while(frames, enrolled):
    stage = FaceWatch(camera(), ON, holder(enrolled["man"]), FaceDescriber())
    assert len(stage.process(frames[1], man(1), 0.0).hits) == 1
    for i in range(1, 4):  # three detector runs without him
        assert stage.process(frames[1 + i], Detections.empty(), i * 0.5).hits == []
    assert stage.process(frames[5], man(1), 2.0).hits == []  # the same track again: no new alert
    assert len(stage.process(frames[6], man(2), 2.5).hits) == 1  # a new track is a new sighting


def test_someone_else_on_the_list_does_not_match(frames, enrolled):
    describer = FaceDescriber()
    stage = FaceWatch(camera(), ON, holder(enrolled["astronaut"]), describer)
    assert run(stage, frames) == []
    assert stage.stats["faces_compared"] >= 1 and stage.stats["matches"] == 0
    assert stage.stats["faces_compared"] == describer.invocations


# --- a non-match leaves nothing behind: outbox file and wire --------------------------------


def site_config(tmp_path: Path, faces: bool = True):
    data = copy.deepcopy(yaml.safe_load((REPO / "config" / "site.example.yaml").read_text()))
    cam = data["gateways"][0]["cameras"][0]
    cam.update(source=str(carphone_path()), realtime=False, loop=False, signage_confirmed=True)
    data["gateways"][0]["cameras"] = [cam]
    if faces:
        data["watchlists"] = {"faces": {"enabled": True}}
    return parse_site_config(data, REPO / "config" / "site.example.yaml"), cam["name"]


def traces(vector: np.ndarray) -> list[bytes]:
    """How an embedding could be stored or sent: raw float32 (whole, or its first 8 values),
    base64 of those, and its first values as JSON numbers."""
    raw = vector.astype(np.float32).tobytes()
    text = ", ".join(repr(float(v)) for v in vector[:3]).encode()
    return [raw, raw[:32], base64.b64encode(raw), base64.b64encode(raw[:30]), text]


class Played:
    """One run of a gateway over the carphone clip, with what it stored and sent."""

    def __init__(self, describer, stage, alerts, snapshots, messages, stored) -> None:
        self.describer, self.stage = describer, stage
        self.alerts, self.snapshots, self.stored = alerts, snapshots, stored
        self.messages: list[tuple[str, bytes]] = messages  # every (topic, payload) sent
        self.wire = [payload for _, payload in messages]

    def sent(self, channel: Channel) -> list:
        return [decode(parse_topic(t), p) for t, p in self.messages if _is(t, channel)]


def _is(topic: str, channel: Channel) -> bool:
    return parse_topic(topic).channel is channel


def play(mosquitto, tmp_path: Path, listed: np.ndarray) -> Played:
    """A gateway with face recognition on plays the carphone clip once, with ``listed`` the
    only face entry (under an authorisation for this camera now), against a real mosquitto;
    a stand-in hub receipts everything, a probe records every payload the gateway sends."""
    config, cam = site_config(tmp_path)
    connection = mosquitto.provision(NODE)
    probe = Probe(mosquitto.hub_port, "hub", mosquitto.passwords["hub"], "hub-faces-probe")
    probe.subscribe("vw/#", qos=1)
    hub = ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"], "hub-faces")
    describer = RecordingDescriber()
    raised = []
    agent = EdgeAgent(
        config, NODE, connection, tmp_path / "edge", on_alert=raised.append,
        face_describer=describer, stats_interval_s=0.5,
    )  # fmt: skip
    now = datetime.now(UTC)
    window = {"starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(hours=1)}
    auth = authorisation(cameras=[f"{NODE}/{cam}"], expires_at=now + timedelta(days=1), **window)
    entry = FaceEntry(
        id="e" * 32,
        authorisation=auth.id,
        embedding=encode_embedding(listed),
        expires_at=now + timedelta(days=1),
    )
    agent.watchlist.set(
        WatchlistUpdate(site=SITE, node=NODE, issued_at=now, faces=[entry], authorisations=[auth])
    )
    agent.start()
    try:
        assert agent.pipelines[0].drained.wait(180)
        # Everything queued reached the hub (receipted: the outbox is empty) and the probe.
        assert wait_until(lambda: agent.outbox.pending_count() == 0, timeout=60)
        ids = {a.id for a in raised}
        assert wait_until(lambda: ids <= set(hub.alerts) and _stats_seen(probe), timeout=30)
        assert wait_until(lambda: len(_payloads(probe, Channel.ALERT)) >= len(ids), timeout=30)
        (stage,) = agent.pipelines[0].processor.stages
    finally:
        agent.stop()
        hub.close()
    probe.close()
    stored = b"".join(p.read_bytes() for p in (tmp_path / "edge").glob("outbox.sqlite*"))
    with probe._lock:
        messages = [(t, p) for t, p, _ in probe.messages]
    return Played(describer, stage, raised, dict(hub.snapshots), messages, stored)


def _payloads(probe: Probe, channel: Channel) -> list[bytes]:
    with probe._lock:
        return [p for t, p, _ in probe.messages if parse_topic(t).channel is channel]


def _stats_seen(probe: Probe) -> bool:
    return bool(_payloads(probe, Channel.STATS))


@pytest.mark.mosquitto
def test_an_unmatched_face_is_found_neither_in_the_outbox_nor_on_the_wire(
    mosquitto, tmp_path, enrolled
):
    run = play(mosquitto, tmp_path, enrolled["astronaut"])
    assert run.stage.stats["faces_compared"] >= 1 and run.stage.stats["matches"] == 0
    assert run.describer.made, "the stage never embedded a face: the test would prove nothing"
    # The lawn rule fired on the man (a blurred snapshot went out): the wire is not empty.
    assert any(a.kind != FACE_KIND for a in run.alerts) and run.snapshots
    assert run.stored and run.wire
    for vector in run.describer.made:
        for trace in traces(vector):
            assert trace not in run.stored
            assert not any(trace in payload for payload in run.wire)


@pytest.mark.mosquitto
def test_a_match_sends_the_crop_score_and_entry_and_nothing_else(mosquitto, tmp_path, enrolled):
    run = play(mosquitto, tmp_path, enrolled["man"])
    faces = [a for a in run.alerts if a.kind == FACE_KIND]
    assert len(faces) == 1 and run.stage.stats["matches"] == 1
    alert = next(a for a in run.sent(Channel.ALERT) if a.kind == FACE_KIND)
    assert alert.objects == [] and alert.has_snapshot and alert.severity == "major"
    assert alert.watchlist.entry_id == "e" * 32 and alert.watchlist.authorisation == "a" * 32
    assert ON.match_threshold <= alert.watchlist.score <= 1.0
    # Its snapshot is the unblurred face: it still matches the enrolment.
    crop = cv2.imdecode(np.frombuffer(run.snapshots[alert.id], np.uint8), cv2.IMREAD_COLOR)
    again = FaceDescriber().embed_photo(crop)
    assert again is not None and similarity(again, enrolled["man"]) >= ON.match_threshold
    # The man's own (matching) embeddings are not sent either: only the crop and the score.
    for vector in run.describer.made:
        for trace in traces(vector):
            assert not any(trace in payload for payload in run.wire)
