"""The incident export: a period's incidents and the units sent to each, as one CSV file.

One file, one table, so it opens in any spreadsheet and filters with one click: the column
``record`` says what a row is.

* ``incident`` — one per incident opened in the period, oldest first: its reference, what
  and where, its state and outcome, the first time it reached each state, and the seconds
  of each response segment (:data:`hub.incidents.timings.SEGMENTS`, plus alert → on scene).
* ``assignment`` — one per unit sent, right after its incident's row: the unit's callsign
  and kind, the assignment's own state, times and segment seconds
  (:data:`hub.incidents.timings.UNIT_SEGMENTS`). The incident's columns are repeated so a
  row read alone still says which incident it belongs to.

Times are ISO 8601 in UTC; a segment not reached is an empty cell. Free text (the title)
comes from people and other systems: a cell starting with ``= + - @`` (or a tab or carriage
return) would run as a formula in a spreadsheet (CSV injection, OWASP), so it is prefixed
with an apostrophe, which spreadsheets show as text. Numbers the hub computes are written as
numbers and never need it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from enum import Enum

from hub.domain.incidents import Incident
from hub.incidents.timings import ARRIVAL, SEGMENTS, UNIT_SEGMENTS, seconds
from hub.storage.units import AssignmentTiming

#: Leading characters a spreadsheet reads as the start of a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_TIMES = ("opened_at", "acknowledged_at", "dispatched_at", "accepted_at", "en_route_at")
_TIMES += ("on_scene_at", "resolved_at", "ended_at")
_INCIDENT_SEGMENTS = (*SEGMENTS, ARRIVAL)
_SECONDS = tuple(dict.fromkeys(f"{s.name}_s" for s in (*_INCIDENT_SEGMENTS, *UNIT_SEGMENTS)))
COLUMNS = (
    "record", "ref", "title", "category", "kind", "severity", "area", "state", "outcome",
    "unit", "unit_kind", *_TIMES, *_SECONDS,
)  # fmt: skip


def cell(value: object) -> str | float:
    """One value as the CSV shows it; text that could run as a formula is made inert."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds")
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, float | int):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _incident_columns(incident: Incident) -> dict:
    return {
        "ref": incident.ref,
        "title": incident.title,
        "category": incident.category,
        "kind": incident.kind,
        "severity": incident.severity,
        "area": incident.location.area,
    }


def incident_row(incident: Incident) -> dict:
    row = _incident_columns(incident) | {"record": "incident", "state": incident.state}
    row |= {"outcome": incident.outcome}
    row |= {t: getattr(incident, t, None) for t in _TIMES}
    row |= {f"{s.name}_s": seconds(incident, s) for s in _INCIDENT_SEGMENTS}
    return row


def assignment_row(incident: Incident, unit: AssignmentTiming) -> dict:
    assignment = unit.assignment
    row = _incident_columns(incident) | {"record": "assignment", "state": assignment.state}
    row |= {"outcome": assignment.outcome, "unit": unit.callsign, "unit_kind": unit.unit_kind}
    row |= {t: getattr(assignment, t, None) for t in _TIMES}
    row |= {f"{s.name}_s": seconds(assignment, s) for s in UNIT_SEGMENTS}
    return row


def export_rows(incidents: Iterable[Incident], units: Iterable[AssignmentTiming]) -> Iterator[dict]:
    """Each incident's row followed by its units' rows, in the order given."""
    by_incident: dict[str, list[AssignmentTiming]] = {}
    for unit in units:
        by_incident.setdefault(unit.assignment.incident_id, []).append(unit)
    for incident in incidents:
        yield incident_row(incident)
        for unit in by_incident.get(incident.id, []):
            yield assignment_row(incident, unit)


def to_csv(rows: Iterable[dict]) -> str:
    """The rows as CSV text (header first), every cell through :func:`cell`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, restval="", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: cell(v) for k, v in row.items()})
    return out.getvalue()
