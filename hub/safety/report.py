"""The monthly report for the station and the residents' committee: what goes in it.

One month (site time zone) of: the safety index of the site and each area with the figures
behind it, the trend of the index and of counted incidents by kind, the response times
(:mod:`hub.incidents.timings`, against the month before), and the places and hours with most
incidents (:mod:`hub.safety.hotspots`, the 12 weeks up to the month's end).
:mod:`hub.safety.report_html` turns it into printable HTML.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from contract.siteconfig import SiteConfig
from hub.domain.incidents import Category
from hub.incidents.timings import PeriodFigures, period_figures
from hub.safety.facts import Fact, exclusion, read_facts
from hub.safety.hotspots import HotSpots, hotspots
from hub.safety.months import Month
from hub.safety.service import SafetyIndexReport, history_bounds, site_index
from hub.storage.incidents import IncidentRepository


class KindCount(BaseModel):
    kind: str
    weight: float
    this_month: int
    last_month: int


class MonthlyReport(BaseModel):
    site: str
    month: str
    generated_at: datetime
    index: SafetyIndexReport
    kinds: list[KindCount] = Field(description="counted incidents by kind, most first")
    response: PeriodFigures
    response_last_month: PeriodFigures
    places: HotSpots


def kind_counts(facts: list[Fact], config: SiteConfig, month: Month) -> list[KindCount]:
    """Counted incidents of ``month`` and the month before, by kind."""
    zone, settings = config.site.timezone, config.safety
    now: Counter[str] = Counter()
    before: Counter[str] = Counter()
    for fact in facts:
        if exclusion(fact, settings) is not None:
            continue
        opened = Month.containing(fact.opened_at, zone)
        if opened == month:
            now[fact.kind] += 1
        elif opened == month.shift(-1):
            before[fact.kind] += 1
    kinds = sorted(set(now) | set(before), key=lambda k: (-now[k], -before[k], k))
    return [KindCount(kind=k, weight=settings.weight(k), this_month=now[k], last_month=before[k])
            for k in kinds]  # fmt: skip


def monthly_report(
    repo: IncidentRepository, config: SiteConfig, month: Month, generated_at: datetime
) -> MonthlyReport:
    """Everything the report of ``month`` shows, read from storage."""
    zone = config.site.timezone
    start, end = month.bounds(zone)
    last_start, last_end = month.shift(-1).bounds(zone)
    first, _ = history_bounds(month, config.safety, zone)
    first = min(first, end - timedelta(weeks=config.safety.hotspot_weeks))
    facts = read_facts(repo, first, end)
    security = Category.SECURITY  # response times of crime, not of camera repairs
    return MonthlyReport(
        site=config.site.name,
        month=str(month),
        generated_at=generated_at,
        index=site_index(facts, config, month, config.safety),
        kinds=kind_counts(facts, config, month),
        response=period_figures(repo.milestones_between(start, end, category=security), start, end),
        response_last_month=period_figures(
            repo.milestones_between(last_start, last_end, category=security), last_start, last_end
        ),
        places=hotspots(facts, config, end),
    )
