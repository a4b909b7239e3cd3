"""The safety index of a month for the site and each of its areas, read from storage.

:func:`site_index` is the pure part (facts in, report out: what the tests check by hand);
:func:`index_report` reads the facts it needs from the incident repository first.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from pydantic import BaseModel, Field

from contract.safety_settings import SafetySettings
from contract.siteconfig import SiteConfig
from hub.safety.facts import Fact, read_facts
from hub.safety.index import NOT_A_PREDICTION, PlaceIndex, place_index, window
from hub.safety.months import Month
from hub.storage.incidents import IncidentRepository

FORMULA_URL = "docs/safety-index.md"


class SafetyIndexReport(BaseModel):
    month: str
    timezone: str
    formula: str = Field(FORMULA_URL, description="where the formula is published")
    settings: SafetySettings = Field(description="the weights and constants in force")
    note: str = NOT_A_PREDICTION
    site: PlaceIndex
    areas: list[PlaceIndex]


def site_index(
    facts: Sequence[Fact], config: SiteConfig, month: Month, settings: SafetySettings
) -> SafetyIndexReport:
    """The index of ``month`` for the site and each area, from ``facts`` (every incident of
    the site opened in the months before and in ``month``; others are ignored)."""
    zone = config.site.timezone
    months = window(facts, settings, zone, month)
    keyed = by_month(facts, months, zone)
    exposures = {a.id: settings.households_of(a.id) for a in config.areas}
    total = sum(h for h, _ in exposures.values())
    assumed = sum(1 for _, configured in exposures.values() if not configured)
    site = place_index(keyed, months, (None, config.site.name), (total, assumed), settings, zone)
    areas = [
        place_index(
            [(m, f) for m, f in keyed if f.area == area.id],
            months,
            (area.id, area.name),
            (exposures[area.id][0], 0 if exposures[area.id][1] else 1),
            settings,
            zone,
        )
        for area in config.areas
    ]
    return SafetyIndexReport(
        month=str(month), timezone=zone, settings=settings, site=site, areas=areas
    )


def by_month(facts: Sequence[Fact], months: Sequence[Month], zone: str) -> list[tuple[Month, Fact]]:
    """Each fact inside ``months`` (consecutive) with its month, found by bisecting the months'
    UTC starts: a time-zone conversion per incident cost more than all the rest together
    (bench/safety_index.py)."""
    starts = [m.bounds(zone)[0] for m in months] + [months[-1].bounds(zone)[1]]
    keyed = []
    for fact in facts:
        i = bisect_right(starts, fact.opened_at) - 1
        if 0 <= i < len(months):
            keyed.append((months[i], fact))
    return keyed


def history_bounds(month: Month, settings: SafetySettings, zone: str):
    """[start, end) of everything the index of ``month`` may read."""
    start, _ = month.shift(1 - settings.history_months).bounds(zone)
    _, end = month.bounds(zone)
    return start, end


def index_report(repo: IncidentRepository, config: SiteConfig, month: Month) -> SafetyIndexReport:
    """:func:`site_index` of ``month`` over the incidents in storage."""
    settings = config.safety
    facts = read_facts(repo, *history_bounds(month, settings, config.site.timezone))
    return site_index(facts, config, month, settings)
