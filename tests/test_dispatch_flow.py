"""The dispatch loop over real HTTP into real SQLite, on a manual clock (no sleeping): two
units on one incident (the first on scene is the arrival; each unit keeps its own times),
an offline tap keeps its time, a patrol cannot step another unit's order, and a unit that
does not accept in time is passed, the desk told, and not suggested again."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from dispatch_kit import PLAZA, north_of, serve_dispatch


@pytest.fixture
def hub(tmp_path):
    running = serve_dispatch(tmp_path / "hub")
    yield running
    running.close()


def times(assignment: dict) -> list:
    return [
        assignment[k] and datetime.fromisoformat(assignment[k])
        for k in ("en_route_at", "on_scene_at")
    ]


def step(client, assignment_id: str, name: str, **extra):
    return client.post(f"/api/assignments/{assignment_id}/steps", json={"step": name} | extra)


def test_suggestions_rank_placed_units_by_eta_and_skip_busy_ones(hub):
    car = hub.unit("C-1", "car", ("patrol",))
    walker = hub.unit("F-1", "foot", ("patrol2",))
    hub.place(car["id"], north_of(PLAZA, 2000))
    hub.place(walker["id"], north_of(PLAZA, 300))
    incident = hub.incident()
    ranked = hub.desk.get(f"/api/incidents/{incident['id']}/suggestions").json()
    # 300 m on foot (302 s) beats 2 km by car (336 s)
    assert [s["unit"]["callsign"] for s in ranked] == ["F-1", "C-1"]
    assert ranked[0]["eta_s"] == pytest.approx(300 * 1.4 / (5 / 3.6), rel=0.01)
    hub.dispatch(incident["id"], walker["id"])
    ranked = hub.desk.get(f"/api/incidents/{incident['id']}/suggestions").json()
    assert [s["unit"]["callsign"] for s in ranked] == ["C-1"]
    assert hub.patrol.get(f"/api/incidents/{incident['id']}/suggestions").status_code == 403


def test_the_incident_follows_two_units_and_each_keeps_its_own_times(hub):
    p1 = hub.unit("P-01", "car", ("patrol",))
    p2 = hub.unit("P-02", "bicycle", ("patrol2",))
    incident = hub.incident()
    first = hub.dispatch(incident["id"], p1["id"])
    assert hub.desk.get("/api/units").json()[0]["availability"] == "busy"
    hub.clock.advance(seconds=10)
    second = hub.dispatch(incident["id"], p2["id"])
    hub.clock.advance(seconds=5)
    assert step(hub.patrol, first["id"], "accept").status_code == 200
    assert step(hub.patrol2, second["id"], "accept").status_code == 200
    hub.clock.advance(seconds=20)
    assert step(hub.patrol2, second["id"], "en_route").status_code == 200
    hub.clock.advance(seconds=100)
    arrival = hub.clock()
    assert step(hub.patrol2, second["id"], "on_scene").status_code == 200  # P-02 first
    hub.clock.advance(seconds=60)
    assert step(hub.patrol, first["id"], "on_scene").status_code == 200
    detail = hub.desk.get(f"/api/incidents/{incident['id']}").json()["incident"]
    assert detail["state"] == "on_scene"
    assert datetime.fromisoformat(detail["on_scene_at"]) == arrival
    assert step(hub.patrol, first["id"], "resolve").status_code == 409  # needs an outcome
    hub.clock.advance(seconds=30)
    r = step(hub.patrol, first["id"], "resolve", outcome="arrest", note="one detained")
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    incident_now = hub.desk.get(f"/api/incidents/{incident['id']}").json()["incident"]
    assert incident_now["state"] == "resolved" and incident_now["outcome"] == "arrest"
    by_unit = {
        a["unit_id"]: a for a in hub.desk.get(f"/api/incidents/{incident['id']}/assignments").json()
    }
    one, two = by_unit[p1["id"]], by_unit[p2["id"]]
    assert two["state"] == "resolved"  # resolving the incident ended the other unit's
    assert times(two) == [arrival - timedelta(seconds=100), arrival]
    assert times(one) == [arrival + timedelta(seconds=60)] * 2  # skipped en route
    assert {u["availability"] for u in hub.desk.get("/api/units").json()} == {"available"}


def test_an_offline_tap_keeps_the_time_it_was_made_within_bounds(hub):
    unit = hub.unit("P-01", "car", ("patrol",))
    incident = hub.incident()
    order = hub.dispatch(incident["id"], unit["id"])
    tapped = hub.clock() + timedelta(seconds=40)
    hub.clock.advance(seconds=300)  # the phone was in a tunnel; the tap arrives now
    future = (hub.clock() + timedelta(minutes=5)).isoformat()
    assert step(hub.patrol, order["id"], "on_scene", at=future).status_code == 422
    early = (hub.clock() - timedelta(hours=1)).isoformat()
    assert step(hub.patrol, order["id"], "on_scene", at=early).status_code == 422
    r = step(hub.patrol, order["id"], "on_scene", at=tapped.isoformat())
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["on_scene_at"]) == tapped
    detail = hub.desk.get(f"/api/incidents/{incident['id']}").json()["incident"]
    assert datetime.fromisoformat(detail["on_scene_at"]) == tapped


def test_a_patrol_cannot_step_another_units_order_but_the_desk_can(hub):
    mine = hub.unit("P-01", "car", ("patrol",))
    theirs = hub.unit("P-02", "car", ("patrol2",))
    incident = hub.incident()
    order = hub.dispatch(incident["id"], theirs["id"])
    hub.dispatch(incident["id"], mine["id"])
    assert step(hub.patrol, order["id"], "accept").status_code == 403
    assert (
        hub.api.client("viewer")
        .post(f"/api/assignments/{order['id']}/steps", json={"step": "accept"})
        .status_code
        == 403
    )
    assert [o["unit"]["callsign"] for o in hub.patrol.get("/api/assignments/mine").json()] == [
        "P-01"
    ]
    orders = hub.patrol2.get("/api/assignments/mine").json()
    assert orders[0]["assignment"]["id"] == order["id"]
    assert orders[0]["geo_url"] == f"geo:{PLAZA[0]},{PLAZA[1]}"
    assert step(hub.desk, order["id"], "accept").status_code == 200
    audit = [e.action for e in hub.storage.audit.entries(action="assignment.accept")]
    assert audit == ["assignment.accept"]


def test_a_unit_that_does_not_accept_in_time_is_passed_and_not_suggested_again(hub):
    slow = hub.unit("P-01", "car", ("patrol",))
    other = hub.unit("P-02", "car", ("patrol2",))
    hub.place(slow["id"], north_of(PLAZA, 100))
    hub.place(other["id"], north_of(PLAZA, 900))
    incident = hub.incident()
    order = hub.dispatch(incident["id"], slow["id"])
    timeouts = []
    hub.api.bus.on(lambda e: timeouts.append(e) if e.name == "dispatch_timeout" else None)
    worker = next(w for w in hub.api.service.workers if w.name == "hub-dispatch-timeouts")
    hub.clock.advance(seconds=29)
    assert worker.tick() == []
    hub.clock.advance(seconds=2)
    [passed] = worker.tick()
    assert passed.id == order["id"] and passed.state.value == "timed_out"
    assert [e.callsign for e in timeouts] == ["P-01"]
    assert step(hub.patrol, order["id"], "accept").status_code == 409  # too late
    detail = hub.desk.get(f"/api/incidents/{incident['id']}").json()["incident"]
    assert detail["state"] == "acknowledged"  # no unit on it any more
    ranked = hub.desk.get(f"/api/incidents/{incident['id']}/suggestions").json()
    assert [s["unit"]["callsign"] for s in ranked] == ["P-02"]
    units = {u["callsign"]: u["availability"] for u in hub.desk.get("/api/units").json()}
    assert units == {"P-01": "available", "P-02": "available"}
