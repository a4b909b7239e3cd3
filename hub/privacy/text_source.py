"""Free text that names a plate: incident titles, notes and transition notes, and the
notifications sent about them, as a :class:`~hub.privacy.subjects.SubjectSource`.

An incident opened by a watchlist alert takes the alert's message as its title ("listed
vehicle 粤C·12345: stolen (case C-1)"), officers write plates into notes, and the messages
sent to officers repeat the title. These are a case's record, so an erasure does not delete
them: it **redacts** the plate — each word that matches becomes ``[erased]`` — and the rest of
the record stands. Words count only when shaped like a plate
(:func:`contract.plates.looks_like_plate`), then match with the gateways' fuzzy score.
"""

from __future__ import annotations

import re

from contract.plates import looks_like_plate, plate_score
from hub.privacy.subjects import Subject, SubjectRecord
from hub.storage.sqlite.database import SqliteDatabase

#: (table, text column, what it is): every free-text column that may name a plate.
TEXT_COLUMNS = (
    ("incidents", "title", "incident title"),
    ("incident_notes", "text", "incident note"),
    ("incident_transitions", "note", "incident transition note"),
    ("deliveries", "title", "notification title"),
    ("deliveries", "body", "notification text"),
)
REDACTED = "[erased]"
_WORD = re.compile(r"[^\s,;:()\[\]{}\"']+")


class TextSubjectSource:
    """Plates named in incidents' and notifications' free text; erasure redacts them."""

    name = "text"

    def __init__(self, database: SqliteDatabase, min_score: float = 0.75) -> None:
        self.database = database
        self.min_score = min_score

    def find(self, subject: Subject) -> list[SubjectRecord]:
        return [record for record, _, _ in self._matches(subject)]

    def erase(self, subject: Subject) -> list[SubjectRecord]:
        """Redact the plate in every text that names it, in one transaction."""
        found = self._matches(subject)
        with self.database.write() as db:
            for record, (table, column), text in found:
                db.conn.execute(
                    f"UPDATE {table} SET {column} = ? WHERE rowid = ?",
                    [self._redact(text, subject.plate), int(record.id.rpartition(":")[2])],
                )
        return [record for record, _, _ in found]

    def _matches(self, subject: Subject) -> list[tuple[SubjectRecord, tuple[str, str], str]]:
        if not subject.plate:
            return []
        found = []
        for table, column, what in self._columns():
            rows = self.database.all(
                f"SELECT rowid AS row_id, {column} AS text FROM {table} WHERE {column} IS NOT NULL"
                f" AND {column} <> ''"
            )
            for row in rows:
                if self._names(row["text"], subject.plate):
                    record = SubjectRecord(self.name, table, f"{table}:{row['row_id']}",
                                           f"{what} names the plate")  # fmt: skip
                    found.append((record, (table, column), row["text"]))
        return found

    def _columns(self) -> list[tuple[str, str, str]]:
        """The :data:`TEXT_COLUMNS` this database has (a part not installed has none)."""
        tables = self.database.all("SELECT name FROM sqlite_master WHERE type = 'table'")
        present = {r["name"] for r in tables}
        return [c for c in TEXT_COLUMNS if c[0] in present]

    def _matching(self, word: str, plate: str) -> bool:
        return looks_like_plate(word) and plate_score(word, plate) >= self.min_score

    def _names(self, text: str, plate: str) -> bool:
        return any(self._matching(w, plate) for w in _WORD.findall(text))

    def _redact(self, text: str, plate: str) -> str:
        return _WORD.sub(lambda m: REDACTED if self._matching(m[0], plate) else m[0], text)
