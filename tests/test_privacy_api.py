"""The privacy API over real HTTP on a real hub: admins only; the summary and the sign
notice come from the site file; subject requests by plate (access, export as a file, erasure)
are audited under a salted key; a face photo with no face is refused; the incident queue,
like every other view of personal data, is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from hub_helpers import example_config, ingest_plate_alert, make_alert, serve_api

from contract.protocol import DetectedObject

PLATE = "粤C·12345"


@pytest.fixture
def hub(tmp_path: Path):
    config = example_config()
    hub_settings = config.hub.model_copy(update={"privacy": config.hub.privacy.model_copy(
        update={"operator": "Riverside village committee", "contact": "office@riverside.example"}
    )})  # fmt: skip
    api = serve_api(tmp_path / "hub", config=config.model_copy(update={"hub": hub_settings}))
    yield api
    api.close()


def test_only_admins_see_privacy_or_make_requests(hub):
    for role in ("viewer", "officer", "supervisor"):
        client = hub.client(role)
        assert client.get("/api/privacy").status_code == 403
        assert client.get("/api/privacy/notice").status_code == 403
        assert client.get("/api/privacy/audit-chain").status_code == 403
        assert client.post("/api/privacy/subjects/access", json={"plate": PLATE}).status_code == 403


def test_the_summary_and_the_notice_say_what_the_site_file_says(hub):
    admin = hub.client("admin")
    summary = admin.get("/api/privacy").json()
    assert summary["operator"] == "Riverside village committee"
    assert {c["camera"] for c in summary["cameras"]} == {
        c.name for g in example_config().gateways for c in g.cameras
    }
    assert all(c["faces"] == "off" for c in summary["cameras"])  # faces.enabled is False
    kinds = {r["kind"]: r["days"] for r in summary["retention"]}
    assert kinds["alerts"] == example_config().hub.retention_days and kinds["plate_log"] is None
    assert summary["authorisations"] == []

    text = admin.get("/api/privacy/notice", params={"format": "text"}).text
    assert "Riverside village committee" in text and "public security" in text
    assert "Face recognition is not in use." in text
    assert "office@riverside.example" in text
    page = admin.get("/api/privacy/notice")
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>" in page.text and "office@riverside.example" in page.text


def test_access_export_and_erasure_by_plate(hub):
    admin = hub.client("admin")
    mine, other = ingest_plate_alert(hub, "粤C12345"), ingest_plate_alert(hub, "京A88888")

    found = admin.post("/api/privacy/subjects/access", json={"plate": PLATE}).json()
    assert found["counts"] == {"alert": 1, "snapshot": 1}
    assert {r["id"] for r in found["records"]} == {mine}

    export = admin.post("/api/privacy/subjects/export", json={"plate": PLATE})
    assert export.status_code == 200
    assert export.headers["content-disposition"].startswith('attachment; filename="subject-')
    assert export.json()["records"] == found["records"]

    erased = admin.post("/api/privacy/subjects/erase", json={"plate": PLATE}).json()
    assert erased["counts"] == {"alert": 1, "snapshot": 1} and erased["compacted"]
    assert admin.get(f"/api/alerts/{mine}").status_code == 404
    assert admin.get(f"/api/alerts/{other}").status_code == 200

    chain = admin.get("/api/privacy/audit-chain").json()
    assert chain["intact"] and chain["message"].startswith("chain intact:")
    trail = {e.action: e for e in hub.storage.audit.entries(limit=50)}
    for action in ("subject.access", "subject.export", "subject.erase"):
        assert trail[action].target == found["subject_key"] and trail[action].username == "admin"
    assert "12345" not in " ".join(f"{e.target} {e.detail}" for e in trail.values())


def test_a_face_request_needs_a_photo_with_a_face(hub):
    admin = hub.client("admin")
    blank = cv2.imencode(".jpg", np.full((240, 320, 3), 128, np.uint8))[1].tobytes()
    r = admin.post("/api/privacy/subjects/face/access", content=blank,
                   headers={"Content-Type": "image/jpeg"})  # fmt: skip
    assert r.status_code == 422 and r.json()["detail"] == "no face in the photo"
    r = admin.post("/api/privacy/subjects/face/access", content=b"not an image",
                   headers={"Content-Type": "image/jpeg"})  # fmt: skip
    assert r.status_code == 422


def test_looking_at_the_incident_queue_is_audited(hub):
    hub.client("officer").get("/api/incidents/queue").raise_for_status()
    looked = hub.storage.audit.entries(action="incidents.queue")
    assert looked and looked[0].username == "officer"


def test_a_face_photo_finds_and_erases_an_enrolled_face(hub):
    """The photo is embedded by the real face model (onnxruntime) and dropped; the enrolled
    entry it matches is found, then erased: its embedding is gone from the database file."""
    import importlib.util
    from datetime import timedelta

    from contract.face_descriptor import FaceDescriber
    from contract.watchlist import FaceEntry, encode_embedding
    from hub.storage.sqlite import DATABASE_FILE
    from hub.storage.sqlite.watchlist import watchlist_for

    spec = importlib.util.find_spec("skimage")  # located, not imported (it breaks on numpy 2)
    photo = cv2.imread(str(Path(next(iter(spec.submodule_search_locations))) / "data"
                           / "astronaut.png"))  # fmt: skip
    vector = FaceDescriber().load().embed_photo(photo)
    assert vector is not None
    embedding = encode_embedding(vector)
    entry = FaceEntry(id="b" * 32, authorisation="c" * 32, embedding=embedding,
                      expires_at=datetime.now(UTC) + timedelta(days=30))  # fmt: skip
    watchlist_for(hub.storage).add_face(entry, "officer", datetime.now(UTC), "")

    admin = hub.client("admin")
    jpeg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
    sent = {"content": jpeg, "headers": {"Content-Type": "image/jpeg"}}
    found = admin.post("/api/privacy/subjects/face/access", **sent).json()
    assert found["counts"] == {"face_entry": 1}
    erased = admin.post("/api/privacy/subjects/face/erase", **sent).json()
    assert erased["counts"] == {"face_entry": 1} and erased["compacted"]
    assert watchlist_for(hub.storage).faces() == []
    assert embedding[:64].encode() not in (hub.storage.data_dir / DATABASE_FILE).read_bytes()
    tombstone = hub.storage.audit.entries(action="subject.erase")[0]
    assert tombstone.detail == "face_entry: 1" and tombstone.target == found["subject_key"]


def test_erasure_redacts_the_plate_from_the_incident_it_opened(hub):
    """The real flow: ingest files the alert under an incident titled with its message, an
    officer notes the plate; the erasure deletes the alert and redacts the plate from the
    incident's title and note (the case record stays). The file then holds the plate
    nowhere (the database is rebuilt, the WAL emptied)."""
    from hub.storage.sqlite import DATABASE_FILE

    car = DetectedObject(label="car", score=0.9, box=(1, 2, 90, 80), track_id=4, plate=PLATE)
    alert = make_alert(objects=[car], message=f"listed vehicle {PLATE}: stolen (case C-1)")
    hub.ingest(alert)
    incident_id = hub.storage.alerts.get(alert.id).incident_id
    officer = hub.client("officer")
    note = {"text": "driver left in 粤C12345, heading north"}
    officer.post(f"/api/incidents/{incident_id}/notes", json=note).raise_for_status()

    admin = hub.client("admin")
    found = admin.post("/api/privacy/subjects/access", json={"plate": "粤C12345"}).json()
    assert found["counts"] == {"alert": 1, "incident_notes": 1, "incidents": 1}
    erased = admin.post("/api/privacy/subjects/erase", json={"plate": "粤C12345"}).json()
    assert erased["counts"] == found["counts"]

    detail = officer.get(f"/api/incidents/{incident_id}").json()
    assert detail["incident"]["title"] == "listed vehicle [erased]: stolen (case C-1)"
    assert [n["text"] for n in detail["notes"]] == ["driver left in [erased], heading north"]
    data = (hub.storage.data_dir / DATABASE_FILE).read_bytes()
    assert b"12345" not in data
