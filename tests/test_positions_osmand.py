"""Positions through the OsmAnd protocol (Traccar Client, GPS trackers) and the officer app,
over real HTTP into real SQLite: a good point is stored and moves the unit; every bad one —
out of range, from the future, an unknown device, a wrong token, an impossible jump — gets
its own 4xx and leaves the track as it was."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dispatch_kit import PLAZA, DispatchHub, north_of, serve_dispatch


@pytest.fixture
def hub(tmp_path):
    running = serve_dispatch(tmp_path / "hub")
    yield running
    running.close()


def track(hub: DispatchHub, unit_id: str) -> list:
    now = hub.clock()
    return hub.storage.units.track(unit_id, now - timedelta(days=1), now + timedelta(days=1))


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_good_osmand_position_is_stored_with_its_fields(hub, method):
    unit = hub.unit("P-01", members=("patrol",))
    tracker = hub.tracker(unit["id"], "traccar-1")
    assert tracker["osmand_url"].endswith("/osmand/" + tracker["token"])
    at = hub.clock() - timedelta(seconds=3)
    r = hub.osmand(tracker, PLAZA, at, method=method)
    assert r.status_code == 200, r.text
    [stored] = track(hub, unit["id"])
    assert (stored.lat, stored.lon, stored.at) == (
        pytest.approx(PLAZA[0]),
        pytest.approx(PLAZA[1]),
        at,
    )
    assert stored.speed_kmh == pytest.approx(18.52)  # 10 knots
    assert (stored.bearing, stored.accuracy_m, stored.battery, stored.source.value) == (
        90,
        8,
        77,
        "osmand",
    )
    units = hub.desk.get("/api/units").json()
    assert units[0]["position"]["lat"] == pytest.approx(PLAZA[0])


def test_an_iso_timestamp_and_a_form_body_are_understood(hub):
    unit = hub.unit("P-01")
    tracker = hub.tracker(unit["id"], "traccar-1")
    at = hub.clock() - timedelta(seconds=10)
    r = hub.osmand(tracker, PLAZA, method="POST", timestamp=at.isoformat())
    assert r.status_code == 200, r.text
    assert [p.at for p in track(hub, unit["id"])] == [at]


def test_bad_positions_get_their_own_4xx_and_nothing_is_stored(hub):
    unit = hub.unit("P-01")
    tracker = hub.tracker(unit["id"], "traccar-1")
    first = hub.clock() - timedelta(seconds=60)
    assert hub.osmand(tracker, PLAZA, first).status_code == 200
    wrong_token = dict(tracker, token="A" * 43)
    unknown = dict(tracker, tracker_id="no-such-device")
    cases = {
        "out_of_range": (hub.osmand(tracker, (91.0, 0.0)), 422),
        "from_future": (hub.osmand(tracker, PLAZA, hub.clock() + timedelta(minutes=5)), 422),
        "unknown_tracker": (hub.osmand(unknown, PLAZA), 404),
        "wrong_token": (hub.osmand(wrong_token, PLAZA), 403),
        # 10 km in 60 s is 600 km/h, over the 200 km/h limit
        "impossible_jump": (hub.osmand(tracker, north_of(PLAZA, 10_000)), 422),
        "bad_value": (hub.osmand(tracker, PLAZA, lat="north"), 400),
    }
    for reason, (response, status) in cases.items():
        assert response.status_code == status, (reason, response.text)
        assert reason in response.json()["detail"], (reason, response.text)
    assert [p.at for p in track(hub, unit["id"])] == [first]
    # a plausible move is fine: 1 km in 60 s is 60 km/h
    assert hub.osmand(tracker, north_of(PLAZA, 1_000)).status_code == 200
    assert len(track(hub, unit["id"])) == 2


def test_a_patrol_sends_its_own_units_position_and_no_other(hub):
    mine = hub.unit("P-01", members=("patrol",))
    other = hub.unit("P-02", members=("patrol2",))
    r = hub.patrol.post("/api/positions", json={"lat": PLAZA[0], "lon": PLAZA[1]})
    assert r.status_code == 201 and r.json()["unit_id"] == mine["id"], r.text
    assert r.json()["source"] == "app"
    r = hub.patrol.post(
        "/api/positions", json={"lat": PLAZA[0], "lon": PLAZA[1], "unit_id": other["id"]}
    )
    assert r.status_code == 403
    assert track(hub, other["id"]) == []
    viewer = hub.api.client("viewer")
    assert viewer.post("/api/positions", json={"lat": 1, "lon": 1}).status_code == 403
