"""The SQLite incident repository: the duty desk's queue order, history pages, references,
and that the questions asked most are answered from their indexes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contract.protocol import Severity
from hub.domain.incidents import Category, Incident, IncidentState, Location, Source
from hub.storage.incidents import IncidentQuery
from hub.storage.sqlite.database import SqliteDatabase
from hub.storage.sqlite.incidents import SqliteIncidentRepository

T0 = datetime(2026, 12, 2, 21, tzinfo=UTC)


@pytest.fixture
def repo(tmp_path: Path):
    database = SqliteDatabase(tmp_path / "hub.sqlite3")
    yield SqliteIncidentRepository(database, tmp_path)
    database.close()


def add(repo, minute: int, severity=Severity.MAJOR, state=IncidentState.NEW, **fields) -> Incident:
    at = T0 + timedelta(minutes=minute)
    values = dict(
        id=uuid.uuid4().hex,
        ref=repo.next_ref(at.date()),
        category=Category.SECURITY,
        source=Source.ALERTS,
        state=state,
        severity=severity,
        kind="intrusion",
        title="person in zone lawn",
        location=Location(area="plaza"),
        opened_at=at,
        updated_at=at,
        last_alert_at=at,
        alert_count=1,
    )
    return repo.create(Incident(**(values | fields)))


def test_the_queue_is_open_incidents_most_severe_first_then_longest_waiting(repo):
    old_major = add(repo, 0)
    new_critical = add(repo, 5, Severity.CRITICAL)
    old_minor = add(repo, 1, Severity.MINOR, IncidentState.DISPATCHED)
    new_major = add(repo, 3, state=IncidentState.ON_SCENE)
    add(repo, 2, Severity.CRITICAL, IncidentState.RESOLVED)
    add(repo, 4, Severity.CRITICAL, IncidentState.CANCELLED)
    queue = repo.queue()
    assert [i.id for i in queue] == [new_critical.id, old_major.id, new_major.id, old_minor.id]
    assert [i.id for i in repo.queue(limit=1)] == [new_critical.id]


def test_the_queue_can_hold_only_one_category(repo):
    add(repo, 0)
    broken = add(repo, 1, category=Category.MAINTENANCE, kind="stream_lost")
    assert [i.id for i in repo.queue(category=Category.MAINTENANCE)] == [broken.id]


def test_unacknowledged_are_the_new_ones_oldest_first(repo):
    second, first = add(repo, 2), add(repo, 1)
    add(repo, 0, state=IncidentState.ACKNOWLEDGED)
    assert [i.id for i in repo.unacknowledged()] == [first.id, second.id]


def test_history_pages_run_newest_first_and_meet_without_gaps_or_repeats(repo):
    made = [add(repo, m) for m in range(7)]
    # Two incidents opened in the same millisecond are ordered by id, never lost.
    twin = add(repo, 6)
    seen, cursor = [], None
    while True:
        page, cursor = repo.find(IncidentQuery(limit=3, cursor=cursor))
        seen += page
        if cursor is None:
            break
    assert len(seen) == 8
    assert {i.id for i in seen} == {i.id for i in [*made, twin]}
    keys = [(i.opened_at, i.id) for i in seen]
    assert keys == sorted(keys, reverse=True)


def test_history_filters_combine(repo):
    plaza_critical = add(repo, 1, Severity.CRITICAL)
    add(repo, 2, Severity.CRITICAL, location=Location(area="north-gate"))
    add(repo, 3, Severity.MINOR)
    add(repo, 4, Severity.CRITICAL, IncidentState.RESOLVED)
    page, cursor = repo.find(
        IncidentQuery(
            state=(IncidentState.NEW,),
            severity=(Severity.CRITICAL,),
            area="plaza",
            kind="intrusion",
            category=Category.SECURITY,
            opened_since=T0,
            opened_before=T0 + timedelta(minutes=2),
        )
    )
    assert ([i.id for i in page], cursor) == ([plaza_critical.id], None)


@pytest.mark.parametrize("cursor", ["nonsense", "bm9uc2Vuc2U", "MjAyNnxub3RhbmlkCg", "!!"])
def test_a_cursor_we_did_not_make_is_refused(repo, cursor):
    with pytest.raises(ValueError, match="not a cursor from this hub"):
        repo.find(IncidentQuery(cursor=cursor))


def test_references_count_per_day_and_are_unique(repo):
    day = T0.date()
    assert [repo.next_ref(day) for _ in range(3)] == [
        "INC-20261202-0001",
        "INC-20261202-0002",
        "INC-20261202-0003",
    ]
    assert repo.next_ref(day + timedelta(days=1)) == "INC-20261203-0001"
    first = add(repo, 0)
    with pytest.raises(Exception, match="UNIQUE"):
        add(repo, 1, ref=first.ref)


def test_an_incident_reads_back_exactly_as_written(repo):
    made = add(
        repo,
        0,
        source=Source.CALL,
        location=Location(area="plaza", lat=-7.25, lon=112.75, address="Jl. Kenanga 12"),
        caller={"name": "Ibu Sari", "phone": "+62 812"},
        external_ref="CAD-1",
        last_alert_at=None,
        alert_count=0,
        opened_by="ana",
    )
    assert repo.get(made.id) == made
    assert made.caller.phone == "+62 812"


def test_reopening_the_database_keeps_everything_and_migrates_nothing_twice(tmp_path):
    database = SqliteDatabase(tmp_path / "hub.sqlite3")
    made = add(SqliteIncidentRepository(database, tmp_path), 0)
    database.close()
    database = SqliteDatabase(tmp_path / "hub.sqlite3")
    assert SqliteIncidentRepository(database, tmp_path).get(made.id) == made
    database.close()


def ran_sql(repo, call) -> str:
    """The SELECT on incidents that ``call`` runs, exactly as the repository ran it."""
    seen: list[str] = []
    connection = repo.database.db.conn
    connection.set_trace_callback(seen.append)
    try:
        call()
    finally:
        connection.set_trace_callback(None)
    [sql] = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "FROM incidents " in s]
    return sql


def plan(repo, call) -> str:
    rows = repo.database.all(f"EXPLAIN QUERY PLAN {ran_sql(repo, call)}")
    return " | ".join(r["detail"] for r in rows)


def test_the_frequent_questions_are_answered_from_their_indexes(repo):
    """Checked on the repository's own queries, caught as they run: a query changed in the
    repository is checked as it now is, not a copy kept here."""
    # The queue names its index (INDEXED BY): without statistics the planner would rather
    # take every open incident from incidents_state and sort them all.
    queue = plan(repo, repo.queue)
    assert "incidents_queue" in queue and "TEMP B-TREE" not in queue
    since = T0 - timedelta(minutes=2)
    correlation = plan(repo, lambda: repo.open_for_correlation("plaza", Category.SECURITY, since))
    assert "USING INDEX incidents_correlation" in correlation
    history = plan(repo, lambda: repo.find(IncidentQuery(limit=50)))
    assert "incidents_opened" in history and "TEMP B-TREE" not in history
