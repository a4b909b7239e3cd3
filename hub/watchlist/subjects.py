"""Subject requests over the watchlist: plate entries, face entries, match crops, plate log.

A :class:`~hub.privacy.subjects.SubjectSource`. A plate is found with the gateway's own fuzzy
match (:func:`contract.plates.plate_score` at ``watchlists.plates.fuzzy_min_score``, as the
alerts source does), so a request for "粤C·12345" finds an entry or a log row "粤C1Z345".
A face is found by embedding similarity at the site's match threshold: enrolled entries by
their stored embedding, and match crops both through the entry they matched and, when the
face model is on this hub, by embedding the crop itself. Erasing deletes the rows and their
sealed files in one transaction, then republishes the gateways' lists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from contract.plates import plate_score
from contract.siteconfig import SiteConfig
from contract.watchlist_settings import WatchlistSettings
from hub.privacy.subjects import Subject, SubjectRecord
from hub.storage.repositories import Storage
from hub.storage.sqlite.watchlist import SqliteWatchlistRepository, watchlist_for
from hub.watchlist.domain import FaceDescriber, load_face_describer, similarity
from hub.watchlist.vault import PhotoVault, VaultError

log = logging.getLogger(__name__)


class WatchlistSubjects:
    """The watchlist's :class:`~hub.privacy.subjects.SubjectSource`."""

    name = "watchlist"

    def __init__(
        self,
        repo: SqliteWatchlistRepository,
        vault: PhotoVault,
        threshold: float,
        plate_min_score: float = 0.75,
        changed: Callable[[], object] = lambda: None,
        describer: Callable[[], FaceDescriber] | None = None,
    ) -> None:
        """``threshold``: the site's face match threshold; ``changed``: republish the
        gateways' lists after an erasure."""
        self.repo, self.vault, self.threshold = repo, vault, threshold
        self.plate_min_score = plate_min_score
        self._changed = changed
        self._describer_factory = describer
        self._describer: FaceDescriber | None = None

    def find(self, subject: Subject) -> list[SubjectRecord]:
        found: list[SubjectRecord] = []
        if subject.plate is not None:
            for row in self.repo.plates():
                if self._same_plate(subject.plate, row.entry.plate):
                    e = row.entry
                    summary = f"plate entry {e.plate}: {e.reason} ({e.case_ref})"
                    found.append(SubjectRecord(self.name, "plate_entry", e.id, summary,
                                               row.created_at))  # fmt: skip
            for hit in self.repo.plate_hits(limit=1_000_000):
                if hit.plate and self._same_plate(subject.plate, hit.plate):
                    summary = f"plate {hit.plate} matched entry {hit.entry_id}"
                    found.append(SubjectRecord(self.name, "plate_hit", hit.alert_id, summary,
                                               hit.at))  # fmt: skip
            for log_row in self.repo.plate_log(limit=1_000_000):
                if self._same_plate(subject.plate, log_row.plate):
                    summary = f"plate {log_row.plate} read by {log_row.node}/{log_row.camera}"
                    found.append(SubjectRecord("plate_log", "plate_read", log_row.alert_id,
                                               summary, log_row.at))  # fmt: skip
        if subject.face is not None:
            found += self._faces(subject.face)
        return found

    def _same_plate(self, asked: str, stored: str) -> bool:
        return plate_score(asked, stored) >= self.plate_min_score

    def _faces(self, face: np.ndarray) -> list[SubjectRecord]:
        found, entries = [], set()
        for row in self.repo.faces():
            if similarity(row.entry.vector(), face) >= self.threshold:
                entries.add(row.entry.id)
                summary = f"face entry under authorisation {row.entry.authorisation}"
                found.append(SubjectRecord(self.name, "face_entry", row.entry.id, summary,
                                           row.created_at, (row.photo,)))  # fmt: skip
        for c in self.repo.candidates(limit=1_000_000):
            if c.entry_id in entries or self._crop_matches(c.crop, face):
                summary = f"match crop from {c.node}/{c.camera} ({c.state}, score {c.score:.2f})"
                files = (c.crop,) if c.crop else ()
                found.append(SubjectRecord(self.name, "match_crop", c.alert_id, summary,
                                           c.received_at, files))  # fmt: skip
        return found

    def _crop_matches(self, crop: str | None, face: np.ndarray) -> bool:
        """Embed a crop with the face model, when this hub has it (else only crops of a
        matching entry are found: said in the summary of the request by the caller)."""
        if crop is None or self._describer_factory is None:
            return False
        try:
            if self._describer is None:
                self._describer = self._describer_factory()
            describer = self._describer
            image = cv2.imdecode(np.frombuffer(self.vault.open(crop), np.uint8), 1)
            embedding = describer.embed_photo(image) if image is not None else None
        except (ImportError, VaultError, OSError) as exc:
            log.warning("cannot compare a match crop: %s", exc)
            return False
        return embedding is not None and similarity(embedding, face) >= self.threshold

    def erase(self, subject: Subject) -> list[SubjectRecord]:
        records = self.find(subject)
        files: list[str] = []
        with self.repo.transaction():
            for r in records:
                if r.kind in ("plate_entry", "face_entry"):
                    files.append(self.repo.delete_entry(r.id) or "")
                elif r.kind == "match_crop":
                    files.append(self.repo.delete_candidate(r.id) or "")
                elif r.kind == "plate_read":
                    self.repo.delete_plate_log([r.id])
                elif r.kind == "plate_hit":  # the alert itself is the alerts source's
                    self.repo.delete_plate_hits([r.id])
        for name in files:
            self.vault.delete(name or None)
        if any(r.kind in ("plate_entry", "face_entry") for r in records):
            self._changed()  # the gateways forget them too
        return records


def watchlist_subject_source(
    storage: Storage, data_dir: Path, config: SiteConfig | None = None
) -> WatchlistSubjects:
    """A source over ``storage``'s watchlist tables without a running hub (for
    :func:`hub.privacy.subjects.subject_sources`; a running hub's is
    ``HubService.watchlist.subjects``, which also republishes the gateways' lists — without
    it they are republished at the hub's next start)."""
    settings = config.watchlists if config else WatchlistSettings()
    return WatchlistSubjects(
        watchlist_for(storage),
        PhotoVault(data_dir),
        settings.faces.match_threshold,
        settings.plates.fuzzy_min_score,
        describer=load_face_describer,
    )
