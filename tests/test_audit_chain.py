"""The audit log is a hash chain: ``villagewatch audit verify`` exits 0 on an intact chain and
1 naming the first row that was modified (any column), deleted or reordered with plain
sqlite3 behind the hub's back; retention purges keep what remains verifiable; a database
from before the chain is chained by its migration."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlite_utils import Database

from hub.storage.sqlite import DATABASE_FILE, open_sqlite_storage
from hub.storage.sqlite.users import migrations
from villagewatch.cli import main


def fill(storage, clock, n: int = 6) -> None:
    for i in range(n):
        storage.audit.record(clock(), f"officer{i}", "alert.view", f"alert-{i}", f"look {i}")
        clock.advance(seconds=1)


def verify(data_dir: Path, capsys) -> tuple[int, str]:
    code = main(["audit", "verify", "--data-dir", str(data_dir)])
    out = capsys.readouterr()
    return code, out.out + out.err


def tamper(data_dir: Path, *statements: str) -> None:
    conn = sqlite3.connect(data_dir / DATABASE_FILE)
    with conn:
        for sql in statements:
            conn.execute(sql)
    conn.close()


def test_an_untouched_chain_verifies_with_its_row_count_and_head(storage, clock, capsys):
    fill(storage, clock)
    code, text = verify(storage.data_dir, capsys)
    assert code == 0, text
    assert "chain intact: 6 rows, head " in text


@pytest.mark.parametrize(
    "column, value",
    [("ts", "'2020-01-01T00:00:00.000+00:00'"), ("username", "'someone'"),
     ("action", "'alert.list'"), ("target", "NULL"), ("detail", "'nothing to see'")],
)  # fmt: skip
def test_a_row_modified_in_any_column_is_named(storage, clock, capsys, column, value):
    fill(storage, clock)
    tamper(storage.data_dir, f"UPDATE audit SET {column} = {value} WHERE id = 3")
    code, text = verify(storage.data_dir, capsys)
    assert code == 1
    assert "row 3: modified" in text


def test_a_deleted_middle_row_is_named_by_the_row_after_it(storage, clock, capsys):
    fill(storage, clock)
    tamper(storage.data_dir, "DELETE FROM audit WHERE id = 4")
    code, text = verify(storage.data_dir, capsys)
    assert code == 1
    assert "row 5: deleted" in text and "row 3" in text


def test_two_rows_swapped_show_as_reordered(storage, clock, capsys):
    fill(storage, clock)
    tamper(
        storage.data_dir,
        "UPDATE audit SET id = 100 WHERE id = 2",
        "UPDATE audit SET id = 2 WHERE id = 3",
        "UPDATE audit SET id = 3 WHERE id = 100",
    )
    code, text = verify(storage.data_dir, capsys)
    assert code == 1
    assert "row 2: reordered" in text and "row 3" in text


def test_a_row_rewritten_with_a_fresh_hash_breaks_the_link_after_it(storage, clock, capsys):
    """The forger recomputes the row's own hash: the next row still chains from the old one."""
    from hub.storage.sqlite.users import audit_row_hash

    fill(storage, clock)
    conn = sqlite3.connect(storage.data_dir / DATABASE_FILE)
    ts, user, action, target, prev = conn.execute(
        "SELECT ts, username, action, target, prev_hash FROM audit WHERE id = 2"
    ).fetchone()
    forged = audit_row_hash(prev, ts, user, action, target, "forged")
    with conn:
        conn.execute("UPDATE audit SET detail = 'forged', hash = ? WHERE id = 2", [forged])
    conn.close()
    code, text = verify(storage.data_dir, capsys)
    assert code == 1 and "row 3: deleted" in text and "row 2 was rewritten" in text


def test_retention_purges_keep_the_rest_verifiable(storage, clock, capsys):
    fill(storage, clock, 5)
    cutoff = clock()
    clock.advance(days=1)
    fill(storage, clock, 3)
    assert storage.audit.purge(cutoff) == {"audit": 5}
    code, text = verify(storage.data_dir, capsys)
    assert code == 0, text
    assert "chain intact: 3 rows (after 5 purged by retention)" in text

    # Everything purged, then new rows: they chain from the anchor, ids never reused.
    clock.advance(days=1)
    assert storage.audit.purge(clock()) == {"audit": 3}
    fill(storage, clock, 2)
    assert [e.id for e in storage.audit.entries()] == [10, 9]
    code, text = verify(storage.data_dir, capsys)
    assert code == 0 and "chain intact: 2 rows (after 8 purged by retention)" in text

    # The first kept row's link to the anchor is checked too.
    tamper(storage.data_dir, "DELETE FROM audit WHERE id = 9")
    code, text = verify(storage.data_dir, capsys)
    assert code == 1 and "row 10: deleted" in text and "retention anchor" in text


def test_concurrent_writers_never_chain_to_the_same_row(storage, clock, capsys):
    """Four threads of one hub and a second connection (another process's view, as
    ``villagewatch backup`` writes) append at once: one chain, every row in it."""
    second = open_sqlite_storage(storage.data_dir)  # its own connection to the same files

    def write(log, who: str) -> None:
        for i in range(40):
            log.record(clock(), who, "alert.view", str(i))

    threads = [threading.Thread(target=write, args=(storage.audit, f"t{i}")) for i in range(4)]
    threads.append(threading.Thread(target=write, args=(second.audit, "other")))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    second.close()
    code, text = verify(storage.data_dir, capsys)
    assert code == 0 and "chain intact: 200 rows" in text, text


def test_a_database_from_before_the_chain_is_chained_by_its_migration(tmp_path, capsys):
    data_dir = tmp_path / "hub"
    data_dir.mkdir()
    db = Database(data_dir / DATABASE_FILE)
    migrations.apply(db, stop_before="m002_audit_chain")
    for i in range(3):
        db.execute(
            "INSERT INTO audit (ts, username, action) VALUES (?, ?, ?)",
            [f"2024-05-0{i + 1}T00:00:00.000+00:00", "admin", "login"],
        )
    db.conn.commit()
    db.close()
    storage = open_sqlite_storage(data_dir)
    try:
        storage.audit.record(datetime(2024, 5, 4, tzinfo=UTC), "admin", "logout")
    finally:
        storage.close()
    code, text = verify(data_dir, capsys)
    assert code == 0 and "chain intact: 4 rows" in text, text


def test_verify_needs_a_hub_folder(tmp_path, capsys):
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 2
    assert main(["audit", "verify"]) == 2
    assert "--data-dir" in capsys.readouterr().err


def test_verify_finds_the_data_folder_from_the_site_file(tmp_path, clock, capsys):
    """``--config``: the hub's folder as the site file names it (relative to the file), in a
    folder whose name would break a naive SQLite URI."""
    folder = tmp_path / "site #1?"
    folder.mkdir()
    config = folder / "site.yaml"
    config.write_text(
        "site: {id: riverside, name: Riverside}\nareas: [{id: a, name: A}]\n"
        "hub: {data_dir: var/hub}\n"
    )
    storage = open_sqlite_storage(folder / "var" / "hub")
    try:
        fill(storage, clock, 2)
    finally:
        storage.close()
    assert main(["audit", "verify", "--config", str(config)]) == 0
    assert "chain intact: 2 rows" in capsys.readouterr().out

    config.write_text("site: {id: riverside}\n")  # a bad site file: file, field, fix; exit 2
    assert main(["audit", "verify", "--config", str(config)]) == 2
