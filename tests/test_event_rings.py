"""Event rings across cameras: hand-computed aggregation with two overlapping cameras, ring
areas, thresholds that open one incident per episode, the stored series and the replay.

Real parts: the hub's SQLite storage in a temporary folder, the node stats as ingest stores
them, the incident repository; the clock is a ManualClock (no sleeping, no timing).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from event_kit import NOW, report, site_config, stats

from contract.event_settings import SiteEvent
from contract.place_settings import LatLon
from contract.siteconfig import ConfigError
from hub.clock import ManualClock
from hub.domain.incidents import Category
from hub.events import EventBus
from hub.events_security.aggregate import CameraReading, aggregate
from hub.events_security.geometry import area_m2
from hub.events_security.service import EventSecurity, incident_key
from hub.storage.incidents import IncidentQuery
from hub.storage.sqlite import open_sqlite_storage

#: 0.001° of a great circle on the mean-radius earth: 6,371,008.8 m x π/180 x 0.001.
MILLIDEGREE_M = 111.19508


def test_a_millidegree_square_on_the_equator_is_12364_square_metres():
    square = [LatLon(lat=a, lon=b) for a, b in [(0, 0), (0, 0.001), (0.001, 0.001), (0.001, 0)]]
    assert area_m2(square) == pytest.approx(MILLIDEGREE_M**2, rel=1e-6)  # 12,364.35 m²
    # At 60° north a degree of longitude is half as long: half the area.
    north = [LatLon(lat=60 + p.lat, lon=p.lon) for p in square]
    assert area_m2(north) == pytest.approx(MILLIDEGREE_M**2 / 2, rel=1e-3)


def readings(north: int, south: int, south_control: int, east: tuple[int, int], east_age_s=0):
    """north and south see the core (the same ground); south and east see disjoint control."""
    east_at = NOW - timedelta(seconds=east_age_s)
    return {
        "north": CameraReading("north", {"stage/core": north}, NOW, True, True, True),
        "south": CameraReading(
            "south", {"stage/core": south, "stage/control": south_control}, NOW, True, True, True
        ),
        "east": CameraReading(
            "east", {"east/control": east[0], "east/diversion": east[1]}, east_at, True, True, False
        ),
    }


def test_two_overlapping_cameras_count_the_core_once():
    event = site_config().events[0]
    rings = {f.ring: f for f in aggregate(event, readings(30, 22, 40, (15, 60)), NOW)}
    # core: north 30 and south 22 see the same ground (group "stage"): max, not 52.
    assert rings["core"].occupancy == 30
    assert rings["core"].upper == 52
    assert [(f.camera, f.counted) for f in rings["core"].feeds] == [
        ("north", True),
        ("south", False),
    ]
    # control: south 40 and east 15 see disjoint ground (no group): 55.
    assert rings["control"].occupancy == 55 == rings["control"].upper
    assert rings["diversion"].occupancy == 60
    # Density: the core's cameras are calibrated; 30 people over the core's map area.
    core_area = area_m2(event.rings.core.polygon)
    assert rings["core"].area_m2 == pytest.approx(core_area, abs=0.1)
    assert rings["core"].per_m2 == pytest.approx(30 / core_area, abs=1e-4)
    # ... the control ring is a band (its polygon minus the core's); east is not calibrated.
    band = area_m2(event.rings.control.polygon) - core_area
    assert rings["control"].area_m2 == pytest.approx(band, abs=0.1)
    assert rings["control"].per_m2 is None
    assert rings["core"].load == 0.75  # 30 / 40
    assert all(f.complete for f in rings.values())


def test_the_bigger_view_wins_whichever_camera_has_it():
    event = site_config().events[0]
    rings = {f.ring: f for f in aggregate(event, readings(18, 26, 0, (0, 0)), NOW)}
    assert rings["core"].occupancy == 26
    assert [f.counted for f in rings["core"].feeds] == [False, True]


def test_a_stale_camera_is_left_out_and_shown_unhealthy():
    event = site_config().events[0]  # stale_after_s: 120
    rings = {f.ring: f for f in aggregate(event, readings(30, 22, 40, (15, 60), 600), NOW)}
    assert rings["control"].occupancy == 40  # east's 15 are 10 minutes old
    assert rings["control"].complete is False
    east = next(f for f in rings["control"].feeds if f.camera == "east")
    assert (east.healthy, east.problem, east.count) == (False, "count 600 s old", 15)
    assert rings["diversion"].occupancy == 0
    assert rings["core"].complete is True


def test_feeds_must_name_a_real_crowd_ring():
    bad = site_config().events[0].model_dump(mode="json")
    bad["feeds"] = [{"camera": "east", "crowd": "east", "ring": "core"}]
    with pytest.raises(ConfigError, match="crowd rule 'east' has no 'core' ring"):
        site_config([bad])
    bad["feeds"] = [{"camera": "west", "crowd": "stage", "ring": "core"}]
    with pytest.raises(ConfigError, match="no camera 'west'"):
        site_config([bad])


@pytest.fixture
def hub(tmp_path):
    storage = open_sqlite_storage(tmp_path / "hub")
    clock = ManualClock(NOW)
    service = EventSecurity(storage, EventBus(), site_config(), clock)
    yield service, storage, clock
    storage.close()


def core_counts(north: int, south: int, at) -> dict:
    return {"north": stats({"stage/core": north}, at), "south": stats({"stage/core": south}, at)}


def open_crowd_incidents(storage):
    found, _ = storage.incidents.find(IncidentQuery(kind="crowd", limit=10))
    return [i for i in found if i.state.is_open]


def test_the_core_over_its_limit_opens_one_incident_per_episode(hub):
    events, storage, clock = hub
    # 25 + 24 would be over the core's 40 if added; they see the same ground: 25, under.
    report(storage, clock(), core_counts(25, 24, clock()))
    assert events.tick() == []
    # 41 > 40: over_samples is 2, so the first sample over does not open yet ...
    clock.advance(seconds=15)
    report(storage, clock(), core_counts(41, 30, clock()))
    assert events.tick() == []
    # ... the second does.
    clock.advance(seconds=15)
    report(storage, clock(), core_counts(44, 41, clock()))
    opened = events.tick()
    assert len(opened) == 1
    incident = opened[0].incident
    assert incident.category == Category.SECURITY and incident.kind == "crowd"
    assert incident.location.area == "plaza"
    assert "core ring over its limit: 44 people (limit 40)" in incident.title
    assert storage.incidents.open_maintenance(incident_key("riverside", "fireworks", "core"))
    # Still over, then down to 35 (not below 0.8 x 40 = 32: not re-armed), then over again:
    # the same episode, no second incident.
    for north in (46, 35, 45, 45):
        clock.advance(seconds=15)
        report(storage, clock(), core_counts(north, 0, clock()))
        assert events.tick() == []
    assert len(open_crowd_incidents(storage)) == 1


def test_samples_make_the_trend_and_the_replay(hub):
    events, storage, clock = hub
    for north, south in [(10, 12), (20, 18), (30, 31)]:
        report(storage, clock(), core_counts(north, south, clock()))
        events.tick()
        clock.advance(seconds=15)
    info = events.get("fireworks")
    board = events.dashboard(info)
    assert [p.occupancy for p in board.trend["core"]] == [12, 20, 31]
    assert [p.upper for p in board.trend["core"]] == [22, 38, 61]
    assert board.trend["control"] == [] or all(p.occupancy == 0 for p in board.trend["control"])
    replay = events.replay(info, info.event.starts_at, info.event.ends_at)
    assert [f.rings["core"].occupancy for f in replay.frames] == [12, 20, 31]
    # The heat of each moment: the counted camera ring at its camera's place on the map.
    assert [h[2] for h in replay.frames[-1].heat] == [31]
    # Retention: the series goes keep_days after the event's end, not before.
    kept = info.event.ends_at + timedelta(days=info.event.keep_days)
    assert events.store.purge({"fireworks": kept}, kept - timedelta(seconds=1), 365) == 0
    assert events.store.purge({"fireworks": kept}, kept, 365) == 9  # 3 moments x 3 rings


def test_a_supervisor_event_is_stored_and_sampled(hub):
    events, storage, clock = hub
    made = site_config().events[0].model_dump(mode="json") | {"id": "market"}
    assert events.create(SiteEvent.model_validate(made), "sup") is True
    assert events.create(SiteEvent.model_validate(made), "sup") is False  # the id is taken
    fireworks = site_config().events[0].model_dump(mode="json")
    assert events.create(SiteEvent.model_validate(fireworks), "sup") is False  # site file's
    report(storage, clock(), core_counts(5, 7, clock()))
    events.tick()
    market = events.get("market")
    assert market.source == "page" and market.active
    assert events.dashboard(market).trend["core"][0].occupancy == 7
    assert events.delete("market") is True
    assert events.get("market") is None


def test_a_ring_off_the_site_plan_is_refused():
    swapped = site_config().events[0].model_dump(mode="json")
    core = swapped["rings"]["core"]["polygon"]
    core[0] = {"lat": core[0]["lon"] + 51, "lon": core[0]["lat"] - 51}  # far off the plan
    with pytest.raises(ConfigError, match=r"events\[0\]\.rings\.core\.polygon\[0\]: not on"):
        site_config([swapped])


def test_an_event_stays_within_the_calendar():
    """Its series is kept until ends_at + keep_days: a year-9999 end would overflow that."""
    late = site_config().events[0].model_dump(mode="json")
    late |= {"starts_at": "9999-12-30T00:00:00Z", "ends_at": "9999-12-31T00:00:00Z"}
    with pytest.raises(ValueError, match=r"within the years 1970\.\.2199"):
        SiteEvent.model_validate(late)
