"""Incidents that people and other systems open: phone calls at the duty desk, and reports
through the API with an idempotency key (the same request twice makes one incident)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from incident_kit import open_desk, phone_call
from pydantic import ValidationError

from hub.domain.incidents import Caller, Category, IncidentState, Location, Source
from hub.events import IncidentChanged
from hub.incidents.errors import IdempotencyKeyReused, InvalidIncidentRequest


@pytest.fixture
def desk(tmp_path: Path):
    desk = open_desk(tmp_path)
    yield desk
    desk.storage.close()


def report(**fields):
    return phone_call(**({"source": "external", "external_ref": "CAD-2291"} | fields))


def test_a_phone_call_opens_a_new_incident_with_caller_place_and_description(desk):
    incident, created = desk.service.open_call(
        phone_call(description="Glass broken at the back, caller hiding inside"), "ana"
    )
    assert created
    assert (incident.source, incident.category, incident.state) == (
        Source.CALL,
        Category.SECURITY,
        IncidentState.NEW,
    )
    assert incident.caller == Caller(name="Ibu Sari", phone="+62 812 5550 1234")
    assert incident.location == Location(area="plaza")
    assert (incident.opened_by, incident.opened_at) == ("ana", desk.clock())
    assert incident.ref == "INC-20261202-0001"
    [note] = desk.storage.incidents.notes(incident.id)
    assert (note.author, note.text) == ("ana", "Glass broken at the back, caller hiding inside")
    assert desk.events == [IncidentChanged(incident=incident, change="opened")]


@pytest.mark.parametrize(
    "where",
    [
        {"lat": -7.2575, "lon": 112.7521},
        {"address": "Jl. Kenanga 12, RT 03"},
        {"area": "north-gate", "address": "the back gate"},
    ],
)
def test_a_place_is_an_area_a_point_or_an_address(desk, where):
    incident, _ = desk.service.open_call(phone_call(location=where), "ana")
    assert incident.location == Location(**where)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({}, "say where"),
        ({"lat": -7.2575}, "both lat and lon"),
        ({"lat": 91, "lon": 0}, "less than or equal to 90"),
        ({"address": "x" * 201}, "at most 200"),
    ],
)
def test_a_report_without_a_usable_place_is_refused(where, message):
    with pytest.raises(ValidationError, match=message):
        phone_call(location=where)


def test_an_area_the_site_does_not_have_is_refused(desk):
    with pytest.raises(InvalidIncidentRequest, match="unknown area 'harbour'"):
        desk.service.open_call(phone_call(location={"area": "harbour"}), "ana")
    assert desk.storage.incidents.queue() == []


@pytest.mark.parametrize(
    "bad",
    [
        {"title": "   "},
        {"title": "x" * 121},
        {"kind": "Burglary!"},
        {"severity": "urgent"},
        {"caller": {"phone": "call me maybe"}},
        {"colour": "red"},
    ],
)
def test_every_field_has_a_shape_and_a_limit(bad):
    with pytest.raises(ValidationError):
        phone_call(**bad)


def test_a_call_about_a_maintenance_kind_is_a_maintenance_incident(desk):
    incident, _ = desk.service.open_call(phone_call(kind="stream_lost"), "ana")
    assert incident.category is Category.MAINTENANCE


def test_each_method_opens_only_its_own_source(desk):
    with pytest.raises(InvalidIncidentRequest):
        desk.service.open_call(report(), "ana")
    with pytest.raises(InvalidIncidentRequest):
        desk.service.open_external(phone_call(), "cad")


def test_the_same_idempotency_key_twice_gives_one_incident(desk):
    first, created = desk.service.open_external(report(), "cad", "req-7f3a")
    again, created_again = desk.service.open_external(report(), "cad", "req-7f3a")
    assert (created, created_again) == (True, False)
    assert again == first
    assert first.external_ref == "CAD-2291" and first.source is Source.EXTERNAL
    assert len(desk.storage.incidents.queue()) == 1
    assert [e.change for e in desk.events] == ["opened"]  # told once
    # The retry spent no reference number.
    assert desk.service.open_external(report(), "cad")[0].ref == "INC-20261202-0002"


def test_the_same_key_with_a_different_request_is_refused(desk):
    desk.service.open_external(report(), "cad", "req-7f3a")
    with pytest.raises(IdempotencyKeyReused, match="different request"):
        desk.service.open_external(report(severity="critical"), "cad", "req-7f3a")


def test_keys_belong_to_the_user_that_sent_them(desk):
    """Another system using the same key gets its own incident, never a look at ours."""
    ours, _ = desk.service.open_external(report(), "cad", "1")
    theirs, created = desk.service.open_external(report(), "alarm-company", "1")
    assert created and theirs.id != ours.id


def test_without_a_key_every_request_is_a_new_incident(desk):
    first, _ = desk.service.open_external(report(), "cad")
    second, _ = desk.service.open_external(report(), "cad")
    assert first.id != second.id


def test_two_requests_with_one_key_at_the_same_moment_make_one_incident(desk):
    start = threading.Barrier(8)
    results = []

    def send() -> None:
        start.wait()
        results.append(desk.service.open_external(report(), "cad", "burst-1"))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({incident.id for incident, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 7 + [True]
    assert len(desk.storage.incidents.queue()) == 1


def test_the_database_itself_refuses_a_second_incident_under_one_key(desk):
    """The last line of defence, should two writers both look before either writes: the
    (user, key) primary key refuses the second, and its incident row goes with it."""
    first, _ = desk.service.open_external(report(), "cad", "race")
    loser = first.model_copy(update={"id": "f" * 32, "ref": "INC-20261202-0099"})
    with pytest.raises(sqlite3.IntegrityError):
        desk.storage.incidents._insert(loser, "race", None, None)
    assert desk.storage.incidents.get(loser.id) is None
