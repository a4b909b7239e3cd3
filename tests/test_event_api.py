"""/api/site-events over real HTTP on a real hub (SQLite file, sessions, audit): who may read,
create and delete events, what a bad event is told, and the dashboard and replay as JSON."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from event_kit import EVENT, NOW, report, site_config, stats
from hub_helpers import ApiHub, serve_api

from hub.clock import ManualClock


@pytest.fixture
def api(tmp_path) -> Iterator[tuple[ApiHub, ManualClock]]:
    clock = ManualClock(NOW)
    hub = serve_api(tmp_path / "hub", clock=clock, config=site_config())
    yield hub, clock
    hub.close()


def test_viewers_read_the_dashboard_and_replay(api):
    hub, clock = api
    report(hub.storage, clock(), {"north": stats({"stage/core": 12}, clock())})
    hub.service.event_security.tick()
    viewer = hub.client("viewer")
    listed = viewer.get("/api/site-events").json()
    assert [(i["event"]["id"], i["source"], i["active"]) for i in listed] == [
        ("fireworks", "site", True)
    ]
    board = viewer.get("/api/site-events/fireworks").json()
    core = next(r for r in board["rings"] if r["ring"] == "core")
    assert core["occupancy"] == 12 and core["limit"] == 40
    # south has sent nothing yet: its core feed is shown unhealthy, the ring incomplete.
    south = next(f for f in core["feeds"] if f["camera"] == "south")
    assert (south["healthy"], south["problem"]) == (False, "no report from this camera yet")
    assert core["complete"] is False
    assert [p["occupancy"] for p in board["trend"]["core"]] == [12]
    replay = viewer.get("/api/site-events/fireworks/replay").json()
    assert [f["rings"]["core"]["occupancy"] for f in replay["frames"]] == [12]
    assert viewer.get("/api/site-events/nope").status_code == 404
    too_long = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-20T00:00:00Z"}
    assert viewer.get("/api/site-events/fireworks/replay", params=too_long).status_code == 422
    edge = {"start": "9999-12-31T00:00:00Z", "end": "9999-12-31T23:00:00Z"}  # no overflow
    assert viewer.get("/api/site-events/fireworks/replay", params=edge).status_code == 422


def test_supervisors_create_and_delete_page_events_and_are_audited(api):
    hub, _ = api
    market = EVENT | {"id": "market", "name": "Night market"}
    assert hub.client("officer").post("/api/site-events", json=market).status_code == 403
    sup = hub.client("supervisor")
    r = sup.post("/api/site-events", json=market)
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "page"
    assert sup.post("/api/site-events", json=market).status_code == 409
    assert sup.post("/api/site-events", json=EVENT).status_code == 409  # the site file's id
    bad = market | {"id": "bad", "feeds": [{"camera": "east", "crowd": "east", "ring": "core"}]}
    r = sup.post("/api/site-events", json=bad)
    assert r.status_code == 422 and "has no 'core' ring" in r.json()["detail"]
    off = market | {
        "id": "off",
        "feeds": [],
        "rings": {"core": {"polygon": [{"lat": 0, "lon": 0}] * 3}},
    }
    r = sup.post("/api/site-events", json=off)
    assert r.status_code == 422 and "not on the site plan" in r.json()["detail"]
    assert sup.delete("/api/site-events/fireworks").status_code == 409  # edit the file
    assert sup.delete("/api/site-events/market").status_code == 204
    assert sup.get("/api/site-events/market").status_code == 404
    actions = [e.action for e in hub.storage.audit.entries(20)]
    assert "event.create" in actions and "event.delete" in actions


def test_a_ring_incident_escalates_like_any_other(api):
    """Over the core's 40 for two samples opens a major incident; unacknowledged for the
    major wait (60 s by default), the hub's escalation moves it to tier 1."""
    hub, clock = api
    events = hub.service.event_security
    for north in (44, 45):
        report(hub.storage, clock(), {"north": stats({"stage/core": north}, clock())})
        opened = events.tick()
        clock.advance(seconds=15)
    (change,) = opened
    assert change.incident.escalation_tier == 0
    assert hub.service.escalation.tick() == []  # 15 s: not yet
    clock.advance(seconds=60)
    (escalated,) = hub.service.escalation.tick()
    assert escalated.id == change.incident.id and escalated.escalation_tier == 1
