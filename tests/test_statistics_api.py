"""The statistics API over real HTTP into real SQLite, for a site in Europe/Berlin: counts by
kind, area, local hour and weekday compared with December and with January a year before;
"too few to compare"; response-time segments; false-alarm rates per camera, rule and sensor;
roles, audit and bad periods.

History (all security incidents unless said, hand-built with tests/statistics_kit.py):

==================  =============================================================
January 2027        12 intrusions in the plaza, 3 thefts in north-gate
December 2026       8 intrusions, 1 theft, 5 maintenance incidents (not counted)
January 2026        6 intrusions
==================  =============================================================
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hub_helpers import example_config, serve_api
from statistics_kit import alert, incident, insert

BERLIN_JAN = datetime(2026, 12, 31, 23, tzinfo=UTC)  # 1 January 2027, 00:00 in Berlin


def at(start: datetime, hours: float) -> datetime:
    return start + timedelta(hours=hours)


def berlin(min_events: int = 10):
    """The example site, moved to Berlin, comparing on ``min_events`` events or more."""
    config = example_config()
    site = config.site.model_copy(update={"timezone": "Europe/Berlin"})
    statistics = config.hub.statistics.model_copy(update={"min_events_to_compare": min_events})
    hub = config.hub.model_copy(update={"statistics": statistics})
    return config.model_copy(update={"site": site, "hub": hub})


@pytest.fixture
def hub(tmp_path, request):
    running = serve_api(tmp_path / "hub", config=berlin(getattr(request, "param", 10)))
    yield running
    running.close()


@pytest.fixture
def history(hub):
    """The table in the module's docstring; January's intrusions open on Mondays at 09:xx
    local time and are each acknowledged 60 s and on scene 300 s after opening."""
    monday = datetime(2027, 1, 4, 8, tzinfo=UTC)  # 09:00 CET
    rows = [
        incident(
            at(monday, 24 * 7 * (i % 4) + i / 60),
            acknowledged_at=at(monday, 24 * 7 * (i % 4) + i / 60) + timedelta(seconds=60),
            on_scene_at=at(monday, 24 * 7 * (i % 4) + i / 60) + timedelta(seconds=300),
        )
        for i in range(12)
    ]
    rows += [incident(at(BERLIN_JAN, 50 + i), kind="theft", area="north-gate") for i in range(3)]
    december = datetime(2026, 12, 1, tzinfo=UTC)
    rows += [incident(at(december, 10 * i)) for i in range(8)]
    rows += [incident(at(december, 100), kind="theft", area="north-gate")]
    rows += [
        incident(at(december, i), kind="stream_lost", category="maintenance") for i in range(5)
    ]
    rows += [incident(at(datetime(2026, 1, 10, tzinfo=UTC), i)) for i in range(6)]
    insert(hub.storage.incidents.database, rows)
    return rows


def get(client, path: str, **params) -> dict:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_counts_by_kind_area_hour_and_weekday_with_both_comparisons(hub, history) -> None:
    stats = get(hub.client("officer"), "/api/statistics/incidents", unit="month", date="2027-01-20")
    periods = stats["periods"]
    assert periods["timezone"] == "Europe/Berlin"
    assert (periods["current"]["first"], periods["current"]["last"]) == ("2027-01-01", "2027-01-31")
    assert periods["current"]["start"].startswith("2026-12-31T23:00:00")
    assert periods["previous_period"]["first"] == "2026-12-01"
    assert periods["last_year"]["first"] == "2026-01-01"

    total = stats["total"]
    assert total["count"] == 15
    assert total["previous_period"] == {
        "current": 15, "other": 9, "change": 6, "change_pct": 66.7, "status": "compared",
    }  # fmt: skip
    assert total["last_year"]["change_pct"] == 150.0
    kinds = {row["key"]: row for row in stats["by_kind"]}
    assert [row["key"] for row in stats["by_kind"]] == ["intrusion", "theft"]
    assert kinds["intrusion"]["last_year"]["change_pct"] == 100.0  # 12 against 6
    assert kinds["theft"]["previous_period"] == {
        "current": 3, "other": 1, "change": 2, "change_pct": None, "status": "too_few",
    }  # fmt: skip
    areas = {row["key"]: row["count"] for row in stats["by_area"]}
    assert areas == {"plaza": 12, "north-gate": 3}
    assert stats["by_hour"][9] == 12  # 09:xx local (08:xx UTC)
    assert stats["by_weekday"][0] == 12  # Mondays
    assert sum(stats["by_hour"]) == sum(stats["by_weekday"]) == 15
    assert stats["hour_of_week"][0][9] == 12


@pytest.mark.parametrize("hub", [3], indirect=True)
def test_the_site_file_sets_how_many_events_a_change_needs(hub, history) -> None:
    stats = get(hub.client("officer"), "/api/statistics/incidents", date="2027-01-20")
    assert stats["min_events_to_compare"] == 3
    theft = next(row for row in stats["by_kind"] if row["key"] == "theft")
    assert theft["previous_period"]["status"] == "compared"  # 3 + 1 events: enough now
    assert theft["previous_period"]["change_pct"] == 200.0
    assert theft["last_year"]["status"] == "none_before"


def test_response_time_segments_and_too_few_to_compare(hub, history) -> None:
    stats = get(hub.client("officer"), "/api/statistics/response-times", date="2027-01-20")
    segments = {s["segment"]: s for s in stats["current"]["segments"]}
    assert segments["alert_to_ack"]["count"] == 12
    assert segments["alert_to_ack"]["p50_s"] == 60.0
    assert stats["current"]["mean_alert_to_arrival_s"] == 300.0
    previous = stats["previous_period"]
    assert previous["incidents"]["other"] == 9  # maintenance left out
    # December's incidents were never acknowledged: 12 + 0 timed incidents is enough to
    # compare, but there is nothing to compare with, so the change is null either way;
    # the travel segment had none in either period: too few.
    assert "travel" in previous["too_few"]
    assert "alert_to_ack" not in previous["too_few"]


def test_segments_match_the_response_time_report(hub, history) -> None:
    """The statistics compute segments on numbers in numpy; the reports page per incident in
    Python (hub.incidents.timings): for the same incidents they agree to the millisecond."""
    monday = datetime(2027, 1, 11, 8, tzinfo=UTC)
    extra = [
        incident(
            at(monday, i), state=state, acknowledged_at=at(monday, i) + timedelta(seconds=7 * i),
            dispatched_at=at(monday, i) + timedelta(seconds=9 * i + 0.123),
            on_scene_at=at(monday, i) + timedelta(seconds=400 + i),
            resolved_at=at(monday, i) + timedelta(seconds=900 - i),
        )
        for i, state in enumerate(["resolved", "cancelled", "resolved", "on_scene"] * 3)
    ]  # fmt: skip
    insert(hub.storage.incidents.database, extra)
    stats = get(hub.client("officer"), "/api/statistics/response-times", date="2027-01-20")
    current = stats["current"]
    report = get(
        hub.client("supervisor"), "/api/reports/response-times", category="security",
        start=current["start"], end=current["end"],
    )["current"]  # fmt: skip
    assert current == report
    assert current["incidents"] == 27


def test_false_alarm_rates_per_camera_rule_and_sensor(hub) -> None:
    """cam1's yard rule: 6 false alarms, 2 cancelled, 4 handled (8 of 12 decided: 66.7 %),
    plus a duplicate and an open one (left out); each incident has 3 alerts, counted once.
    cam1's street rule: 2 false alarms, too few. Door sensor door-3: 10 handled, 0 %."""
    start = datetime(2027, 1, 5, tzinfo=UTC)
    ends = (
        [("resolved", "false_alarm")] * 6 + [("cancelled", None)] * 2
        + [("resolved", "handled")] * 4 + [("resolved", "duplicate"), ("new", None)]
    )  # fmt: skip
    incidents, alerts = [], []
    for i, (state, outcome) in enumerate(ends):
        row = incident(at(start, i), state=state, outcome=outcome)
        incidents.append(row)
        alerts += [alert(row, at(start, i + k / 60)) for k in range(3)]
    for i in range(2):
        row = incident(at(start, 50 + i), kind="loiter", state="resolved", outcome="false_alarm")
        incidents.append(row)
        alerts.append(alert(row, at(start, 50 + i), zone="street", kind="loiter"))
    for i in range(10):
        row = incident(at(start, 80 + i), kind="door_open", state="resolved", outcome="handled")
        incidents.append(row)
        alerts.append(alert(row, at(start, 80 + i), node="door-3", camera=None, zone=None))
    december = datetime(2026, 12, 1, tzinfo=UTC)  # another period: not counted
    old = incident(december, state="resolved", outcome="false_alarm")
    insert(hub.storage.incidents.database, [*incidents, old], [*alerts, alert(old, december)])

    stats = get(hub.client("officer"), "/api/statistics/false-alarms", date="2027-01-20")
    (camera,) = stats["by_camera"]
    assert (camera["node"], camera["camera"]) == ("gate-1", "cam1")
    assert (camera["incidents"], camera["false_alarm"], camera["cancelled"]) == (16, 8, 2)
    assert camera["rate_pct"] == round(10 / 14 * 100, 1)
    yard, street = stats["by_rule"]
    assert (yard["zone"], yard["kind"], yard["rate_pct"]) == ("yard", "intrusion", 66.7)
    assert (yard["duplicate"], yard["open"], yard["incidents"]) == (1, 1, 14)
    assert (street["zone"], street["status"], street["rate_pct"]) == ("street", "too_few", None)
    assert stats["counted"] == {"cameras": 1, "rules": 2, "sensors": 1}
    assert stats["alerts_kept_since"].startswith("2026-12-01T00:00:00")  # the oldest alert
    (door,) = stats["by_sensor"]
    assert (door["node"], door["camera"], door["rate_pct"], door["real"]) == (
        "door-3",
        None,
        0.0,
        10,
    )


