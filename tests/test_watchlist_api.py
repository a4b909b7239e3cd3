"""Watchlist guardrails through the hub's HTTP API, on a real SQLite file, with the real face
model (contract/face_descriptor.py) on real faces: each rule is refused with a 4xx and its
reason, photos are sealed on disk and gone after deletion or expiry, and a face match waits
for two different officers (not the enroller) before it is an incident that can be
dispatched."""

from __future__ import annotations

import os
import stat
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
    as_json,
    authorisation,
    authorise,
    carphone_photo,
    enrol,
    sealed_files,
    watchlist_config,
)

from contract.watchlist import MAX_WATCHLIST_BYTES, PlateEntry, decode_update
from hub.clock import ManualClock
from hub.domain.users import Role


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def hub(tmp_path: Path, clock: ManualClock) -> Iterator[ApiHub]:
    api = serve_api(tmp_path / "hub", clock=clock, config=watchlist_config())
    for name in ("officer_a", "officer_b"):
        api.passwords[name] = api.accounts.create_user(name, Role.OFFICER)
    yield api
    api.close()


def test_a_face_entry_needs_a_live_authorisation_a_supervisor_and_a_face(hub, clock):
    no_such = "0" * 32
    r = enrol(hub, no_such, carphone_photo())
    assert r.status_code == 403 and "authorisation" in r.json()["detail"]
    auth_id = authorise(hub, clock)
    assert enrol(hub, auth_id, carphone_photo(), who="officer").status_code == 403  # role
    grey = cv2.imencode(".jpg", np.full((200, 200, 3), 127, np.uint8))[1].tobytes()
    r = enrol(hub, auth_id, grey)
    assert r.status_code == 422 and "no face" in r.json()["detail"]
    r = enrol(hub, auth_id, b"not a photo")
    assert r.status_code == 400
    later = (clock() + timedelta(days=30)).isoformat()
    assert enrol(hub, auth_id, carphone_photo(), expires_at=later).status_code == 400
    # An authorisation for a camera the site does not have, or one already over.
    body = as_json(authorisation(clock(), cameras=["gw-plaza/nowhere"]))
    r = hub.client("supervisor").post("/api/watchlist/authorisations", json=body)
    assert r.status_code == 400 and "no such camera" in r.json()["detail"]
    body = as_json(authorisation(clock() - timedelta(days=10)))
    r = hub.client("supervisor").post("/api/watchlist/authorisations", json=body)
    assert r.status_code == 400
    r = hub.client("officer").post(
        "/api/watchlist/authorisations", json=as_json(authorisation(clock()))
    )
    assert r.status_code == 403
    # Expired: the clock passes its window; enrolment under it is refused.
    assert enrol(hub, auth_id, carphone_photo()).status_code == 201
    clock.advance(days=4)
    r = enrol(hub, auth_id, carphone_photo())
    assert r.status_code == 403 and "expired" in r.json()["detail"]


def test_face_recognition_off_for_the_site_refuses_enrolment(tmp_path, clock):
    api = serve_api(tmp_path / "hub", clock=clock, config=watchlist_config(faces=False))
    try:
        auth_id = authorise(api, clock)
        r = enrol(api, auth_id, carphone_photo())
        assert r.status_code == 409 and "off" in r.json()["detail"]
        assert all(not decode_update(p, "riverside", n).faces
                   for n, p in api.service.watchlist.service.updates().items())  # fmt: skip
    finally:
        api.close()


def test_the_photo_is_sealed_on_disk_opened_only_by_a_supervisor_and_deleted(hub, clock):
    auth_id = authorise(hub, clock)
    photo = carphone_photo()
    r = enrol(hub, auth_id, photo)
    assert r.status_code == 201, r.text
    entry_id = r.json()["id"]
    files = sealed_files(hub)
    assert len(files) == 1
    for path in (hub.storage.data_dir / "watchlist").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not data.startswith(JPEG_MAGIC) and JPEG_MAGIC not in data, path
            assert photo[100:200] not in data
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    # The database holds the embedding, never the photo.
    assert photo[100:200] not in (hub.storage.data_dir / "hub.sqlite3").read_bytes()
    # The entry list shows no photo or embedding; opening one is a supervisor's, audited.
    listed = hub.client("officer").get("/api/watchlist").json()["faces"]
    assert [f["id"] for f in listed] == [entry_id] and "embedding" not in listed[0]
    url = f"/api/watchlist/faces/{entry_id}/photo"
    assert hub.client("officer").get(url).status_code == 403
    assert hub.client("supervisor").get(url).content == photo
    assert hub.storage.audit.entries(action="watchlist.view_photo", target=entry_id)
    assert hub.storage.audit.entries(action="watchlist.enrol", target=entry_id)
    # An officer cannot remove a face entry; a supervisor can, and the file goes with it.
    assert hub.client("officer").delete(f"/api/watchlist/entries/{entry_id}").status_code == 403
    assert hub.client("supervisor").delete(f"/api/watchlist/entries/{entry_id}").status_code == 204
    assert sealed_files(hub) == []
    assert hub.client("supervisor").get(url).status_code == 404


