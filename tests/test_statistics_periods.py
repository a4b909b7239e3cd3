"""Periods in the site's calendar (hub.statistics.periods) and local hours across daylight
saving (hub.statistics.queries), in Europe/Berlin (which changes its clocks) and Asia/Shanghai
(which has not since 1991), on a real SQLite file.

Berlin in 2026: summer time from 29 March 01:00 UTC (02:00 CET → 03:00 CEST) to 25 October
01:00 UTC (03:00 CEST → 02:00 CET). Shanghai is UTC+8 all year; it kept summer time from
1986 to 1991 (in 1988, by the tz database: 17 April 02:00 → 11 September 02:00 local, i.e.
16 April 18:00 UTC to 10 September 17:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from statistics_kit import incident, insert

from hub.statistics.changes import count_change
from hub.statistics.periods import Period, Unit, custom, period_of
from hub.statistics.queries import StatisticsStore, offset_spans
from hub.storage.sqlite import open_sqlite_storage

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_month_before_january_is_last_years_december() -> None:
    january = period_of(Unit.MONTH, date(2027, 1, 19))
    assert (january.first, january.last) == (date(2027, 1, 1), date(2027, 1, 31))
    assert january.previous() == Period(Unit.MONTH, date(2026, 12, 1), date(2027, 1, 1))
    assert january.last_year() == Period(Unit.MONTH, date(2026, 1, 1), date(2026, 2, 1))
    march = period_of(Unit.MONTH, date(2026, 3, 31))
    assert march.previous() == Period(Unit.MONTH, date(2026, 2, 1), date(2026, 3, 1))  # 28 days


def test_quarters_and_years_step_back_across_the_boundary() -> None:
    q1 = period_of(Unit.QUARTER, date(2027, 2, 14))
    assert (q1.first, q1.end) == (date(2027, 1, 1), date(2027, 4, 1))
    assert q1.previous() == Period(Unit.QUARTER, date(2026, 10, 1), date(2027, 1, 1))
    year = period_of(Unit.YEAR, date(2027, 6, 1))
    assert year.previous() == Period(Unit.YEAR, date(2026, 1, 1), date(2027, 1, 1))
    assert year.last_year() == year.previous()


def test_a_week_across_new_year_is_compared_with_the_same_weekdays() -> None:
    week = period_of(Unit.WEEK, date(2027, 1, 1))  # a Friday
    assert (week.first, week.last) == (date(2026, 12, 28), date(2027, 1, 3))  # Mon..Sun
    assert week.previous().first == date(2026, 12, 21)
    year_ago = week.last_year()
    assert year_ago.first == date(2025, 12, 29)
    assert year_ago.first.weekday() == 0 and year_ago.days == 7


def test_days_and_custom_periods() -> None:
    leap = period_of(Unit.DAY, date(2028, 2, 29))
    assert leap.last_year() == Period(Unit.DAY, date(2027, 2, 28), date(2027, 3, 1))
    assert leap.previous() == Period(Unit.DAY, date(2028, 2, 28), date(2028, 2, 29))
    ten = custom(date(2026, 12, 27), date(2027, 1, 5))
    assert ten.days == 10
    assert ten.previous() == custom(date(2026, 12, 17), date(2026, 12, 26))
    assert ten.last_year() == custom(date(2025, 12, 27), date(2026, 1, 5))
    with pytest.raises(ValueError):
        custom(date(2027, 1, 5), date(2027, 1, 4))
    with pytest.raises(ValueError):
        custom(date(2026, 1, 1), date(2027, 6, 1))
    with pytest.raises(ValueError):
        period_of(Unit.CUSTOM, date(2026, 1, 1))


def test_local_days_become_utc_instants_by_the_zones_rules() -> None:
    march = period_of(Unit.MONTH, date(2026, 3, 1))
    start, end = march.instants(BERLIN)
    assert (start, end) == (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))
    assert end - start == timedelta(hours=31 * 24 - 1)
    short = period_of(Unit.DAY, date(2026, 3, 29)).instants(BERLIN)
    long = period_of(Unit.DAY, date(2026, 10, 25)).instants(BERLIN)
    assert short[1] - short[0] == timedelta(hours=23)
    assert long[1] - long[0] == timedelta(hours=25)
    january = period_of(Unit.MONTH, date(2027, 1, 1)).instants(SHANGHAI)
    assert january == (utc(2026, 12, 31, 16), utc(2027, 1, 31, 16))


def test_offset_spans_cut_at_each_clock_change() -> None:
    year = period_of(Unit.YEAR, date(2026, 1, 1))
    start, end = year.instants(BERLIN)
    assert offset_spans(BERLIN, start, end) == [
        (start, utc(2026, 3, 29, 1), 60),
        (utc(2026, 3, 29, 1), utc(2026, 10, 25, 1), 120),
        (utc(2026, 10, 25, 1), end, 60),
    ]
    start, end = year.instants(SHANGHAI)
    assert offset_spans(SHANGHAI, start, end) == [(start, end, 480)]
    old = period_of(Unit.YEAR, date(1988, 1, 1)).instants(SHANGHAI)
    assert [minutes for *_, minutes in offset_spans(SHANGHAI, *old)] == [480, 540, 480]
    assert offset_spans(SHANGHAI, *old)[1][:2] == (utc(1988, 4, 16, 18), utc(1988, 9, 10, 17))


@pytest.fixture
def store(tmp_path):
    storage = open_sqlite_storage(tmp_path / "hub")
    yield StatisticsStore(storage.incidents.database), storage.incidents.database
    storage.close()


def test_local_hours_across_both_clock_changes(store) -> None:
    stats, database = store
    opened = [
        utc(2026, 3, 29, 0, 30),  # 01:30 CET, Sunday
        utc(2026, 3, 29, 1, 30),  # 03:30 CEST: 02:xx never happened that night
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST, Sunday
        utc(2026, 10, 25, 1, 30),  # 02:30 CET: the same local hour, an hour later
        utc(2026, 10, 26, 23, 30),  # 00:30 CET on Tuesday 27 October
    ]
    insert(database, [incident(at) for at in opened])
    start, end = period_of(Unit.YEAR, date(2026, 1, 1)).instants(BERLIN)
    grid = stats.hour_of_week(BERLIN, start, end, "security")
    sunday, tuesday = grid[6], grid[1]
    assert (sunday[1], sunday[2], sunday[3]) == (1, 2, 1)
    assert tuesday[0] == 1
    assert sum(map(sum, grid)) == len(opened)


def test_new_years_eve_in_shanghai_is_already_january(store) -> None:
    stats, database = store
    insert(database, [incident(utc(2026, 12, 31, 16, 30))])  # 00:30 on 1 January, local
    january = period_of(Unit.MONTH, date(2027, 1, 1)).instants(SHANGHAI)
    december = period_of(Unit.MONTH, date(2026, 12, 1)).instants(SHANGHAI)
    assert stats.counts(*january, "security") == {("intrusion", "plaza"): 1}
    assert stats.counts(*december, "security") == {}
    grid = stats.hour_of_week(SHANGHAI, *january, None)
    assert grid[4][0] == 1  # Friday, hour 0


def test_a_change_on_too_few_events_has_no_percentage() -> None:
    assert count_change(3, 1, 10).model_dump() == {
        "current": 3,
        "other": 1,
        "change": 2,
        "change_pct": None,
        "status": "too_few",
    }
    assert count_change(12, 8, 10).change_pct == 50.0
    assert count_change(8, 10, 10).change_pct == -20.0
    assert count_change(12, 0, 10).status == "none_before"
    assert count_change(5, 4, 10).status == "too_few"  # 9 events in all
