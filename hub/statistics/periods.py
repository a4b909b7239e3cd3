"""Periods in the site's own calendar, and the periods each one is compared with.

People ask about *their* days: "March", "last week", "Monday". A period is therefore a run of
whole local days, ``[first, end)`` as calendar dates in the site's time zone, and only turned
into UTC instants at the edge (:meth:`Period.instants`), where the zone's rules say how long
each day was. A day in Europe/Berlin on the last Sunday of March has 23 hours and the last
Sunday of October 25; March in Berlin is 743 hours long, and none of that is guessed here:
``zoneinfo`` knows. Where midnight itself does not exist (zones that change clocks at 00:00)
the day starts at the first instant after the gap, which is what ``fold=0`` gives.

Each period has two others it is compared with:

* :meth:`Period.previous` — the period of the same *kind* just before: the day before, the
  week before, the calendar month before (February for March: fewer days, but the month
  people mean), the quarter or year before; a custom run of N days is compared with the N
  days just before it.
* :meth:`Period.last_year` — the same period a year earlier: the same dates (29 February
  becomes the 28th), the same month, quarter or year; a week is compared with the week
  52 weeks earlier (364 days), so Mondays meet Mondays — day-of-week counts only compare
  when the weekdays line up.

A year boundary needs no special case: the month before January 2027 is December 2026
because months are counted as ``year * 12 + month``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

#: A custom period may be at most this long (a year and a bit, as the reports allow).
MAX_DAYS = 400


class Unit(StrEnum):
    DAY = "day"
    WEEK = "week"  # Monday to Sunday (ISO 8601)
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    CUSTOM = "custom"  # any run of whole days


_MONTHS = {Unit.MONTH: 1, Unit.QUARTER: 3, Unit.YEAR: 12}


def _month_start(month0: int) -> date:
    """The 1st of month number ``month0`` = ``year * 12 + month - 1`` (so -1 wraps a year)."""
    return date(month0 // 12, month0 % 12 + 1, 1)


def _a_year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The first instant of ``day`` in ``zone``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """Whole local days ``[first, end)`` of one :class:`Unit`."""

    unit: Unit
    first: date
    end: date  # the day after the last one

    def __post_init__(self) -> None:
        if not self.first < self.end:
            raise ValueError("a period must end after it starts")
        if (self.end - self.first).days > MAX_DAYS:
            raise ValueError(f"a period may be at most {MAX_DAYS} days long")

    @property
    def last(self) -> date:
        """The period's last day (inclusive), as people write it."""
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.first).days

    def instants(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """``[start, end)`` in UTC: local midnight of the first day to that after the last."""
        return local_midnight(self.first, zone), local_midnight(self.end, zone)

    def previous(self) -> Period:
        """The period of the same kind just before this one (see the module's docstring)."""
        if self.unit in _MONTHS:
            step = _MONTHS[self.unit]
            month0 = self.first.year * 12 + self.first.month - 1
            return Period(self.unit, _month_start(month0 - step), self.first)
        return Period(self.unit, self.first - timedelta(days=self.days), self.first)

    def last_year(self) -> Period:
        """The same period a year earlier (a week: 52 weeks earlier, same weekdays)."""
        if self.unit is Unit.WEEK:
            return Period(
                self.unit, self.first - timedelta(weeks=52), self.end - timedelta(weeks=52)
            )
        first = _a_year_before(self.first)
        if self.unit is Unit.DAY:
            return Period(self.unit, first, first + timedelta(days=1))
        return Period(self.unit, first, _a_year_before(self.end))


def period_of(unit: Unit, day: date) -> Period:
    """The day, week, month, quarter or year that contains ``day``."""
    if unit is Unit.DAY:
        return Period(unit, day, day + timedelta(days=1))
    if unit is Unit.WEEK:
        monday = day - timedelta(days=day.weekday())
        return Period(unit, monday, monday + timedelta(weeks=1))
    if unit is Unit.CUSTOM:
        raise ValueError("a custom period needs its first and last day")
    step = _MONTHS[unit]
    month0 = day.year * 12 + (day.month - 1) // step * step
    return Period(unit, _month_start(month0), _month_start(month0 + step))


def custom(first: date, last: date) -> Period:
    """The days ``first`` to ``last``, both included."""
    return Period(Unit.CUSTOM, first, last + timedelta(days=1))


def today(now: datetime, zone: tzinfo) -> date:
    """The site's local date at ``now``."""
    return now.astimezone(zone).date()
