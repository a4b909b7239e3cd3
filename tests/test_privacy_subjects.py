"""Subject requests on a real SQLite file and snapshot folder: access finds every alert and
snapshot carrying a plate (however it was written or misread); erasure deletes them and
leaves nothing behind — the plate's bytes are in neither the database file nor its WAL after
a checkpoint, the snapshot files are gone — and leaves a tombstone in the audit chain that
names no plate. Other people's alerts stay."""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_helpers import make_alert, snapshot_jpeg
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.protocol import DetectedObject
from hub.privacy.audit_chain import verify_chain
from hub.privacy.requests import SubjectRequests
from hub.privacy.sources import subject_sources
from hub.privacy.subjects import Subject
from hub.storage.sqlite import DATABASE_FILE

PLATE = "粤C·12345"
OTHER = "京A88888"


def car(plate: str) -> DetectedObject:
    return DetectedObject(label="car", score=0.9, box=(10, 20, 200, 160), track_id=7, plate=plate)


def store(storage, clock, plate: str, message: str = "vehicle in zone gate") -> str:
    """An alert whose car read ``plate``, with its snapshot, and linked to an incident
    (an UPDATE: SQLite leaves the row's old copy in the page's free space)."""
    alert = make_alert(kind="vehicle", message=message, objects=[car(plate)])
    storage.alerts.insert(alert, clock())
    storage.alerts.save_snapshot(alert.site, alert.node, alert.id, snapshot_jpeg(), clock())
    storage.alerts.set_incident(alert.id, "0" * 32)
    return alert.id


@pytest.fixture
def requests(storage, clock) -> SubjectRequests:
    sources = subject_sources(storage, storage.data_dir)
    return SubjectRequests(sources, storage.audit, storage.alerts.database, storage.data_dir, clock)


def plate_bytes(plate: str) -> list[bytes]:
    """The ways the plate's digits could sit in the file: UTF-8, and JSON's \\u escapes."""
    core = plate.replace("·", "")
    escaped = core.encode("ascii", "backslashreplace").replace(b"\\x", b"\\u00")
    return [core.encode(), core[1:].encode(), escaped, b"C12345"]


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_access_finds_the_plate_however_written_or_misread(storage, clock, requests):
    exact = store(storage, clock, "粤C12345")
    misread = store(storage, clock, "粤C1Z345")  # OCR took 2 for Z
    named = store(storage, clock, "粤C12345", message=f"watchlist plate {PLATE}")
    other = store(storage, clock, OTHER)

    result = requests.access(Subject(plate="粤c 12345"), "admin")
    alerts = {r.id for r in result.records if r.kind == "alert"}
    assert alerts == {exact, misread, named} and other not in alerts
    assert result.counts() == {"alert": 3, "snapshot": 3}
    snapshot = next(r for r in result.records if r.kind == "snapshot")
    assert snapshot.files and (storage.data_dir / snapshot.files[0]).is_file()

    looked = storage.audit.entries(action="subject.access")[0]
    assert looked.username == "admin" and looked.target.startswith("subject:")
    assert looked.detail == "alert: 3, snapshot: 3"
    assert "12345" not in looked.target + looked.detail


def test_erasure_leaves_nothing_behind_but_a_tombstone(storage, clock, requests):
    mine = [store(storage, clock, PLATE), store(storage, clock, "粤C1Z345")]
    kept = store(storage, clock, OTHER)
    my_files = [storage.alerts.snapshot_file(a) for a in mine]
    assert all(p and p.is_file() for p in my_files)

    result = requests.erase(Subject(plate=PLATE), "admin")
    assert result.counts() == {"alert": 2, "snapshot": 2} and result.compacted

    # Rows and files gone; the other car's alert and snapshot stay.
    assert [storage.alerts.get(a) for a in mine] == [None, None]
    assert not any(p.exists() for p in my_files)
    assert storage.alerts.get(kept) is not None and storage.alerts.snapshot_file(kept).is_file()
    assert len(files_under(storage.data_dir / "snapshots")) == 1

    # Not a byte of the plate in the database file or its WAL.
    database = storage.data_dir / DATABASE_FILE
    for path in (database, database.with_name(DATABASE_FILE + "-wal")):
        data = path.read_bytes() if path.exists() else b""
        for needle in plate_bytes(PLATE):
            assert needle not in data, f"{needle!r} still in {path.name}"
    assert "京A88888".encode() in database.read_bytes()  # the scan would see a plate

    # The tombstone: kinds and counts under a salted key, never the plate; the chain holds.
    tombstone = storage.audit.entries(action="subject.erase")[0]
    assert tombstone.detail == "alert: 2, snapshot: 2"
    assert tombstone.target == requests.subject_key(Subject(plate="粤C12345"))
    assert verify_chain(database).intact

    # Asked again: nothing left to find.
    assert requests.access(Subject(plate=PLATE), "admin").records == []


def test_the_subject_key_is_salted_per_site(storage, tmp_path, clock, requests):
    from hub.storage.sqlite import open_sqlite_storage

    elsewhere = open_sqlite_storage(tmp_path / "other-hub")
    try:
        other = SubjectRequests([], elsewhere.audit, elsewhere.alerts.database,
                                elsewhere.data_dir, clock)  # fmt: skip
        subject = Subject(plate=PLATE)
        assert requests.subject_key(subject) != other.subject_key(subject)
        assert requests.subject_key(subject) == requests.subject_key(Subject(plate="粤C12345"))
    finally:
        elsewhere.close()


def test_erasure_reaches_every_source_the_watchlist_too(storage, clock, requests):
    """``subject_sources`` is the one list: a watchlist entry for the plate goes with the
    alerts, and the file holds the plate nowhere afterwards."""
    from datetime import timedelta

    from contract.watchlist import PlateEntry
    from hub.storage.sqlite.watchlist import watchlist_for
    from hub.watchlist.domain import plate_key

    entry = PlateEntry(id="a" * 32, plate=PLATE, reason="stolen", owner="officer",
                       case_ref="C-1", expires_at=clock() + timedelta(days=30))  # fmt: skip
    watchlist_for(storage).add_plate(entry, plate_key(PLATE), "officer", clock())
    store(storage, clock, PLATE)

    found = requests.access(Subject(plate="粤C12345"), "admin")
    assert found.counts() == {"alert": 1, "plate_entry": 1, "snapshot": 1}
    erased = requests.erase(Subject(plate="粤C12345"), "admin")
    assert erased.counts() == found.counts()
    assert watchlist_for(storage).plates() == []
    data = (storage.data_dir / DATABASE_FILE).read_bytes()
    assert not any(needle in data for needle in plate_bytes(PLATE))


PLATE_CHARS = "0123456789ABCDGILOQSZ粤京"


@settings(max_examples=2000, deadline=None)
@given(st.text(PLATE_CHARS, min_size=4, max_size=9), st.text(PLATE_CHARS, min_size=4, max_size=9),
       st.sampled_from([0.5, 0.75, 0.9]))  # fmt: skip
def test_the_scan_s_cheap_bound_never_skips_a_match(read, asked, min_score):
    """The alerts source skips the edit distance when a bound says the plates cannot match;
    the bound must never be wrong."""
    from contract.plates import plate_score
    from hub.privacy.alert_source import AlertSubjectSource

    source = AlertSubjectSource(None, Path("."), min_score)
    if plate_score(read, asked) >= min_score:
        assert source._could_match(read, asked)
