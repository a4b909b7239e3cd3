"""The safety index as a shared dataset: per area (and the site) per month, the value only.

It is read through the index helper's interface, :func:`hub.safety.service.index_report`
(``SafetyIndexReport.site`` / ``.areas``: a ``PlaceIndex`` each, with ``index`` and
``current.components.counted``); this module only decides what of it may leave:

* **The value, never the components.** The components behind a value (incidents counted,
  excluded by reason, dispatched, arrived) are small counts, so they stay on the hub's own
  page.
* **k applies to the incidents behind a value.** An area's month is published only if the
  incidents it counted are none or at least k; otherwise it is left out, like a small cell.
* **No subtraction between the site and its areas.** The site's value weighs all areas
  together: beside all but one area's value it would give the hidden one away, so the site
  is published only to a token that covers every area, only when no area of that month
  was left out, and only when the incidents of no area (counted for the site alone) are
  none or at least k.
* Only months that have ended and lie wholly inside the request's period are served.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hub.safety.months import Month, month_range
from hub.safety.service import SafetyIndexReport

SITE = "site"
IndexSource = Callable[[Month], SafetyIndexReport]


def months_within(start: datetime, end: datetime, zone: str) -> list[Month]:
    """The months whose [start, end) in ``zone`` lies wholly inside [start, end)."""
    first = Month.containing(start, zone)
    last = Month.containing(end, zone)
    return [
        m
        for m in month_range(first, last)
        if start <= m.bounds(zone)[0] and m.bounds(zone)[1] <= end
    ]


def _publishable(counted: int, k: int) -> bool:
    return counted == 0 or counted >= k


def index_rows(
    source: IndexSource,
    months: list[Month],
    areas: list[str],
    all_areas: set[str],
    k: int,
) -> list[dict]:
    """``{month, area, index}`` rows that may leave (``area`` "site" for the whole site)."""
    rows = []
    for month in months:
        report = source(month)
        kept = [
            p
            for p in report.areas
            if p.area in areas and _publishable(p.current.components.counted, k)
        ]
        hidden = any(not _publishable(p.current.components.counted, k) for p in report.areas)
        rows += [{"month": str(month), "area": p.area, "index": p.index} for p in kept]
        site = report.site
        # Incidents of no area count for the site only: site minus areas must be safe too.
        unplaced = site.current.components.counted - sum(
            p.current.components.counted for p in report.areas
        )
        whole = set(areas) >= all_areas and not hidden
        if whole and _publishable(site.current.components.counted, k) and _publishable(unplaced, k):
            rows.append({"month": str(month), "area": SITE, "index": site.index})
    return rows
