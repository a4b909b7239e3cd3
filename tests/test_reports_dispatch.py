"""The reports issue 8 adds, over real HTTP into real SQLite on a manual clock: each unit's
travel (dispatched → on scene) by unit kind and by area in the response-time report, the
CSV export of incidents and their units (with the CSV-injection guard), and the heat map.

Percentiles are numpy's "linear" (type 7): of n sorted values the p-th percentile sits at
rank p/100·(n-1). E.g. of [120, 200, 300, 500] the p90 is at rank 2.7: 300 + 0.7·200 = 440.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from dispatch_kit import PLAZA, DispatchHub, serve_dispatch

NORTH_GATE = (51.486508, -0.124345)  # config/site.example.yaml's area middles


@pytest.fixture
def hub(tmp_path):
    running = serve_dispatch(tmp_path / "hub")
    yield running
    running.close()


def call(hub: DispatchHub, area: str | None, title: str = "break-in", **where) -> dict:
    location = ({"area": area} if area else {}) | where
    r = hub.desk.post(
        "/api/incidents",
        json={
            "source": "call",
            "kind": "burglary",
            "severity": "major",
            "title": title,
            "location": location or {"address": "somewhere on the estate"},
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def step(hub: DispatchHub, client, assignment: dict, name: str, **extra) -> dict:
    r = client.post(f"/api/assignments/{assignment['id']}/steps", json={"step": name} | extra)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def week(hub):
    """A car (C-1) and a bicycle (B-1) on three incidents, two areas:

    ========  ==========  ==========================================
    incident  area        units: seconds from dispatch to on scene
    ========  ==========  ==========================================
    1         plaza       C-1 120, B-1 300
    2         north-gate  C-1 200, B-1 released before arriving
    3         north-gate  B-1 500 (en route after 60)
    ========  ==========  ==========================================
    """
    car = hub.unit("C-1", "car", ("patrol",))
    bike = hub.unit("B-1", "bicycle", ("patrol2",))
    one = call(hub, "plaza")
    c, b = hub.dispatch(one["id"], car["id"]), hub.dispatch(one["id"], bike["id"])
    hub.clock.advance(seconds=120)
    step(hub, hub.patrol, c, "on_scene")
    hub.clock.advance(seconds=180)
    step(hub, hub.patrol2, b, "on_scene")
    step(hub, hub.patrol, c, "resolve", outcome="handled")

    two = call(hub, "north-gate")
    c = hub.dispatch(two["id"], car["id"])
    hub.clock.advance(seconds=200)
    step(hub, hub.patrol, c, "on_scene")
    b = hub.dispatch(two["id"], bike["id"])
    hub.clock.advance(seconds=10)
    step(hub, hub.desk, b, "release")
    step(hub, hub.patrol, c, "resolve", outcome="arrest")

    three = call(hub, "north-gate")
    b = hub.dispatch(three["id"], bike["id"])
    hub.clock.advance(seconds=60)
    step(hub, hub.patrol2, b, "en_route")
    hub.clock.advance(seconds=440)
    step(hub, hub.patrol2, b, "on_scene")
    step(hub, hub.patrol2, b, "resolve", outcome="no_trace")
    return hub


def period(hub: DispatchHub) -> dict:
    """The day up to now (the end is exclusive: a minute past an incident opened just now)."""
    now = hub.clock()
    end = now + timedelta(minutes=1)
    return {"start": (now - timedelta(days=1)).isoformat(), "end": end.isoformat()}


def test_travel_per_unit_kind_and_per_area(week):
    supervisor = week.api.client("supervisor")
    r = supervisor.get("/api/reports/response-times", params=period(week))
    assert r.status_code == 200, r.text
    travel = r.json()["travel"]
    assert (travel["assignments"], travel["arrived"]) == (5, 4)  # the released one never came
    assert (travel["p50_s"], travel["p90_s"]) == (250.0, 440.0)  # [120, 200, 300, 500]
    by_kind = {g["group"]: (g["count"], g["p50_s"], g["p90_s"]) for g in travel["by_unit_kind"]}
    assert by_kind == {
        "bicycle": (2, 400.0, 480.0),  # [300, 500]: p90 at rank 0.9 = 300 + 0.9·200
        "car": (2, 160.0, 192.0),  # [120, 200]
    }
    by_area = {g["group"]: (g["count"], g["p50_s"], g["p90_s"]) for g in travel["by_area"]}
    assert by_area == {
        "north-gate": (2, 350.0, 470.0),  # [200, 500]
        "plaza": (2, 210.0, 282.0),  # [120, 300]
    }
    plaza = supervisor.get("/api/reports/response-times", params=period(week) | {"area": "plaza"})
    travel = plaza.json()["travel"]
    assert [g["group"] for g in travel["by_area"]] == ["plaza"]
    assert travel["assignments"] == 2


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_the_csv_export_has_each_incident_then_its_units_with_their_times(week):
    supervisor = week.api.client("supervisor")
    got = rows(supervisor.get("/api/reports/incidents.csv", params=period(week)))
    assert [(r["record"], r["area"], r["unit"], r["state"]) for r in got] == [
        ("incident", "plaza", "", "resolved"),
        ("assignment", "plaza", "C-1", "resolved"),
        ("assignment", "plaza", "B-1", "resolved"),
        ("incident", "north-gate", "", "resolved"),
        ("assignment", "north-gate", "C-1", "resolved"),
        ("assignment", "north-gate", "B-1", "released"),
        ("incident", "north-gate", "", "resolved"),
        ("assignment", "north-gate", "B-1", "resolved"),
    ]
    first, car, bike = got[:3]
    assert first["ref"] == car["ref"] == bike["ref"] and first["ref"].startswith("INC-")
    assert (first["kind"], first["severity"], first["outcome"]) == ("burglary", "major", "handled")
    assert first["acknowledged_at"] == first["dispatched_at"]  # the dispatch acknowledged it
    assert float(first["alert_to_arrival_s"]) == 120.0  # C-1 was the arrival
    assert float(first["on_scene_to_resolved_s"]) == 180.0
    assert (car["unit_kind"], float(car["unit_travel_s"])) == ("car", 120.0)
    assert (bike["unit_kind"], float(bike["unit_travel_s"])) == ("bicycle", 300.0)
    assert bike["opened_at"] == "" and bike["accepted_at"] == bike["on_scene_at"]
    released = got[5]
    assert released["unit_travel_s"] == "" and released["ended_at"]
    last = got[7]
    assert float(last["dispatch_to_en_route_s"]) == 60.0
    assert float(last["en_route_to_on_scene_s"]) == 440.0
    assert last["outcome"] == "no_trace"
    audit = week.storage.audit.entries(action="report.export_csv")
    assert [e.username for e in audit] == ["supervisor"]
    assert "incidents=3" in audit[0].detail


@pytest.mark.parametrize("title", ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)"])
def test_a_title_that_a_spreadsheet_would_run_is_exported_as_text(hub, title):
    call(hub, "plaza", title=title)
    [row] = rows(hub.api.client("supervisor").get("/api/reports/incidents.csv", params=period(hub)))
    assert row["title"] == "'" + title


def test_the_reports_are_for_supervisors_and_bounded(hub):
    for path in ("/api/reports/incidents.csv", "/api/reports/heatmap"):
        assert hub.desk.get(path).status_code == 403
        assert hub.api.client().get(path).status_code == 401
        supervisor = hub.api.client("supervisor")
        too_long = {"start": "2024-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}
        assert supervisor.get(path, params=too_long).status_code == 422
        backwards = {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}
        assert supervisor.get(path, params=backwards).status_code == 422
        assert supervisor.get(path, params={"start": "yesterday"}).status_code == 422
        assert supervisor.get(path).status_code == 200  # the last 30 days


def test_the_heat_map_counts_incidents_per_point_and_those_it_cannot_place(hub):
    for _ in range(3):
        call(hub, "plaza")
    call(hub, "north-gate")
    kiosk = (51.48601, -0.12402)
    call(hub, "plaza", lat=kiosk[0], lon=kiosk[1])
    call(hub, "plaza", lat=kiosk[0] + 0.000001, lon=kiosk[1])  # 11 cm away: the same spot
    call(hub, None)  # an address only: nowhere on the map
    r = hub.api.client("supervisor").get("/api/reports/heatmap", params=period(hub))
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["incidents"], report["placed"], report["unplaced"]) == (7, 6, 1)
    points = [(p["placed_by"], p["lat"], p["lon"], p["count"], p["area"]) for p in report["points"]]
    assert points == [
        ("area", *PLAZA, 3, "plaza"),
        ("incident", *kiosk, 2, "plaza"),
        ("area", *NORTH_GATE, 1, "north-gate"),
    ]
    [audit] = hub.storage.audit.entries(action="report.heatmap")
    assert audit.username == "supervisor"
