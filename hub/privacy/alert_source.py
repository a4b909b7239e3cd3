"""Alerts and their snapshots as a :class:`~hub.privacy.subjects.SubjectSource`.

A plate lives in an alert in two places: the plate a vehicle's track read
(``objects[].plate``, :class:`contract.protocol.DetectedObject`) and the alert's message
(a watchlist alert names the plate it matched). Both are compared with
:func:`contract.plates.plate_score` — the gateway's own fuzzy match, so "粤C·12345" finds
an alert that read "粤C12345" or "粤C1Z345" — at ``watchlists.plates.fuzzy_min_score``.

Faces: alerts keep no face embeddings, and their snapshots are face-blurred before they
leave the gateway, so a face photo finds nothing here (watchlist match crops are the
watchlist source's).

Erasing deletes the alert rows, any snapshot still waiting for its alert under the same id,
and the snapshot files (after the commit: a file outliving a failed commit is swept as an
orphan; a row outliving its file would be worse).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from contract.plates import CONFUSIONS, END_GAP_COST, looks_like_plate, normalise, plate_score
from hub.privacy.subjects import Subject, SubjectRecord
from hub.storage.sqlite.database import SqliteDatabase, from_iso, marks

#: Alerts scanned per read; the lock is let go between pages so ingest is not held up.
PAGE = 2000
_WORD = re.compile(r"[^\s,;:()\[\]{}\"']+")
_PLATE_FIELD = re.compile(r'"plate":\s*"')
_CLASS = {ch: group[0] for group in CONFUSIONS for ch in group}


def _classes(plate: str) -> Counter:
    """The plate's characters by confusion class (0, O, D and Q all count as one)."""
    return Counter(_CLASS.get(ch, ch) for ch in plate)


class AlertSubjectSource:
    """Alerts (rows) and snapshots (JPEG files) that carry a plate."""

    name = "alerts"

    def __init__(self, database: SqliteDatabase, data_dir: Path, min_score: float = 0.75):
        self.database = database
        self.data_dir = Path(data_dir)
        self.min_score = min_score

    def find(self, subject: Subject) -> list[SubjectRecord]:
        """One ``alert`` record per matching alert, one ``snapshot`` per snapshot file."""
        records: list[SubjectRecord] = []
        for row, read in self._matches(subject):
            summary = f"{row['kind']} at {row['node']}/{row['camera'] or '-'}: plate {read}"
            ts = from_iso(row["ts"])
            records.append(SubjectRecord(self.name, "alert", row["id"], summary, ts))
            if row["snapshot_path"]:
                files = (row["snapshot_path"],)
                records.append(
                    SubjectRecord(self.name, "snapshot", row["id"], "alert snapshot", ts, files)
                )
        return records

    def erase(self, subject: Subject) -> list[SubjectRecord]:
        """Delete the matching alerts and their snapshots; returns what went."""
        records = self.find(subject)
        ids = sorted({r.id for r in records if r.kind == "alert"})
        files = [f for r in records for f in r.files]
        with self.database.write() as db:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                pending = db.conn.execute(
                    f"SELECT path FROM pending_snapshots WHERE alert_id IN ({marks(chunk)})", chunk
                ).fetchall()
                files += [p[0] for p in pending]
                db.conn.execute(f"DELETE FROM alerts WHERE id IN ({marks(chunk)})", chunk)
                db.conn.execute(
                    f"DELETE FROM pending_snapshots WHERE alert_id IN ({marks(chunk)})", chunk
                )
        for rel in files:
            self._unlink(rel)
        return records

    def _matches(self, subject: Subject):
        """``(row, plate as read)`` for each alert with a plate matching the subject's.
        Each distinct text is scored once (a plate seen in a hundred alerts is one match)."""
        if not subject.plate:
            return
        scores: dict[str, bool] = {}
        after = 0
        while True:
            rows = self.database.all(
                "SELECT rowid, id, ts, kind, node, camera, message, objects, snapshot_path"
                " FROM alerts WHERE rowid > ? ORDER BY rowid LIMIT ?",
                [after, PAGE],
            )
            if not rows:
                return
            after = rows[-1]["rowid"]
            for row in rows:
                read = self._plate_in(row, subject.plate, scores)
                if read is not None:
                    yield row, read

    def _plate_in(self, row: dict, plate: str, scores: dict[str, bool]) -> str | None:
        """The plate text in the alert that matches ``plate``, or None. Words of the message
        count only when shaped like a plate (the hub writes plates whole into messages)."""
        objects = row["objects"]
        has_plate = _PLATE_FIELD.search(objects)  # most alerts are people: no JSON to parse
        candidates = [o.get("plate") for o in json.loads(objects)] if has_plate else []
        candidates += [w for w in _WORD.findall(row["message"] or "") if looks_like_plate(w)]
        for text in candidates:
            if not text:
                continue
            if text not in scores:
                scores[text] = self._could_match(text, plate) and (
                    plate_score(text, plate) >= self.min_score
                )
            if scores[text]:
                return text
        return None

    def _could_match(self, text: str, plate: str) -> bool:
        """A cheap bound before :func:`plate_score`'s edit distance: a character with no
        counterpart of its confusion class in the other plate costs at least an end gap, so
        when those alone cost more than the score allows, the plates cannot match. (A scan
        over every stored plate is mostly other cars: this skips nearly all of them.)"""
        a, b = _classes(normalise(text)), _classes(normalise(plate))
        unmatched = max(sum((a - b).values()), sum((b - a).values()))
        longest = max(sum(a.values()), sum(b.values()), 1)
        return END_GAP_COST * unmatched <= (1 - self.min_score) * longest

    def _unlink(self, rel: str) -> None:
        path = (self.data_dir / rel).resolve()
        if path.is_relative_to(self.data_dir.resolve()):  # rows name files under the folder
            path.unlink(missing_ok=True)
