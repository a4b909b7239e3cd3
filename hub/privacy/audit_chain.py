"""Verify the hash-chained audit log (``villagewatch audit verify``).

:class:`~hub.storage.sqlite.users.SqliteAuditLog` writes each row with ``prev_hash`` (the hash
of the row before it, or of the retention anchor) and ``hash = sha256(prev_hash || row)``.
:func:`verify_chain` walks the rows in id order, on its own read-only connection and in one
read transaction (one consistent moment, while the hub keeps writing), and names the first
row where the chain breaks and how:

- **modified**: a row's columns no longer give its stored hash;
- **reordered**: a row chains from a row that comes *after* it;
- **deleted**: a row chains from a hash no kept row has (rows before it are gone, or the row
  before it was rewritten together with its hash).

What a chain cannot prove by itself: that no rows were cut from its *end*. The report
prints the head hash; note it (on paper, in a ticket) and a later head must descend from it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from hub.storage.sqlite.users import GENESIS_HASH, audit_row_hash

_COLUMNS = "id, ts, username, action, target, detail, prev_hash, hash"


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found."""

    intact: bool
    rows: int  # rows walked (up to the first problem)
    head: str  # hash of the last good row (the anchor if none)
    purged_rows: int = 0  # rows retention deleted before the kept chain
    bad_id: int | None = None
    problem: str | None = None  # "modified", "reordered", "deleted", "unchained"
    detail: str = ""

    def describe(self) -> str:
        """One line for a person: what ``audit verify`` prints."""
        if self.intact:
            purged = f" (after {self.purged_rows} purged by retention)" if self.purged_rows else ""
            return f"chain intact: {self.rows} rows{purged}, head {self.head}"
        return f"chain BROKEN at row {self.bad_id}: {self.problem} — {self.detail}"


def verify_chain(database: Path) -> ChainReport:
    """Walk the audit chain of the hub database file ``database``."""
    # As a URI (percent-encoded: a folder named "a?b" or "#1" stays a path), read-only.
    conn = sqlite3.connect(Path(database).resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
    try:
        conn.execute("BEGIN")  # one snapshot for the anchor and every row
        columns = {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
        if "hash" not in columns:
            return ChainReport(False, 0, GENESIS_HASH, problem="unchained", detail=_UNCHAINED)
        anchor = conn.execute("SELECT prev_hash, purged_rows FROM audit_anchor").fetchone()
        rows = conn.execute(f"SELECT {_COLUMNS} FROM audit ORDER BY id").fetchall()
        conn.execute("COMMIT")
    finally:
        conn.close()
    start, purged = anchor if anchor else (GENESIS_HASH, 0)
    return _walk(rows, start, purged)


_UNCHAINED = "this database has no chain columns yet: start the hub once to upgrade it"


def _walk(rows: list[tuple], start: str, purged: int) -> ChainReport:
    expected = start
    for n, row in enumerate(rows):
        row_id, *content, prev_hash, stored = row
        if stored is None or prev_hash is None:
            detail = "written without its hash (by something other than the hub)"
            return ChainReport(False, n, expected, purged, row_id, "unchained", detail)
        if audit_row_hash(prev_hash, *content) != stored:
            detail = "its columns no longer match its hash (changed after it was written)"
            return ChainReport(False, n, expected, purged, row_id, "modified", detail)
        if prev_hash != expected:
            problem, detail = _why_unlinked(rows, n, prev_hash)
            return ChainReport(False, n, expected, purged, row_id, problem, detail)
        expected = stored
    return ChainReport(True, len(rows), expected, purged)


def _why_unlinked(rows: list[tuple], n: int, prev_hash: str) -> tuple[str, str]:
    """Row ``n`` does not chain from the row before it: say whether its predecessor is
    elsewhere (reordered) or nowhere (deleted, or rewritten with a new hash)."""
    later = [r[0] for r in rows[n + 1 :] if r[-1] == prev_hash]
    if later:
        return "reordered", f"it chains from row {later[0]}, which comes after it"
    before = f"row {rows[n - 1][0]}" if n else "the retention anchor"
    return "deleted", (
        f"it does not chain from {before}: rows between were deleted, "
        f"or {before} was rewritten with a new hash"
    )
