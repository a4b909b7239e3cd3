"""Traccar Client 9+ sends OsmAnd positions as JSON (https://www.traccar.org/osmand/), with
speed in m/s and battery as a fraction; over real HTTP into real SQLite the hub stores them
like the form ones, refuses bad ones with the same reasons, and keeps the body limit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from dispatch_kit import PLAZA, DispatchHub, serve_dispatch


@pytest.fixture
def hub(tmp_path):
    running = serve_dispatch(tmp_path / "hub")
    yield running
    running.close()


def body(hub: DispatchHub, device_id: str | None = "traccar-9", **coords) -> dict:
    """What Traccar Client 9 posts (the SDK's native location, some fields left out)."""
    document = {
        "location": {
            "timestamp": (hub.clock() - timedelta(seconds=2)).isoformat().replace("+00:00", "Z"),
            "coords": {
                "latitude": PLAZA[0],
                "longitude": PLAZA[1],
                "accuracy": 6.5,
                "speed": 5.0,
                "heading": 270.0,
                "altitude": 12.0,
            }
            | coords,
            "is_moving": True,
            "odometer": 1234.5,
            "event": "motionchange",
            "battery": {"level": 0.42, "is_charging": False},
            "activity": {"type": "in_vehicle"},
            "extras": {},
        },
    }
    if device_id is not None:
        document["device_id"] = device_id
    return document


def post(hub: DispatchHub, tracker: dict, content, query: dict | None = None):
    raw = content if isinstance(content, bytes) else json.dumps(content).encode()
    return hub.api.client().post(
        f"/osmand/{tracker['token']}",
        content=raw,
        params=query or {},
        headers={"content-type": "application/json"},
    )


@pytest.fixture
def tracked(hub) -> tuple[dict, dict]:
    unit = hub.unit("P-01", members=("patrol",))
    return unit, hub.tracker(unit["id"], "traccar-9")


def stored(hub: DispatchHub, unit_id: str) -> list:
    now = hub.clock()
    return hub.storage.units.track(unit_id, now - timedelta(days=1), now + timedelta(days=1))


def test_a_traccar_client_json_position_is_stored_in_the_hubs_units(hub, tracked):
    unit, tracker = tracked
    r = post(hub, tracker, body(hub))
    assert r.status_code == 200, r.text
    assert r.json()["unit_id"] == unit["id"]
    [point] = stored(hub, unit["id"])
    assert (point.lat, point.lon) == (pytest.approx(PLAZA[0]), pytest.approx(PLAZA[1]))
    assert point.at == hub.clock() - timedelta(seconds=2)
    assert point.speed_kmh == pytest.approx(18.0)  # 5 m/s
    assert (point.bearing, point.accuracy_m) == (270.0, 6.5)
    assert point.battery == pytest.approx(42.0)  # 0.42 of a full battery
    assert point.source.value == "osmand"


def test_the_sdks_minus_one_means_not_measured(hub, tracked):
    unit, tracker = tracked
    document = body(hub, speed=-1, heading=-1)
    document["location"]["battery"]["level"] = -1
    assert post(hub, tracker, document).status_code == 200
    [point] = stored(hub, unit["id"])
    assert (point.speed_kmh, point.bearing, point.battery) == (None, None, None)


def test_the_device_id_may_come_in_the_query_string(hub, tracked):
    unit, tracker = tracked
    r = post(hub, tracker, body(hub, device_id=None), query={"id": "traccar-9"})
    assert r.status_code == 200, r.text
    assert len(stored(hub, unit["id"])) == 1


@pytest.mark.parametrize(
    ("content", "status", "reason"),
    [
        (b"{not json", 400, "bad_value"),
        ({"location": {"coords": {"longitude": 0.1}}, "device_id": "traccar-9"}, 400, "bad_value"),
        ({"device_id": "traccar-9"}, 400, "bad_value"),
        (b'{"location": {"coords": {"latitude": NaN, "longitude": 0}}, "device_id": "traccar-9"}',
         400, "bad_value"),
        ("latitude=91", 422, "out_of_range"),
        ("device=other", 404, "unknown_tracker"),
        ("timestamp=tomorrow", 422, "from_future"),
    ],
)  # fmt: skip
def test_bad_json_positions_get_their_own_4xx_and_nothing_is_stored(
    hub, tracked, content, status, reason
):
    unit, tracker = tracked
    if isinstance(content, str):  # a change to a good body
        field, value = content.split("=")
        document = body(hub)
        if field == "latitude":
            document["location"]["coords"]["latitude"] = float(value)
        elif field == "device":
            document["device_id"] = value
        else:
            later = hub.clock() + timedelta(days=1)
            document["location"]["timestamp"] = later.isoformat()
        content = document
    r = post(hub, tracker, content)
    assert r.status_code == status, r.text
    assert r.json()["detail"].startswith(reason)
    assert stored(hub, unit["id"]) == []


def test_a_wrong_token_is_refused_and_the_body_limit_stays(hub, tracked):
    unit, tracker = tracked
    other = hub.tracker(hub.unit("P-02")["id"], "traccar-10")
    assert post(hub, other, body(hub)).status_code == 403  # traccar-9's body, P-02's token
    padded = body(hub)
    padded["location"]["extras"] = {"note": "x" * 5000}  # more than one position needs
    assert post(hub, tracker, padded).status_code == 413
    assert stored(hub, unit["id"]) == []


def test_a_form_tracker_may_name_itself_deviceid_as_traccars_server_allows(hub, tracked):
    unit, tracker = tracked
    fields = {"deviceid": "traccar-9", "lat": str(PLAZA[0]), "lon": str(PLAZA[1])}
    r = hub.api.client().post(f"/osmand/{tracker['token']}", data=fields)
    assert r.status_code == 200, r.text
    assert len(stored(hub, unit["id"])) == 1
