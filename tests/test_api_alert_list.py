"""``GET /api/alerts`` over real HTTP: every filter, cursor paging, and the order (newest
*received* first, so a node whose clock is wrong cannot bury real alerts).

Alerts go in through the hub's own ingestor (which also files them under incidents); the
hub's clock is a ManualClock moved one second per alert, so received times are known.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hub_helpers import ApiHub, make_alert, serve_api

from contract.protocol import Alert, Severity
from hub.clock import ManualClock
from hub.domain.incidents import Action


@pytest.fixture
def hub(tmp_path: Path, clock: ManualClock):
    api = serve_api(tmp_path / "hub", clock=clock)
    yield api
    api.close()


def receive(hub: ApiHub, clock: ManualClock, *alerts: Alert, step_s: float = 1.0) -> None:
    for alert in alerts:
        clock.advance(seconds=step_s)
        hub.ingest(alert)


def listed(client: httpx.Client, **params) -> list[str]:
    """The ids on the first page for these filters."""
    r = client.get("/api/alerts", params=params)
    assert r.status_code == 200, r.text
    return [a["id"] for a in r.json()["items"]]


def test_each_filter_narrows_the_list(hub, clock):
    lawn = make_alert(seq=0, kind="intrusion", severity=Severity.MAJOR)
    bike = make_alert(
        seq=1, kind="loitering", severity=Severity.MINOR, message="red bicycle at the fountain"
    )
    door = make_alert(
        node="gate-door",
        kind="door",
        severity=Severity.CRITICAL,
        area="north-gate",
        camera=None,
        zone=None,
        objects=[],
        frame_size=None,
        has_snapshot=False,
        message="door forced open",
    )
    sure = make_alert(
        seq=2,
        severity=Severity.WARNING,
        area="north-gate",
        zone="drive",
        message="100% a person at the gate",
    )
    receive(hub, clock, lawn, bike, door, sure)
    viewer = hub.client("viewer")
    assert listed(viewer) == [sure.id, door.id, bike.id, lawn.id]
    assert listed(viewer, severity=["critical", "minor"]) == [door.id, bike.id]
    assert listed(viewer, kind="door") == [door.id]
    assert listed(viewer, area="plaza") == [bike.id, lawn.id]
    assert listed(viewer, node="gate-door") == [door.id]
    assert listed(viewer, area="north-gate", severity="critical") == [door.id]
    # Text is searched in the message, kind, zone, area and node.
    assert listed(viewer, q="bicycle") == [bike.id]
    assert listed(viewer, q="gate") == [sure.id, door.id]  # area north-gate, node gate-door
    assert listed(viewer, q="drive") == [sure.id]
    # LIKE's wildcards are plain characters in a search.
    assert listed(viewer, q="100%") == [sure.id]
    assert listed(viewer, q="%") == [sure.id]
    assert listed(viewer, q="_") == []
    assert listed(viewer, kind="fire") == []


def test_status_filters_on_the_state_of_the_alerts_incident(hub, clock):
    plaza = [make_alert(seq=i) for i in range(2)]
    gate = [make_alert(seq=2 + i, area="north-gate") for i in range(2)]
    receive(hub, clock, *plaza, *gate)
    store = hub.storage.alerts
    # One incident per area: alerts of an area this close in time are one event.
    gate_incident = store.get(gate[0].id).incident_id
    assert {store.get(a.id).incident_id for a in gate} == {gate_incident}
    assert store.get(plaza[0].id).incident_id != gate_incident
    hub.service.incidents.act(gate_incident, Action.ACKNOWLEDGE, "officer")

    viewer = hub.client("viewer")
    assert listed(viewer, status="acknowledged") == [gate[1].id, gate[0].id]
    assert listed(viewer, status="new") == [plaza[1].id, plaza[0].id]
    assert len(listed(viewer, status=["new", "acknowledged"])) == 4
    assert listed(viewer, status="resolved") == []


def test_cursor_pages_cover_every_alert_once_newest_received_first(hub, clock):
    alerts = [make_alert(seq=i) for i in range(120)]
    # Every seventh alert moves the clock: most share their received time with others,
    # which the cursor must still tell apart.
    for i, alert in enumerate(alerts):
        receive(hub, clock, alert, step_s=1.0 if i % 7 == 0 else 0.0)
    viewer = hub.client("viewer")
    pages, cursor = [], None
    while True:
        params = {"limit": 50} | ({"cursor": cursor} if cursor else {})
        page = viewer.get("/api/alerts", params=params).json()
        pages.append([a["id"] for a in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 5, "paging does not end"
    assert [len(p) for p in pages] == [50, 50, 20]
    seen = [alert_id for page in pages for alert_id in page]
    assert len(set(seen)) == len(seen) == 120  # no duplicates, none missing
    assert seen == [a.id for a in reversed(alerts)]
    # Filters hold across pages, and a cursor works with the same filters.
    first = viewer.get("/api/alerts", params={"limit": 50, "area": "plaza"}).json()
    second = viewer.get(
        "/api/alerts", params={"limit": 50, "area": "plaza", "cursor": first["next_cursor"]}
    ).json()
    assert [a["id"] for a in first["items"] + second["items"]] == seen[:100]


def test_a_cursor_the_hub_did_not_make_is_a_400(hub, clock):
    receive(hub, clock, make_alert())
    viewer = hub.client("viewer")
    for cursor in ("garbage", "aGVsbG8", "eWVzdGVyZGF5fDE"):  # -, "hello", "yesterday|1"
        r = viewer.get("/api/alerts", params={"cursor": cursor})
        assert r.status_code == 400 and r.json()["detail"] == "not a cursor from this hub"


def test_a_node_with_a_wrong_clock_cannot_push_real_alerts_off_the_list(hub, clock):
    future = make_alert(seq=0, ts=datetime(2099, 1, 1, tzinfo=UTC), message="clock in 2099")
    receive(hub, clock, future)
    real = [make_alert(seq=1 + i) for i in range(50)]
    receive(hub, clock, *real)
    past = make_alert(seq=51, ts=datetime(2020, 1, 1, tzinfo=UTC), message="clock in 2020")
    receive(hub, clock, past)
    viewer = hub.client("viewer")
    page = viewer.get("/api/alerts", params={"limit": 50}).json()
    first = [a["id"] for a in page["items"]]
    # The 2020 alert arrived last, so it is on top; the 2099 one arrived first, so it is last.
    assert first == [past.id] + [a.id for a in reversed(real[1:])]
    rest = viewer.get("/api/alerts", params={"cursor": page["next_cursor"]}).json()
    assert [a["id"] for a in rest["items"]] == [real[0].id, future.id]
    # The node's own time is still shown as it sent it.
    assert page["items"][0]["ts"].startswith("2020-01-01")
    # since / before are about when the hub received them, too.
    future_received = hub.storage.alerts.get(future.id).received_at.isoformat()
    assert listed(viewer, before=future_received) == []
    assert future.id not in listed(viewer, since=future_received, limit=500)
    assert len(listed(viewer, since=future_received, limit=500)) == 51
