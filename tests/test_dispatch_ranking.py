"""The suggestion ranking and the assignment state machine, as pure functions: which
available unit gets there first (kind speeds, detour factor), and units with an old or no
position after every fresh one, marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contract.place_settings import DispatchSettings, LatLon
from hub.dispatch.ranking import haversine_m, rank
from hub.domain.incidents import Outcome
from hub.domain.units import (
    Assignment,
    AssignmentState,
    Availability,
    IllegalStep,
    Position,
    PositionSource,
    Step,
    Unit,
    UnitKind,
    apply,
)

NOW = datetime(2026, 12, 2, 21, 0, tzinfo=UTC)
TARGET = LatLon(lat=51.5000, lon=-0.1200)
SETTINGS = DispatchSettings()  # foot 5, bicycle 15, car 30 km/h; detour 1.4; fresh 120 s


def unit(
    callsign: str,
    kind: UnitKind,
    metres_north: float | None,
    age_s: float = 10,
    availability: Availability = Availability.AVAILABLE,
) -> Unit:
    """A unit ``metres_north`` of the target (None: no position) measured ``age_s`` ago."""
    position = None
    if metres_north is not None:
        position = Position(
            unit_id=callsign,
            lat=TARGET.lat + metres_north / 111_195,  # metres per degree of latitude
            lon=TARGET.lon,
            at=NOW - timedelta(seconds=age_s),
            source=PositionSource.APP,
        )
    return Unit(
        id=callsign,
        callsign=callsign,
        kind=kind,
        members=[],
        availability=availability,
        position=position,
        created_at=NOW,
        updated_at=NOW,
    )


def test_haversine_gives_a_kilometre_for_a_kilometre_of_latitude():
    assert haversine_m(51.5, -0.12, 51.5 + 1000 / 111_195, -0.12) == pytest.approx(1000, rel=1e-3)


def test_a_car_further_away_beats_a_walker_close_by_when_it_gets_there_sooner():
    walker = unit("F-1", UnitKind.FOOT, 500)  # 500 m * 1.4 / (5 km/h) = 504 s
    car = unit("C-1", UnitKind.CAR, 2000)  # 2000 m * 1.4 / (30 km/h) = 336 s
    bike = unit("B-1", UnitKind.BICYCLE, 1500)  # 1500 * 1.4 / (15 km/h) = 504 s
    ranked = rank([walker, bike, car], TARGET, SETTINGS, NOW)
    assert [s.unit.callsign for s in ranked] == ["C-1", "B-1", "F-1"]  # B-1 < F-1 on callsign
    assert ranked[0].eta_s == pytest.approx(336, abs=1)
    assert ranked[0].distance_m == pytest.approx(2000, rel=1e-3)
    assert ranked[2].eta_s == pytest.approx(504, abs=1)


def test_the_detour_factor_scales_every_eta():
    car = unit("C-1", UnitKind.CAR, 1000)
    straight = rank([car], TARGET, SETTINGS.model_copy(update={"detour_factor": 1.0}), NOW)
    winding = rank([car], TARGET, SETTINGS.model_copy(update={"detour_factor": 2.0}), NOW)
    assert winding[0].eta_s == pytest.approx(2 * straight[0].eta_s, rel=1e-3)
    assert straight[0].eta_s == pytest.approx(120, abs=0.5)  # 1 km at 30 km/h


def test_stale_and_unplaced_units_come_last_and_are_marked():
    fresh_far = unit("C-9", UnitKind.CAR, 5000, age_s=60)
    stale_near = unit("C-1", UnitKind.CAR, 100, age_s=600)
    nowhere = unit("A-0", UnitKind.CAR, None)
    ranked = rank([nowhere, stale_near, fresh_far], TARGET, SETTINGS, NOW)
    assert [(s.unit.callsign, s.stale) for s in ranked] == [
        ("C-9", False),
        ("C-1", True),
        ("A-0", True),
    ]
    assert ranked[1].position_age_s == 600 and ranked[2].position_age_s is None
    assert ranked[2].eta_s is None and ranked[2].distance_m is None


def test_busy_off_duty_and_excluded_units_are_not_suggested():
    units = [
        unit("C-1", UnitKind.CAR, 100, availability=Availability.BUSY),
        unit("C-2", UnitKind.CAR, 200, availability=Availability.OFF_DUTY),
        unit("C-3", UnitKind.CAR, 300),
        unit("C-4", UnitKind.CAR, 400),
    ]
    ranked = rank(units, TARGET, SETTINGS, NOW, exclude={"C-3"})
    assert [s.unit.callsign for s in ranked] == ["C-4"]


def test_without_a_target_units_are_listed_with_their_position_age_but_no_eta():
    ranked = rank([unit("C-1", UnitKind.CAR, 100)], None, SETTINGS, NOW)
    assert ranked[0].eta_s is None and ranked[0].position_age_s == 10 and not ranked[0].stale


def assignment(state: AssignmentState = AssignmentState.DISPATCHED) -> Assignment:
    return Assignment(
        id="a" * 32,
        incident_id="i" * 32,
        unit_id="u" * 32,
        state=state,
        dispatched_at=NOW,
        dispatched_by="desk",
    )


def test_a_tap_that_skips_ahead_fills_the_earlier_times_and_keeps_first_times():
    later = NOW + timedelta(seconds=90)
    on_scene = apply(assignment(), Step.ON_SCENE, later)
    assert on_scene.state is AssignmentState.ON_SCENE
    assert on_scene.accepted_at == on_scene.en_route_at == on_scene.on_scene_at == later
    accepted = apply(assignment(), Step.ACCEPT, NOW + timedelta(seconds=5))
    en_route = apply(accepted, Step.EN_ROUTE, later)
    assert en_route.accepted_at == NOW + timedelta(seconds=5) and en_route.en_route_at == later


def test_resolving_needs_an_outcome_and_ends_the_assignment():
    with pytest.raises(IllegalStep, match="outcome"):
        apply(assignment(AssignmentState.ON_SCENE), Step.RESOLVE, NOW)
    done = apply(assignment(AssignmentState.ON_SCENE), Step.RESOLVE, NOW, Outcome.ARREST, "one")
    assert done.state is AssignmentState.RESOLVED and done.ended_at == NOW
    assert done.outcome is Outcome.ARREST and done.note == "one"


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (AssignmentState.ACCEPTED, Step.TIME_OUT),
        (AssignmentState.ACCEPTED, Step.ACCEPT),
        (AssignmentState.RESOLVED, Step.RELEASE),
        (AssignmentState.TIMED_OUT, Step.ACCEPT),
        (AssignmentState.DISPATCHED, Step.NEED_BACKUP),
    ],
)
def test_steps_the_state_does_not_allow_are_refused(state, step):
    with pytest.raises(IllegalStep):
        apply(assignment(state), step, NOW)
