"""An incident's life: every legal move, every illegal one refused with a reason, notes and
photos. The service runs on a real SQLite file with a manual clock."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from incident_kit import ILLEGAL, LEGAL, ROUTE_TO, IncidentDesk, jpeg_bytes, open_desk, png_bytes

from hub.domain.incidents import (
    TRANSITIONS,
    Action,
    IllegalTransition,
    Incident,
    IncidentState,
    Outcome,
)
from hub.events import IncidentChanged
from hub.incidents.attachments import MAX_ATTACHMENT_BYTES
from hub.incidents.errors import (
    AttachmentNotFound,
    AttachmentTooLarge,
    IncidentNotFound,
    InvalidIncidentRequest,
    StaleIncident,
    UnsupportedAttachment,
)

S = IncidentState
NO_ID = "0" * 32


@pytest.fixture
def desk(tmp_path: Path):
    desk = open_desk(tmp_path)
    yield desk
    desk.storage.close()


def incident_in(desk: IncidentDesk, state: IncidentState) -> Incident:
    incident = desk.call()
    for action in ROUTE_TO[state]:
        desk.clock.advance(seconds=30)
        outcome = Outcome.HANDLED if action is Action.RESOLVE else None
        incident = desk.service.act(incident.id, action, "ana", outcome=outcome)
    assert incident.state is state
    return incident


def test_the_routes_reach_every_state_and_the_tables_cover_every_pair():
    assert set(ROUTE_TO) == set(IncidentState)
    assert len(LEGAL) + len(ILLEGAL) == len(Action) * len(IncidentState)


@pytest.mark.parametrize(("action", "state"), LEGAL, ids=lambda v: v.value)
def test_every_legal_move_is_kept_as_a_transition_and_published(desk, action, state):
    incident = incident_in(desk, state)
    desk.clock.advance(seconds=12)
    outcome = Outcome.ARREST if action is Action.RESOLVE else None
    moved = desk.service.act(incident.id, action, "budi", note="unit 3", outcome=outcome)

    assert moved.state is TRANSITIONS[action][1]
    assert moved.updated_at == desk.clock()
    last = desk.storage.incidents.transitions(incident.id)[-1]
    assert (last.action, last.from_state, last.to_state) == (action, state, moved.state)
    assert (last.actor, last.note, last.at) == ("budi", "unit 3", desk.clock())
    assert last.outcome == outcome
    event = desk.events[-1]
    assert isinstance(event, IncidentChanged)
    assert (event.change, event.incident) == (action.value, moved)


@pytest.mark.parametrize(("action", "state"), ILLEGAL, ids=lambda v: v.value)
def test_every_illegal_move_is_refused_with_the_reason(desk, action, state):
    incident = incident_in(desk, state)
    before = len(desk.storage.incidents.transitions(incident.id))
    allowed = ", ".join(s.value for s in TRANSITIONS[action][0])
    expected = (
        f"cannot {action.value} incident {incident.ref}: it is {state.value}"
        f" (only {allowed} incidents can be)"
    )
    outcome = Outcome.HANDLED if action is Action.RESOLVE else None
    with pytest.raises(IllegalTransition) as refused:
        desk.service.act(incident.id, action, "budi", outcome=outcome)
    assert str(refused.value) == expected
    assert desk.storage.incidents.get(incident.id) == incident  # nothing changed
    assert len(desk.storage.incidents.transitions(incident.id)) == before


def test_resolving_needs_an_outcome(desk):
    incident = incident_in(desk, S.ON_SCENE)
    with pytest.raises(IllegalTransition, match="resolving needs an outcome: one of arrest"):
        desk.service.act(incident.id, Action.RESOLVE, "ana")
    assert desk.storage.incidents.get(incident.id).state is S.ON_SCENE


def test_an_outcome_goes_only_with_resolve(desk):
    incident = desk.call()
    with pytest.raises(InvalidIncidentRequest):
        desk.service.act(incident.id, Action.ACKNOWLEDGE, "ana", outcome=Outcome.ARREST)


def test_acting_on_an_unknown_incident_says_so(desk):
    with pytest.raises(IncidentNotFound):
        desk.service.act(NO_ID, Action.ACKNOWLEDGE, "ana")


def test_milestones_keep_the_first_time_each_state_was_reached(desk):
    incident = desk.call()
    opened = desk.clock()
    desk.clock.advance(seconds=40)
    dispatched = desk.service.act(incident.id, Action.DISPATCH, "ana")
    # Dispatching straight away acknowledges too.
    assert dispatched.acknowledged_at == dispatched.dispatched_at == desk.clock()
    desk.clock.advance(seconds=60)
    desk.service.act(incident.id, Action.ARRIVE, "ana")  # no en route: it was close by
    desk.clock.advance(seconds=600)
    resolved = desk.service.act(incident.id, Action.RESOLVE, "ana", outcome=Outcome.NO_TRACE)
    assert (resolved.opened_at, resolved.en_route_at) == (opened, None)
    assert resolved.resolved_at == desk.clock() and resolved.outcome is Outcome.NO_TRACE

    desk.clock.advance(hours=1)
    reopened = desk.service.act(incident.id, Action.REOPEN, "ana", note="suspect seen again")
    assert reopened.state is S.ACKNOWLEDGED
    assert (reopened.resolved_at, reopened.outcome) == (None, None)
    assert reopened.acknowledged_at == dispatched.acknowledged_at  # the first one stays


def test_two_officers_acting_on_the_same_old_view_cannot_both_win(desk):
    incident = desk.call()
    desk.service.act(incident.id, Action.ACKNOWLEDGE, "ana")
    stale = incident.model_copy(update={"state": S.CANCELLED})
    transition = desk.storage.incidents.transitions(incident.id)[-1].model_copy(
        update={"from_state": S.NEW, "to_state": S.CANCELLED, "action": Action.CANCEL}
    )
    with pytest.raises(StaleIncident):
        desk.storage.incidents.save(stale, transition)
    assert desk.storage.incidents.get(incident.id).state is S.ACKNOWLEDGED


# --- notes -----------------------------------------------------------------------------


def test_a_note_is_kept_with_its_author_and_time_and_touches_the_incident(desk):
    incident = desk.call()
    desk.clock.advance(seconds=90)
    note = desk.service.add_note(incident.id, "budi", "caller rang again: two men, one red jacket")
    assert (note.author, note.at, note.incident_id) == ("budi", desk.clock(), incident.id)
    assert desk.storage.incidents.notes(incident.id) == [note]
    assert desk.storage.incidents.get(incident.id).updated_at == desk.clock()
    assert desk.events[-1].change == "note"


def test_a_note_on_an_unknown_incident_is_refused(desk):
    with pytest.raises(IncidentNotFound):
        desk.service.add_note(NO_ID, "budi", "hello")


# --- photos ----------------------------------------------------------------------------


def test_a_jpeg_photo_is_kept_whole_in_the_incidents_own_folder(desk):
    incident = desk.call()
    data = jpeg_bytes()
    attachment = desk.service.add_attachment(incident.id, "budi", "door.jpg", data, "image/jpeg")
    assert (attachment.content_type, attachment.size) == ("image/jpeg", len(data))
    assert desk.service.attachment(incident.id, attachment.id) == (attachment, data)
    assert desk.storage.incidents.attachments(incident.id) == [attachment]
    assert desk.events[-1].change == "attachment"

    [stored] = (desk.storage.data_dir / "attachments" / incident.id).iterdir()
    assert stored.read_bytes() == data
    assert stored.name != "door.jpg"  # stored under a name the hub made up
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600


def test_a_png_is_recognised_by_its_bytes_whatever_its_name(desk):
    incident = desk.call()
    attachment = desk.service.add_attachment(incident.id, "budi", "scan.jpg", png_bytes())
    assert attachment.content_type == "image/png"


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (b"GIF89a\x01\x00\x01\x00", None),  # an image, but not one we take
        (b"<svg onload=alert(1)>", "image/png"),  # a script claiming to be a photo
        (png_bytes(), "image/jpeg"),  # a real photo of another type than declared
        (b"", None),
    ],
    ids=["gif", "svg", "png-as-jpeg", "empty"],
)
def test_anything_but_a_jpeg_or_png_is_refused(desk, data, declared):
    incident = desk.call()
    with pytest.raises(UnsupportedAttachment):
        desk.service.add_attachment(incident.id, "budi", "x.jpg", data, declared)
    assert desk.storage.incidents.attachments(incident.id) == []


def test_a_photo_over_5_mib_is_refused(desk):
    incident = desk.call()
    data = jpeg_bytes().ljust(MAX_ATTACHMENT_BYTES + 1, b"\0")
    with pytest.raises(AttachmentTooLarge):
        desk.service.add_attachment(incident.id, "budi", "big.jpg", data)
    at_limit = jpeg_bytes().ljust(MAX_ATTACHMENT_BYTES, b"\0")
    assert desk.service.add_attachment(incident.id, "budi", "ok.jpg", at_limit).size == len(
        at_limit
    )


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\door photo.jpg", "door photo.jpg"),
        ('x"; filename=evil.sh\r\n', "x_ filename_evil.sh"),
        ("", "photo.jpg"),
        (None, "photo.jpg"),
    ],
)
def test_the_photos_name_is_only_a_safe_label(desk, given, kept):
    incident = desk.call()
    attachment = desk.service.add_attachment(incident.id, "budi", given, jpeg_bytes())
    assert attachment.filename == kept


def test_a_photo_is_served_only_from_its_incident(desk):
    first, second = desk.call(), desk.call()
    attachment = desk.service.add_attachment(first.id, "budi", "a.jpg", jpeg_bytes())
    with pytest.raises(AttachmentNotFound):
        desk.service.attachment(second.id, attachment.id)
    with pytest.raises(AttachmentNotFound):
        desk.service.attachment(first.id, attachment.id + 1)


def test_a_tampered_file_name_never_reaches_outside_the_incidents_folder(desk, tmp_path):
    incident = desk.call()
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(jpeg_bytes())
    attachment = desk.service.add_attachment(incident.id, "budi", "a.jpg", jpeg_bytes())
    with desk.storage.incidents.database.write() as db:
        db.execute(
            "UPDATE incident_attachments SET stored_name = ? WHERE id = ?",
            [str(Path("..", "..", "..", "secret.jpg")), attachment.id],
        )
    with pytest.raises(AttachmentNotFound):
        desk.service.attachment(incident.id, attachment.id)


def test_a_photo_for_an_unknown_incident_is_refused_and_leaves_no_file(desk):
    with pytest.raises(IncidentNotFound):
        desk.service.add_attachment(NO_ID, "budi", "a.jpg", jpeg_bytes())
    assert not (desk.storage.data_dir / "attachments" / NO_ID).exists()
