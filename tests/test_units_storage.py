"""Units, trackers, positions and assignments in the real SQLite file: a unit comes back with
its newest position (whatever order points arrived in), a tracker's token is never stored,
a stale save of an assignment loses, and the retention purge drops old track points only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.domain.units import (
    Assignment,
    AssignmentState,
    Availability,
    Position,
    PositionSource,
    Step,
    Tracker,
    Unit,
    UnitKind,
    apply,
)
from hub.retention import Lifetimes, purge
from hub.storage.units import CallsignTaken, StaleAssignment


def new_unit(storage, clock, callsign="P-01", members=("patrol",)) -> Unit:
    now = clock()
    return storage.units.create(
        Unit(
            id=(callsign.encode().hex() + "0" * 32)[:32],
            callsign=callsign,
            kind=UnitKind.CAR,
            members=list(members),
            availability=Availability.AVAILABLE,
            created_at=now,
            updated_at=now,
        )
    )


def point(unit: Unit, at, lat=51.5) -> Position:
    return Position(unit_id=unit.id, lat=lat, lon=-0.12, at=at, source=PositionSource.OSMAND)


def test_a_unit_comes_back_with_its_members_and_newest_position(storage, clock):
    unit = new_unit(storage, clock, members=("patrol", "alice"))
    assert unit.members == ["alice", "patrol"] and unit.position is None
    storage.units.add_position(point(unit, clock() - timedelta(seconds=10), lat=51.6))
    storage.units.add_position(point(unit, clock() - timedelta(seconds=30), lat=51.4))  # late
    got = storage.units.get(unit.id)
    assert got.position.lat == 51.6
    assert [u.callsign for u in storage.units.of_member("alice")] == ["P-01"]
    assert storage.units.of_member("nobody") == []
    with pytest.raises(CallsignTaken):
        new_unit(storage, clock, "P-01")


def test_a_tracker_keeps_only_its_token_hash(storage, clock):
    unit = new_unit(storage, clock)
    tracker = Tracker(id="dev-1", unit_id=unit.id, name="car phone", created_at=clock())
    storage.units.add_tracker(tracker, "ab" * 32)
    found, token_hash = storage.units.tracker("dev-1")
    assert found == tracker and token_hash == "ab" * 32
    assert storage.units.tracker("dev-2") is None
    with pytest.raises(KeyError):
        storage.units.add_tracker(tracker, "cd" * 32)


def test_a_stale_assignment_save_loses(storage, clock, tmp_path):
    unit = new_unit(storage, clock)
    incident_id = _incident(storage, clock)
    first = storage.assignments.create(
        Assignment(
            id="1" * 32,
            incident_id=incident_id,
            unit_id=unit.id,
            state=AssignmentState.DISPATCHED,
            dispatched_at=clock(),
            dispatched_by="desk",
        )
    )
    accepted = apply(first, Step.ACCEPT, clock())
    storage.assignments.save(accepted, AssignmentState.DISPATCHED)
    with pytest.raises(StaleAssignment):
        storage.assignments.save(apply(first, Step.TIME_OUT, clock()), AssignmentState.DISPATCHED)
    assert storage.assignments.get(first.id).state is AssignmentState.ACCEPTED
    assert storage.assignments.active_for_units([unit.id]) == [accepted]
    assert storage.assignments.unaccepted_since(clock()) == []


def test_the_retention_purge_drops_track_points_older_than_positions_days(storage, clock):
    unit = new_unit(storage, clock)
    storage.units.add_position(point(unit, clock() - timedelta(days=8)))
    storage.units.add_position(point(unit, clock() - timedelta(days=6)))
    counts = purge(storage, Lifetimes(positions=7), clock)
    assert counts["positions"] == 1
    left = storage.units.track(unit.id, clock() - timedelta(days=30), clock())
    assert [p.at for p in left] == [clock() - timedelta(days=6)]


def _incident(storage, clock) -> str:
    from hub.events import EventBus
    from hub.incidents.requests import NewIncident
    from hub.incidents.service import IncidentService

    service = IncidentService(storage, EventBus(), clock)
    report = NewIncident(
        source="call", kind="burglary", severity="major", title="t", location={"area": "plaza"}
    )
    return service.open_call(report, "desk")[0].id
