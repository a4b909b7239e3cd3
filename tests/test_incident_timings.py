"""Response-time figures on incidents made by hand, with every expected value worked out here.

Percentiles are numpy's "linear" (type 7): for n sorted values the p-th percentile sits at
rank p/100·(n-1), between the two neighbouring values. E.g. of [10, 30, 45, 60, 90] the
p90 is at rank 3.6: 60 + 0.6·(90-60) = 78.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from incident_kit import IncidentDesk, open_desk

from hub.domain.incidents import Action, Category, Incident, Outcome
from hub.incidents.timings import response_time_report, year_earlier

START = datetime(2026, 12, 1, tzinfo=UTC)
END = datetime(2026, 12, 8, tzinfo=UTC)
# Acknowledge, Dispatch, En route, Reach the scene (arrive), X: resolve, Cancel.
A, D, E, R = Action.ACKNOWLEDGE, Action.DISPATCH, Action.EN_ROUTE, Action.ARRIVE
X, C = Action.RESOLVE, Action.CANCEL


def dec(day: int, hour: int = 0, year: int = 2026) -> datetime:
    return datetime(year, 12, day, hour, tzinfo=UTC)


@pytest.fixture
def desk(tmp_path: Path):
    desk = open_desk(tmp_path)
    yield desk
    desk.storage.close()


def incident(desk: IncidentDesk, opened: datetime, steps, area: str = "plaza") -> Incident:
    """A call opened at ``opened``, then each (seconds later, action) in turn."""
    desk.clock.advance(seconds=(opened - desk.clock()).total_seconds())
    made = desk.call(location={"area": area})
    for seconds, action in steps:
        desk.clock.advance(seconds=seconds)
        outcome = Outcome.HANDLED if action is X else None
        made = desk.service.act(made.id, action, "ana", outcome=outcome)
    return made


@pytest.fixture
def week(desk):
    """Five plaza incidents in the week, one at the north gate, one just after the week,
    one in the week before and one a year earlier."""
    incident(desk, START, [(30, A), (60, D), (20, E), (300, R), (600, X)])
    incident(desk, dec(2, 9), [(60, A), (120, D), (10, E), (200, R), (1200, X)])
    incident(desk, dec(3, 22), [(10, A), (30, D), (30, E), (400, R), (50, C)])
    incident(desk, dec(4, 3), [(90, A)])
    incident(desk, dec(6, 14), [(45, D), (240, R), (100, X)])
    incident(desk, dec(5), [(900, A), (900, D), (900, R)], "north-gate")
    incident(desk, END, [(1, A)])  # [start, end): not this week
    incident(desk, datetime(2026, 11, 26, tzinfo=UTC), [(40, D), (10, E), (300, R)])
    incident(desk, dec(3, year=2025), [(60, A), (60, D), (60, E), (400, R)])
    return desk


def figures(report, name):
    return next(s for s in report.current.segments if s.segment == name)


def test_each_segment_has_its_count_median_and_p90(week):
    report = response_time_report(week.storage.incidents, START, END, area="plaza")
    got = {s.segment: (s.count, s.p50_s, s.p90_s) for s in report.current.segments}
    assert got == {
        # [10, 30, 45, 60, 90]: median 45, p90 at rank 3.6 = 60 + 0.6·30
        "alert_to_ack": (5, 45.0, 78.0),
        # [0 (dispatched at once), 30, 60, 120]: median at rank 1.5 = 45, p90 at 2.7 = 102
        "ack_to_dispatch": (4, 45.0, 102.0),
        # [10, 20, 30]; the incident dispatched straight to the scene has no en route time
        "dispatch_to_en_route": (3, 20.0, 28.0),
        "travel": (3, 300.0, 380.0),  # [200, 300, 400]
        # [100, 600, 1200]: the cancelled incident's end is not a resolution
        "on_scene_to_resolved": (3, 600.0, 1080.0),
    }
    assert report.current.incidents == 5
    # Arrivals 410, 390, 470 and 285 s after the alert.
    assert report.current.arrivals == 4
    assert report.current.mean_alert_to_arrival_s == 388.75
    assert report.percentile_method.startswith("linear")


def test_the_mean_arrival_is_compared_with_last_year(week):
    report = response_time_report(week.storage.incidents, START, END, area="plaza")
    last_year = report.last_year
    assert (last_year.period.start, last_year.period.end) == (
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2025, 12, 8, tzinfo=UTC),
    )
    assert last_year.period.mean_alert_to_arrival_s == 580.0
    # 388.75 - 580 = -191.25 s: 33.0 % faster than last year.
    change = last_year.mean_alert_to_arrival
    assert (change.change_s, change.change_pct) == (-191.25, -33.0)


def test_each_segment_is_compared_with_the_week_before(week):
    report = response_time_report(week.storage.incidents, START, END, area="plaza")
    previous = report.previous_period
    assert previous.period.start == datetime(2026, 11, 24, tzinfo=UTC)
    assert previous.period.end == START
    # Last week's only incident: acknowledged (by dispatch) after 40 s, on scene at 350 s.
    ack = next(s for s in previous.segments if s.segment == "alert_to_ack")
    assert (ack.p50.change_s, ack.p50.change_pct) == (5.0, 12.5)  # 45 vs 40 s: slower
    arrival = previous.mean_alert_to_arrival
    assert (arrival.change_s, arrival.change_pct) == (38.75, 11.1)  # 388.75 vs 350
    # No on-scene work was finished last week: nothing to compare with.
    resolved = next(s for s in previous.segments if s.segment == "on_scene_to_resolved")
    assert (resolved.p50.change_s, resolved.p50.change_pct) == (None, None)


def test_filters_narrow_the_incidents_counted(week):
    everywhere = response_time_report(week.storage.incidents, START, END)
    assert everywhere.current.incidents == 6  # the north gate's too
    assert figures(everywhere, "alert_to_ack").count == 6
    gate = response_time_report(week.storage.incidents, START, END, area="north-gate")
    assert (gate.current.incidents, gate.current.mean_alert_to_arrival_s) == (1, 2700.0)
    other_kind = response_time_report(week.storage.incidents, START, END, kind="fight")
    assert other_kind.current.incidents == 0
    maintenance = response_time_report(
        week.storage.incidents, START, END, category=Category.MAINTENANCE
    )
    assert maintenance.current.incidents == 0


def test_a_period_without_incidents_has_counts_and_no_figures(desk):
    report = response_time_report(desk.storage.incidents, START, END)
    assert report.current.incidents == 0
    assert all((s.count, s.p50_s, s.p90_s) == (0, None, None) for s in report.current.segments)
    assert report.last_year.mean_alert_to_arrival.change_pct is None


def test_a_period_must_end_after_it_starts(desk):
    with pytest.raises(ValueError, match="end after it starts"):
        response_time_report(desk.storage.incidents, END, START)


def test_the_same_day_last_year_of_29_february_is_28_february():
    assert year_earlier(datetime(2028, 2, 29, 12, tzinfo=UTC)) == datetime(
        2027, 2, 28, 12, tzinfo=UTC
    )
