"""Subject access and erasure requests over every :class:`SubjectSource`.

An **access** request asks each source what it stores about the subject and returns the list
(the requester gets it as JSON). An **erasure** deletes it all, then leaves a *tombstone* in
the audit chain: which kinds went and how many, under a salted hash of the subject — never
the plate in clear, and never the face — so a later request for the same plate can be shown
to have been handled, while the audit log names nobody.

Deleting a row does not wipe its bytes: SQLite leaves them in free pages (and older copies
of a rewritten row in its pages' free space), and the write-ahead log holds earlier page
images until a checkpoint. So an erasure ends by rebuilding the database (``VACUUM``, which
copies only live rows) and truncating the WAL: afterwards the file holds nothing erased.
VACUUM rewrites the whole file while holding the write lock: seconds on a village's
database, and erasure requests are rare.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from contract.plates import normalise
from hub.clock import Clock, system_clock
from hub.privacy.subjects import Subject, SubjectRecord, SubjectSource
from hub.storage.repositories import AuditLog
from hub.storage.sqlite.database import SqliteDatabase

log = logging.getLogger(__name__)

#: The per-site key subject hashes are salted with (in the hub's data folder, 0600).
SALT_FILE = "privacy.salt"


@dataclass(frozen=True)
class RequestResult:
    """What a request found (access) or deleted (erasure)."""

    subject_key: str  # the salted hash the audit log names the subject by
    records: list[SubjectRecord]
    compacted: bool = False  # erasure: the database was rebuilt and its WAL emptied

    def counts(self) -> dict[str, int]:
        """How many of each kind: ``{"alert": 3, "snapshot": 2}``."""
        return dict(sorted(Counter(r.kind for r in self.records).items()))


class SubjectRequests:
    """Access and erasure over ``sources``, audited under a salted subject key."""

    def __init__(
        self,
        sources: Sequence[SubjectSource],
        audit: AuditLog,
        database: SqliteDatabase,
        data_dir: Path,
        clock: Clock = system_clock,
    ) -> None:
        self.sources = list(sources)
        self.audit = audit
        self.database = database
        self.salt = site_salt(data_dir)
        self.clock = clock

    def subject_key(self, subject: Subject) -> str:
        """The salted key the audit log names ``subject`` by (see :func:`subject_key`)."""
        return subject_key(self.salt, subject)

    def access(self, subject: Subject, who: str) -> RequestResult:
        """Everything stored about ``subject``; the look itself is audited."""
        records = [r for source in self.sources for r in source.find(subject)]
        result = RequestResult(self.subject_key(subject), records)
        self.audit.record(
            self.clock(), who, "subject.access", result.subject_key, _describe(result)
        )
        return result

    def erase(self, subject: Subject, who: str) -> RequestResult:
        """Delete everything stored about ``subject`` from every source, leave the
        tombstone, then rebuild the database so no erased byte stays in the file."""
        records: list[SubjectRecord] = []
        for source in self.sources:
            records += source.erase(subject)
        key = self.subject_key(subject)
        tombstone = _describe(RequestResult(key, records))
        self.audit.record(self.clock(), who, "subject.erase", key, tombstone)
        return RequestResult(key, records, compacted=self.compact())

    def record_export(self, result: RequestResult, who: str) -> None:
        """An access result handed out as a file: who took it is audited."""
        self.audit.record(self.clock(), who, "subject.export", result.subject_key,
                          _describe(result))  # fmt: skip

    def compact(self) -> bool:
        """VACUUM, then checkpoint and truncate the WAL. False if a reader elsewhere kept
        the WAL from being emptied (the next checkpoint will; the rows are gone either way)."""
        # Under the connection's lock no other thread is inside a transaction (they all
        # run under it), which VACUUM needs.
        with self.database.read() as db:
            db.execute("VACUUM")
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("erasure: the WAL could not be emptied now (a reader holds it)")
        return not busy


def _describe(result: RequestResult) -> str:
    counts = result.counts()
    return ", ".join(f"{kind}: {n}" for kind, n in counts.items()) or "nothing found"


def subject_key(salt: bytes, subject: Subject) -> str:
    """A salted hash naming a subject in the audit log: the same plate gives the same key
    however it is written; the salt stays on this hub, so the key cannot be looked up
    elsewhere. Any part that must name a plate or a face in the audit log uses this, never
    the plate itself: an erasure cannot take a row out of the audit chain."""
    if subject.plate:
        material = b"plate:" + normalise(subject.plate).encode()
    else:
        material = b"face:" + subject.face.astype("<f4").tobytes()
    return "subject:" + hmac.new(salt, material, hashlib.sha256).hexdigest()[:24]


def site_salt(data_dir: Path) -> bytes:
    """The site's salt (``privacy.salt`` in the data folder), made on first use: 32 random
    bytes, owner-only."""
    path = Path(data_dir) / SALT_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        salt = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it just now
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(salt)
            f.flush()
            os.fsync(f.fileno())
        return salt
