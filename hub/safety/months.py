"""Calendar months in the site's time zone: the index's periods.

A month is [its first midnight, the next month's first midnight) in the site's zone, turned
into UTC instants for the queries, so a November in Europe/London that ends on winter time
still holds every hour of November as people there lived it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2026-11`` → Month(2026, 11); ValueError with a readable message otherwise."""
        found = MONTH_PATTERN.match(text)
        if not found or not 2000 <= int(found[1]) <= 2199:
            raise ValueError(f"{text!r} is not a month: use YYYY-MM, e.g. 2026-11")
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def containing(cls, moment: datetime, zone: str) -> Month:
        local = moment.astimezone(ZoneInfo(zone))
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def bounds(self, zone: str) -> tuple[datetime, datetime]:
        """[start, end) of the month in ``zone``, as UTC instants."""
        tz = ZoneInfo(zone)
        nxt = self.shift(1)
        start = datetime(self.year, self.month, 1, tzinfo=tz)
        end = datetime(nxt.year, nxt.month, 1, tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)


def month_range(first: Month, last: Month) -> list[Month]:
    """Every month from ``first`` to ``last``, both included."""
    months = []
    while first <= last:
        months.append(first)
        first = first.shift(1)
    return months
