"""The demo's patrol simulator moves its units as promised: round a small beat near home,
straight to the incident at the kind's speed once en route, then on scene where it stays;
called off on the way, it patrols from where it is. (The demo test checks the same units
end to end through the hub's OsmAnd endpoint.)"""

from __future__ import annotations

from datetime import UTC, datetime

from contract.place_settings import LatLon
from contract.siteconfig import load_site_config
from hub.dispatch.ranking import haversine_m
from hub.domain.units import Assignment, AssignmentState
from hub.events import AssignmentChanged
from villagewatch.cli import DEFAULT_CONFIG
from villagewatch.patrol_sim import (
    BEAT_RADIUS_M,
    DEMO_PATROLS,
    PatrolSimulator,
    SimulatedUnit,
    home_of,
    move,
)

HOME = LatLon(lat=51.4857, lon=-0.1251)
SCENE = LatLon(lat=51.485932, lon=-0.124114)


def car() -> SimulatedUnit:
    return SimulatedUnit(
        unit_id="a" * 32,
        callsign="P-02",
        kind="car",
        crew="patrol-02",
        speed_kmh=36.0,  # 10 m/s
        device_id="p-02",
        token="t",
        home=HOME,
    )


def order(state: AssignmentState, incident: str = "b" * 32) -> AssignmentChanged:
    assignment = Assignment(
        id="c" * 32,
        incident_id=incident,
        unit_id="a" * 32,
        state=state,
        dispatched_at=datetime(2026, 1, 1, tzinfo=UTC),
        dispatched_by="duty-desk",
    )
    return AssignmentChanged(assignment=assignment, change=state.value, callsign="P-02")


def simulator(unit: SimulatedUnit) -> PatrolSimulator:
    return PatrolSimulator("http://127.0.0.1:9", [unit], lambda incident_id: SCENE)


def where(unit: SimulatedUnit) -> float:
    return haversine_m(unit.lat, unit.lon, SCENE.lat, SCENE.lon)


def test_on_its_beat_a_unit_circles_near_home_and_heads_along_the_circle():
    unit = car()
    for _ in range(50):
        move(unit, 2.0)
        from_home = haversine_m(unit.lat, unit.lon, HOME.lat, HOME.lon)
        assert abs(from_home - BEAT_RADIUS_M) < 0.5
        assert 0 <= unit.bearing < 360
    assert unit.mode == "patrol"


def test_en_route_it_drives_straight_at_its_speed_then_stays_on_scene():
    unit = car()
    sim = simulator(unit)
    sim._follow(order(AssignmentState.ACCEPTED))
    assert unit.mode == "patrol"  # accepting is not moving yet
    sim._follow(order(AssignmentState.EN_ROUTE))
    assert unit.mode == "drive"
    start = where(unit)
    move(unit, 2.0)
    assert abs((start - where(unit)) - 20.0) < 0.5  # 10 m/s for 2 s, straight at it
    while unit.mode == "drive":
        move(unit, 2.0)
    assert unit.mode == "scene" and where(unit) < 0.01
    sim._follow(order(AssignmentState.RESOLVED))
    move(unit, 60.0)
    assert where(unit) < 0.01  # resolved: it stays where it is


def test_called_off_on_the_way_it_patrols_from_where_it_is():
    unit = car()
    sim = simulator(unit)
    sim._follow(order(AssignmentState.EN_ROUTE))
    move(unit, 2.0)
    there = LatLon(lat=unit.lat, lon=unit.lon)
    sim._follow(order(AssignmentState.RELEASED))
    assert unit.mode == "patrol" and unit.home == there


def test_demo_units_start_on_the_demo_plan():
    config = load_site_config(DEFAULT_CONFIG)
    bounds = config.map.bounds
    for plan in DEMO_PATROLS:
        home = home_of(plan, config)
        assert bounds.south_west.lat < home.lat < bounds.north_east.lat
        assert bounds.south_west.lon < home.lon < bounds.north_east.lon
