"""What the safety index and the hot spots read of an incident, and which incidents count.

The rule that keeps the index honest lives here, once: an incident **counts** only if it is a
security incident (not a camera's maintenance), it was not cancelled, it was not resolved as a
false alarm or a duplicate, and its kind weighs more than zero. Everything that does not count
contributes exactly nothing — not to the incident rate, not to the response times, not to the
exposure, not to where the smoothing starts — so adding false alarms, cancellations or
duplicates can never move the index either way (tests/test_safety_index.py proves it on
hand-built histories). They are still counted, by reason, so the page can show them: a month
where many incidents were suddenly "false alarms" is visible next to its index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from contract.safety_settings import SafetySettings
from hub.domain.incidents import Category, Incident, IncidentState, Outcome
from hub.storage.incidents import IncidentQuery, IncidentRepository
from hub.storage.sqlite.database import iso

#: Why an incident does not count, in the order the reasons are checked.
EXCLUSIONS = ("maintenance", "cancelled", "false_alarm", "duplicate", "zero_weight")
#: Incidents read per page from the repository.
PAGE = 5_000


@dataclass(frozen=True)
class Fact:
    """One incident as the index sees it (tests build these by hand)."""

    opened_at: datetime
    kind: str
    area: str | None = None
    category: Category = Category.SECURITY
    state: IncidentState = IncidentState.RESOLVED
    outcome: Outcome | None = Outcome.HANDLED
    dispatched_at: datetime | None = None
    on_scene_at: datetime | None = None

    @classmethod
    def of(cls, incident: Incident) -> Fact:
        return cls(
            opened_at=incident.opened_at,
            kind=incident.kind,
            area=incident.location.area,
            category=incident.category,
            state=incident.state,
            outcome=incident.outcome,
            dispatched_at=incident.dispatched_at,
            on_scene_at=incident.on_scene_at,
        )


def exclusion(fact: Fact, settings: SafetySettings) -> str | None:
    """Why ``fact`` does not count (one of :data:`EXCLUSIONS`), or None when it counts."""
    if fact.category is not Category.SECURITY:
        return "maintenance"
    if fact.state is IncidentState.CANCELLED:
        return "cancelled"
    if fact.outcome is Outcome.FALSE_ALARM:
        return "false_alarm"
    if fact.outcome is Outcome.DUPLICATE:
        return "duplicate"
    if settings.weight(fact.kind) <= 0:
        return "zero_weight"
    return None


def read_facts(repo: IncidentRepository, start: datetime, end: datetime) -> list[Fact]:
    """Every incident opened in [start, end), oldest first.

    From the hub's SQLite file, only the eight columns, on a read-only connection of its own
    (as hub/statistics does: a year's read must not hold the lock ingest commits under;
    bench/safety_index.py measured whole incidents through the repository's pages at ~7x
    the cost). Any other repository is read through its pages."""
    database = getattr(repo, "database", None)
    if database is not None and hasattr(database, "path"):
        return _lean(Path(database.path), start, end)
    return sorted(_pages(repo, start, end), key=lambda f: f.opened_at)


_COLUMNS = "opened_at, kind, area, category, state, outcome, dispatched_at, on_scene_at"


def _lean(path: Path, start: datetime, end: datetime) -> list[Fact]:
    conn = sqlite3.connect(path, timeout=10)
    try:
        conn.execute("PRAGMA query_only = ON")
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM incidents WHERE opened_at >= ? AND opened_at < ?"
            " ORDER BY opened_at, id",
            (iso(start), iso(end)),
        ).fetchall()
    finally:
        conn.close()
    when = datetime.fromisoformat
    return [
        Fact(when(o), kind, area, Category(cat), IncidentState(state),
             Outcome(outcome) if outcome else None, when(d) if d else None,
             when(s) if s else None)
        for o, kind, area, cat, state, outcome, d, s in rows
    ]  # fmt: skip


def _pages(repo: IncidentRepository, start: datetime, end: datetime) -> Iterator[Fact]:
    cursor: str | None = None
    while True:
        query = IncidentQuery(opened_since=start, opened_before=end, cursor=cursor, limit=PAGE)
        found, cursor = repo.find(query)
        yield from (Fact.of(i) for i in found)
        if cursor is None:
            return