def test_expiry_and_ending_delete_entries_and_photos(hub, clock):
    wl = hub.service.watchlist
    auth_id = authorise(hub, clock)
    soon = (clock() + timedelta(hours=2)).isoformat()
    short = enrol(hub, auth_id, carphone_photo(0), expires_at=soon).json()["id"]
    enrol(hub, auth_id, carphone_photo(60))
    plate = {"plate": "粤C·12345", "reason": "stolen van", "owner": "officer",
             "case_ref": "RV-7", "expires_at": soon}  # fmt: skip
    assert hub.client("officer").post("/api/watchlist/plates", json=plate).status_code == 201
    assert len(sealed_files(hub)) == 2
    clock.advance(hours=3)
    done = wl.step()
    assert done["entries"] == 2  # the short face entry and the plate
    assert [f.entry.id for f in wl.repo.faces()] != [short] and len(wl.repo.faces()) == 1
    assert wl.repo.plates() == [] and len(sealed_files(hub)) == 1
    assert hub.storage.audit.entries(action="watchlist.expire", target=short)
    # Ending the authorisation ends its faces at once.
    r = hub.client("supervisor").post(f"/api/watchlist/authorisations/{auth_id}/end")
    assert r.json() == {"faces_deleted": 1}
    assert wl.repo.faces() == [] and sealed_files(hub) == []
    assert (
        hub.client("supervisor").post(f"/api/watchlist/authorisations/{auth_id}/end").status_code
        == 409
    )
    assert enrol(hub, auth_id, carphone_photo()).status_code == 403
    # An authorisation whose expiry passes ends by itself with its faces.
    second = authorise(hub, clock)
    enrol(hub, second, carphone_photo())
    clock.advance(days=4)
    assert wl.step()["authorisations"] == 1
    assert wl.repo.faces() == [] and sealed_files(hub) == []
    assert wl.repo.authorisation(second).ended_why == "expired"


def test_a_face_is_sent_only_to_the_gateway_in_scope(hub, clock):
    wl = hub.service.watchlist
    auth_id = authorise(hub, clock)  # the plaza camera only
    entry_id = enrol(hub, auth_id, carphone_photo()).json()["id"]
    tomorrow = (clock() + timedelta(days=1)).isoformat()
    plate = {"plate": "粤C·12345", "reason": "stolen van", "owner": "officer",
             "case_ref": "RV-7", "expires_at": tomorrow}  # fmt: skip
    hub.client("officer").post("/api/watchlist/plates", json=plate)
    updates = {n: decode_update(p, "riverside", n) for n, p in wl.service.updates().items()}
    assert [f.id for f in updates["gw-plaza"].faces] == [entry_id]
    assert [a.id for a in updates["gw-plaza"].authorisations] == [auth_id]
    assert updates[GATE].faces == [] and updates[GATE].authorisations == []
    assert len(updates[GATE].plates) == len(updates["gw-plaza"].plates) == 1
    # An area in scope reaches that area's gateway; without signs, no gateway gets a face.
    authorise(hub, clock, cameras=[], areas=["gate"])
    wl.service.config = watchlist_config(signage=False)
    assert all(not decode_update(p, "riverside", n).faces
               for n, p in wl.service.updates().items())  # fmt: skip


def test_a_change_that_would_not_fit_a_gateways_update_is_refused(hub, clock):
    wl = hub.service.watchlist
    auth_id = authorise(hub, clock)
    assert enrol(hub, auth_id, carphone_photo()).status_code == 201
    face = wl.repo.faces()[0].entry
    # Fill the plaza's list near the broker's limit straight in the tables (thousands of
    # HTTP calls would prove nothing more), then one more face through the API.
    with wl.repo.transaction():
        for i in range(3990):
            entry = PlateEntry(
                id=f"{i:032x}", plate=f"粤C{i:05d}", reason="r" * 200, owner="o" * 32,
                case_ref="c" * 64, expires_at=clock() + timedelta(days=1),
            )  # fmt: skip
            wl.repo.add_plate(entry, entry.plate, "officer", clock())
        size, n = len(wl.service.updates()["gw-plaza"]), 0
        # Until exactly one more face fits: size + one face <= limit < size + two faces.
        while n == 0 or size + len(face.model_dump_json()) + 1 <= MAX_WATCHLIST_BYTES:
            copy = face.model_copy(update={"id": f"{n:031x}f"})
            wl.repo.add_face(copy, "supervisor", clock(), "watchlist/photos/none.sealed")
            size, n = len(wl.service.updates()["gw-plaza"]), n + 1
    before = len(wl.repo.faces())
    r = enrol(hub, auth_id, carphone_photo(10))
    assert r.status_code == 413 and "bytes" in r.json()["detail"], r.text
    assert len(wl.repo.faces()) == before
    assert len(sealed_files(hub)) == 1  # the refused photo was not kept
