"""Watchlist alerts at ingest and the two-officer rule, through the hub's own ingestor and
HTTP API on a real SQLite file: a face match is a quiet candidate (no incident, no alert
event) until two different officers, not the enroller, confirm it; only then is it an
incident a unit can be sent to. Plate hits alarm with their entry's reason; plate reads go
to the plate log only when the site logs plates."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from hub_helpers import ApiHub, serve_api
from watchlist_kit import (
    GATE,
    JPEG_MAGIC,
    UNIT,
    astronaut_photo,
    authorise,
    carphone_frame,
    carphone_photo,
    crop_jpeg,
    enrol,
    face_alert,
    plate_alert,
    plate_read,
    sealed_files,
    send,
    watchlist_config,
)

from hub.clock import ManualClock
from hub.domain.units import Availability, Unit, UnitKind
from hub.domain.users import Role
from hub.events import AlertStored
from hub.privacy.sources import subject_sources
from hub.privacy.subjects import Subject
from hub.watchlist.domain import load_face_describer


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


def open_hub(tmp_path: Path, clock: ManualClock, **config) -> ApiHub:
    api = serve_api(tmp_path / "hub", clock=clock, config=watchlist_config(**config))
    for name in ("officer_a", "officer_b"):
        api.passwords[name] = api.accounts.create_user(name, Role.OFFICER)
    now = clock()
    api.storage.units.create(
        Unit(id=UNIT, callsign="P-01", kind=UnitKind.CAR, members=[],
             availability=Availability.AVAILABLE, created_at=now, updated_at=now)
    )  # fmt: skip
    return api


@pytest.fixture
def hub(tmp_path: Path, clock: ManualClock) -> Iterator[ApiHub]:
    api = open_hub(tmp_path, clock)
    yield api
    api.close()


def enrolled(hub: ApiHub, clock: ManualClock) -> tuple[str, str]:
    auth_id = authorise(hub, clock)
    r = enrol(hub, auth_id, carphone_photo())  # by "supervisor"
    assert r.status_code == 201, r.text
    return auth_id, r.json()["id"]


def test_a_face_match_waits_for_two_different_officers_before_dispatch(hub, clock):
    auth_id, entry_id = enrolled(hub, clock)
    events: list = []
    hub.bus.on(events.append)
    alert = face_alert(entry_id, auth_id)
    assert send(hub, alert, crop_jpeg()).outcome == "stored"
    # Stored quietly: no incident, no alert event (no chime), no dispatch.
    assert hub.storage.alerts.get(alert.id).incident_id is None
    assert not [e for e in events if isinstance(e, AlertStored)]
    assert hub.storage.audit.entries(action="watchlist.match", target=alert.id)
    base = f"/api/watchlist/candidates/{alert.id}"
    a, b, enroller = (hub.client(n) for n in ("officer_a", "officer_b", "supervisor"))
    listed = a.get("/api/watchlist/candidates").json()
    assert [(c["alert_id"], c["state"], c["has_crop"]) for c in listed] == [
        (alert.id, "pending", True)
    ]
    assert listed[0]["case_number"] == "RV-2026-0142"
    r = a.post(f"{base}/dispatch", json={"unit_id": UNIT})
    assert r.status_code == 409 and "not verified" in r.json()["detail"]
    # The crop is sealed on disk and opened for an officer, audited.
    assert a.get(f"{base}/crop").content == crop_jpeg()
    assert hub.storage.audit.entries(action="watchlist.view_crop", target=alert.id)
    assert len(sealed_files(hub)) == 2  # the enrolment photo and the crop
    # ...and the plain JPEG is no longer an alert snapshot anyone may open unaudited.
    assert hub.storage.alerts.snapshot_file(alert.id) is None
    assert a.get(f"/api/alerts/{alert.id}/snapshot").status_code == 404
    # Nor is the candidate an alert for every viewer: not listed, not shown, not searchable.
    viewer = hub.client("viewer")
    assert alert.id not in [x["id"] for x in viewer.get("/api/alerts").json()["items"]]
    assert viewer.get("/api/alerts", params={"kind": alert.kind}).json()["items"] == []
    assert viewer.get(f"/api/alerts/{alert.id}").status_code == 404
    snapshots = hub.storage.data_dir / "snapshots"
    assert all(JPEG_MAGIC not in p.read_bytes() for p in snapshots.rglob("*") if p.is_file())
    # Officer A confirms; A again, and the enroller, are refused; dispatch still refused.
    assert a.post(f"{base}/confirm").json()["confirmed_by"] == ["officer_a"]
    r = a.post(f"{base}/confirm")
    assert r.status_code == 409 and "different officer" in r.json()["detail"]
    r = enroller.post(f"{base}/confirm")
    assert r.status_code == 403 and "enrolled" in r.json()["detail"]
    assert hub.client("viewer").post(f"{base}/confirm").status_code == 403
    assert a.post(f"{base}/dispatch", json={"unit_id": UNIT}).status_code == 409
    assert hub.storage.alerts.get(alert.id).incident_id is None
    # Officer B confirms: verified, an incident, and now a unit can be sent.
    verified = b.post(f"{base}/confirm").json()
    assert verified["state"] == "verified" and verified["dispatchable"]
    incident_id = verified["incident_id"]
    assert hub.storage.alerts.get(alert.id).incident_id == incident_id
    r = a.post(f"{base}/dispatch", json={"unit_id": UNIT})
    assert r.status_code == 201, r.text
    assert r.json()["incident_id"] == incident_id
    assert b.post(f"{base}/confirm").status_code == 409  # verified already
    actions = [e.action for e in hub.storage.audit.entries(target=alert.id)]
    assert actions.count("watchlist.verify") == 2 and "watchlist.dispatch" in actions


def test_a_match_outside_its_authorisation_is_never_actionable_and_not_kept(hub, clock):
    auth_id, entry_id = enrolled(hub, clock)  # the plaza camera only
    stray = face_alert(entry_id, auth_id, node=GATE, camera="gate", area="gate")
    assert send(hub, stray, crop_jpeg()).outcome == "stored"
    assert hub.storage.alerts.get(stray.id).incident_id is None
    a = hub.client("officer_a")
    [listed] = a.get("/api/watchlist/candidates").json()
    assert listed["state"] == "out_of_scope"
    r = a.post(f"/api/watchlist/candidates/{stray.id}/confirm")
    assert r.status_code == 409 and "outside" in r.json()["detail"]
    assert hub.storage.audit.entries(action="watchlist.match", target=stray.id)
    assert hub.service.watchlist.step()["candidates"] == 1
    assert hub.service.watchlist.repo.candidates() == []
    assert len(sealed_files(hub)) == 1  # only the enrolment photo


def test_a_rejection_ends_a_candidate_and_counts_as_a_false_match(hub, clock):
    auth_id, entry_id = enrolled(hub, clock)
    first, second = face_alert(entry_id, auth_id, seq=0), face_alert(entry_id, auth_id, seq=1)
    send(hub, first, crop_jpeg())
    send(hub, second, crop_jpeg())
    a = hub.client("officer_a")
    assert a.post(f"/api/watchlist/candidates/{first.id}/reject").json()["state"] == "rejected"
    r = hub.client("officer_b").post(f"/api/watchlist/candidates/{first.id}/confirm")
    assert r.status_code == 409
    faces = a.get("/api/watchlist").json()["faces"]
    assert [(f["id"], f["false_matches"]) for f in faces] == [(entry_id, 1)]
    assert hub.storage.audit.entries(action="watchlist.reject", target=first.id)
    # A crop is kept for the authorisation's retention (30 days), then deleted with its row.
    wl = hub.service.watchlist
    clock.advance(days=29)
    assert wl.step()["candidates"] == 0
    clock.advance(days=2)
    wl.step()
    assert wl.repo.candidates() == []
    assert len(sealed_files(hub)) == 0  # the entry expired with its authorisation too
    # A sealed file whose row never committed is swept once an hour old.
    stray = hub.storage.data_dir / wl.vault.seal("crops", crop_jpeg())
    written = (clock() - timedelta(minutes=5)).timestamp()  # on the hub's (manual) clock
    os.utime(stray, (written, written))
    assert wl.step()["orphan_files"] == 0  # its row may still be committing
    written = (clock() - timedelta(hours=2)).timestamp()
    os.utime(stray, (written, written))
    assert wl.step()["orphan_files"] == 1 and sealed_files(hub) == []


def test_plate_hits_alarm_and_plate_reads_are_logged_only_when_the_site_says(tmp_path, clock):
    hub = open_hub(tmp_path / "off", clock)
    try:
        tomorrow = (clock() + timedelta(days=1)).isoformat()
        plate = {"plate": "粤C·12345", "reason": "stolen van", "owner": "officer",
                 "case_ref": "RV-7", "expires_at": tomorrow}  # fmt: skip
        entry = hub.client("officer").post("/api/watchlist/plates", json=plate).json()
        hit = plate_alert(entry["id"], "粤C12345")
        assert send(hub, hit).outcome == "stored"
        assert hub.storage.alerts.get(hit.id).incident_id is not None  # an alarm
        # The audit rows name entry ids, never the plate (they outlive an erasure).
        details = [e.detail or "" for e in hub.storage.audit.entries(limit=1000)]
        assert details and not [d for d in details if "12345" in d]
        hits = hub.client("officer").get("/api/watchlist/plate-hits").json()
        assert [(h["alert_id"], h["reason"], h["case_ref"]) for h in hits] == [
            (hit.id, "stolen van", "RV-7")
        ]
        read = plate_read("粤B·99999", seq=1)
        result = send(hub, read)
        assert (result.outcome, result.reason) == ("quarantined", "plate_logging_off")
        assert hub.storage.alerts.get(read.id) is None
        assert hub.service.watchlist.repo.plate_log() == []
    finally:
        hub.close()
    hub = open_hub(tmp_path / "on", clock, logging=True)
    try:
        read = plate_read("粤B·99999")
        assert send(hub, read).outcome == "stored"
        assert send(hub, read).outcome == "stored"  # a resend: one row
        assert hub.storage.alerts.get(read.id) is None  # not an alert, not an incident
        assert [r.plate for r in hub.service.watchlist.repo.plate_log()] == ["粤B·99999"]
        csv = hub.client("supervisor").get("/api/watchlist/plate-log.csv").text
        assert "粤B·99999" in csv
        assert hub.storage.audit.entries(action="watchlist.export")
        clock.advance(days=8)
        hub.service.watchlist.step()
        assert hub.service.watchlist.repo.plate_log() == []
    finally:
        hub.close()


def test_subject_access_and_erasure_find_entries_crops_and_log_rows(tmp_path, clock):
    hub = open_hub(tmp_path, clock, logging=True)
    try:
        auth_id, entry_id = enrolled(hub, clock)
        match = face_alert(entry_id, auth_id)
        send(hub, match, crop_jpeg())
        tomorrow = (clock() + timedelta(days=1)).isoformat()
        plate = {"plate": "粤C·12345", "reason": "stolen van", "owner": "officer",
                 "case_ref": "RV-7", "expires_at": tomorrow}  # fmt: skip
        hub.client("officer").post("/api/watchlist/plates", json=plate)
        send(hub, plate_read("粤C·12345", seq=5))
        sources = [s for s in subject_sources(hub.storage, hub.storage.data_dir, None)
                   if s.name == "watchlist"]  # fmt: skip
        assert len(sources) == 1
        source = sources[0]
        # A plate with an OCR confusion finds the entry and the log row.
        found = source.find(Subject(plate="粤C1Z345"))
        assert sorted(r.kind for r in found) == ["plate_entry", "plate_read"]
        # Another frame of the same man finds his entry and his match crop; the astronaut
        # finds nothing.
        describer = load_face_describer()
        him = describer.embed_photo(carphone_frame(90))
        kinds = sorted(r.kind for r in source.find(Subject(face=him)))
        assert kinds == ["face_entry", "match_crop"]
        other = cv2.imdecode(np.frombuffer(astronaut_photo(), np.uint8), cv2.IMREAD_COLOR)
        assert source.find(Subject(face=describer.embed_photo(other))) == []
        # Erasure leaves nothing: rows, sealed files.
        erased = source.erase(Subject(plate="粤C·12345", face=him))
        assert len(erased) == 4
        assert source.find(Subject(plate="粤C·12345", face=him)) == []
        assert sealed_files(hub) == []
        wl = hub.service.watchlist
        assert wl.repo.faces() == [] and wl.repo.plates() == [] and wl.repo.plate_log() == []
    finally:
        hub.close()