def test_roles_audit_and_bad_periods(hub, history) -> None:
    assert hub.client("viewer").get("/api/statistics/incidents").status_code == 403
    assert hub.client("patrol").get("/api/statistics/false-alarms").status_code == 403
    officer = hub.client("officer")
    week = get(officer, "/api/statistics/incidents", unit="week", date="2027-01-01")
    assert week["periods"]["current"]["first"] == "2026-12-28"
    custom = get(
        officer, "/api/statistics/incidents", unit="custom", date="2027-01-01", last="2027-01-10"
    )
    assert custom["periods"]["previous_period"]["last"] == "2026-12-31"
    for params in (
        {"unit": "custom", "date": "2027-01-01"},  # no last day
        {"unit": "month", "last": "2027-01-10"},  # a last day without custom
        {"unit": "custom", "date": "2027-01-10", "last": "2027-01-01"},
        {"unit": "year", "date": "2000-06-01"},
        {"unit": "year", "date": "9999-06-01"},  # its end would be in the year 10000
        {"unit": "custom", "date": "9999-12-30", "last": "9999-12-31"},
        {"unit": "week", "date": "0001-01-01"},
    ):
        r = officer.get("/api/statistics/incidents", params=params)
        assert r.status_code == 422, (params, r.text)
    actions = hub.storage.incidents.database.all(
        "SELECT username, action, detail FROM audit WHERE action LIKE 'statistics.%'"
    )
    assert {"username": "officer", "action": "statistics.incidents",
            "detail": "week 2026-12-28..2027-01-03 category=security"} in actions  # fmt: skip
