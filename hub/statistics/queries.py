"""The statistics page's SQL, its indexes, and the time-zone spans it groups by.

**Reads on their own connection.** The hub shares one SQLite connection under one lock
(:class:`~hub.storage.sqlite.database.SqliteDatabase`); a year's statistics holding that lock
would hold up ingest's commits. WAL lets any number of readers run beside the writer, so each
statistics call opens a short-lived read-only connection (``PRAGMA query_only``) to the same
file and closes it when done: nothing stays open across a backup restore.

**Two indexes** (migration set ``villagewatch-hub-statistics``), each *covering* — every
column a query reads is in the index, so SQLite never visits the table rows:

* ``incidents_statistics (opened_at, category, kind, area, state, outcome, id)``: a period is
  one range of the index; counts by kind, area and local time, and the incidents joined to
  their alerts for false-alarm rates, all read from it alone.
* ``incidents_timings (opened_at, category, state, <the five milestone times>)``: the
  response-time segments of a period;
and the alerts repository's ``incident_sources`` (incident, node, camera, zone, kind; one row
per pair): false-alarm rates join incidents to it instead of to every alert, and it keeps a
rule's history after the alerts themselves are purged.

``bench/stats_queries.py`` times these calls with and without the indexes.

**Local hour and weekday in SQL.** SQLite knows no time zones, only fixed offsets
(``strftime('%H', t, '+120 minutes')``). A period is split where the site's zone changes its
offset (:func:`offset_spans`: at most twice a year for daylight saving), and each span is
grouped with its own offset, so an incident at 01:30 UTC on the last Sunday of March counts at
03:30 in Berlin and one at 00:30 UTC the day before at 01:30.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import numpy as np
from sqlite_utils.migrations import Migrations

from hub.storage.sqlite.database import SqliteDatabase, iso

migrations = Migrations("villagewatch-hub-statistics")

INCIDENTS_INDEX = (
    "CREATE INDEX IF NOT EXISTS incidents_statistics"
    " ON incidents (opened_at, category, kind, area, state, outcome, id)"
)
TIMINGS_INDEX = (
    "CREATE INDEX IF NOT EXISTS incidents_timings ON incidents"
    " (opened_at, category, state, acknowledged_at, dispatched_at, en_route_at, on_scene_at,"
    " resolved_at)"
)


@migrations()
def m001_statistics_indexes(db) -> None:
    db.execute(INCIDENTS_INDEX)
    db.execute(TIMINGS_INDEX)
    # (m001 once made an alerts index too; m003 drops it: incident_sources replaced it)


@migrations()
def m002_no_alerts_index(db) -> None:
    """Every alert insert paid for a five-column index only false-alarm rates read; they read
    ``incident_sources`` now (kept by the alerts repository)."""
    db.execute("DROP INDEX IF EXISTS alerts_statistics")


#: What an incident counts as in a false-alarm rate (the table in hub.statistics.false_alarms).
CLASS_SQL = (
    "CASE WHEN i.state = 'cancelled' THEN 'cancelled'"
    " WHEN i.state != 'resolved' THEN 'open'"
    " WHEN i.outcome = 'false_alarm' THEN 'false_alarm'"
    " WHEN i.outcome = 'duplicate' THEN 'duplicate'"
    " ELSE 'real' END"
)
#: The times of an incident's life the response-time segments run between.
MILESTONE_COLUMNS = (
    "opened_at", "acknowledged_at", "dispatched_at", "en_route_at", "on_scene_at", "resolved_at",
)  # fmt: skip

#: The WHERE of every incident query: a period of opening times, optionally one category.
_PERIOD = "opened_at >= ? AND opened_at < ? AND (? IS NULL OR category = ?)"


def offset_spans(
    zone: tzinfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, int]]:
    """``[start, end)`` cut where ``zone``'s UTC offset changes: ``(from, to, minutes)``.

    The offset is sampled every 6 hours (zones change at most a few times a year) and each
    change is narrowed down by bisection to the whole second it happens at (zones change
    on whole seconds)."""

    def offset(seconds: float) -> int:
        moment = datetime.fromtimestamp(seconds, UTC).astimezone(zone)
        return int(moment.utcoffset().total_seconds() // 60)

    spans = []
    span_start, here, stop = start, start.timestamp(), end.timestamp()
    current = offset(here)
    while here < stop:
        step = min(here + 6 * 3600, stop)
        probe = step if step < stop else stop - 1e-3  # the last millisecond inside
        if offset(probe) == current:
            here = step
            continue
        low, high = math.floor(here), math.ceil(probe)  # offset(low) == current != offset(high)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if offset(middle) == current else (low, middle)
        change = datetime.fromtimestamp(high, UTC)
        spans.append((span_start, change, current))
        span_start, here, current = change, float(high), offset(high)
    spans.append((span_start, end, current))
    return spans


class StatisticsStore:
    """Statistics read straight from the hub's SQLite file (see the module's docstring)."""

    def __init__(self, database: SqliteDatabase, *, indexed: bool = True) -> None:
        """``indexed=False`` neither creates nor names the statistics indexes: the same queries on
        the storage's own indexes only (bench/stats_queries.py's baseline)."""
        if indexed:
            database.migrate(migrations)
        self.path = Path(database.path)
        self.indexed = indexed

    def _by(self, index: str) -> str:
        """``INDEXED BY``: the plan stays the covering one whatever SQLite's guess."""
        return f" INDEXED BY {index}" if self.indexed else ""

    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            conn.execute("PRAGMA query_only = ON")
            yield conn
        finally:
            conn.close()

    def counts(self, start: datetime, end: datetime, category: str | None) -> dict[tuple, int]:
        """Incidents opened in ``[start, end)`` per ``(kind, area)`` (no area: ``(none)``):
        one pass over the period serves both the by-kind and the by-area figures."""
        sql = (
            "SELECT kind, COALESCE(area, '(none)'), COUNT(*) FROM incidents"
            f"{self._by('incidents_statistics')} WHERE {_PERIOD} GROUP BY 1, 2"
        )
        with self._reader() as conn:
            rows = conn.execute(sql, [iso(start), iso(end), category, category])
            return {(kind, area): count for kind, area, count in rows}

    def hour_of_week(
        self, zone: tzinfo, start: datetime, end: datetime, category: str | None
    ) -> list[list[int]]:
        """Incidents opened in ``[start, end)`` per local weekday (Monday = 0) and hour:
        seven lists of 24 counts."""
        grid = [[0] * 24 for _ in range(7)]
        sql = (
            "SELECT CAST(strftime('%w', opened_at, ?1) AS INTEGER),"
            " CAST(strftime('%H', opened_at, ?1) AS INTEGER), COUNT(*)"
            f" FROM incidents{self._by('incidents_statistics')}"
            " WHERE opened_at >= ?2 AND opened_at < ?3 AND (?4 IS NULL OR category = ?4)"
            " GROUP BY 1, 2"
        )
        with self._reader() as conn:
            for a, b, minutes in offset_spans(zone, start, end):
                args = [f"{minutes:+d} minutes", iso(a), iso(b), category]
                for sunday0, hour, count in conn.execute(sql, args):
                    grid[(sunday0 + 6) % 7][hour] += count
        return grid

    def incident_sources(self, start: datetime, end: datetime) -> list[tuple]:
        """For security incidents opened in ``[start, end)``: one row per incident and
        alert source, ``(incident id, class, node, camera, zone, kind)`` — an incident
        raised by ten alerts of one rule is one row (:data:`CLASS_SQL` for the class). Read
        from ``incident_sources`` (the baseline, ``indexed=False``: from the alerts)."""
        if self.indexed:  # its key makes each row distinct already (no temporary B-tree)
            select = "SELECT i.id, {}, s.node, NULLIF(s.camera, ''), NULLIF(s.zone, ''), s.kind"
            join = " JOIN incident_sources AS s ON s.incident_id = i.id"
        else:
            select = "SELECT DISTINCT i.id, {}, a.node, a.camera, a.zone, a.kind"
            join = " JOIN alerts AS a ON a.incident_id = i.id"
        sql = (
            select.format(CLASS_SQL)
            + f" FROM incidents AS i{self._by('incidents_statistics')}{join}"
            " WHERE i.opened_at >= ? AND i.opened_at < ? AND i.category = 'security'"
        )
        with self._reader() as conn:
            return conn.execute(sql, [iso(start), iso(end)]).fetchall()

    def oldest_alert(self) -> datetime | None:
        """When the oldest alert still kept was received (retention purges older ones)."""
        with self._reader() as conn:
            row = conn.execute("SELECT MIN(received_at) FROM alerts").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def milestone_days(self, start: datetime, end: datetime, category: str | None) -> np.ndarray:
        """Incidents opened in ``[start, end)``: one row each of ``resolved`` (1.0 or 0.0)
        and the Julian day of each of :data:`MILESTONE_COLUMNS` (NaN: not reached). Numbers,
        not datetimes: a year's three periods are 300,000 rows, and parsing five ISO times
        per row in Python took longer than the whole query."""
        days = ", ".join(f"julianday({c})" for c in MILESTONE_COLUMNS)
        sql = (
            f"SELECT state = 'resolved', {days} FROM incidents"
            f"{self._by('incidents_timings')} WHERE {_PERIOD}"
        )
        with self._reader() as conn:
            rows = conn.execute(sql, [iso(start), iso(end), category, category]).fetchall()
        return np.array(rows, dtype=float).reshape(len(rows), len(MILESTONE_COLUMNS) + 1)
