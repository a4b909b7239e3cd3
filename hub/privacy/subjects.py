"""Subject requests: find everything stored about a person (by plate or face photo), or erase it.

Each part of the hub that stores personal data registers one :class:`SubjectSource` in
:func:`subject_sources`; an access request asks every source to :meth:`~SubjectSource.find`,
an erasure asks every source to :meth:`~SubjectSource.erase`. Adding a kind of personal data is
one new source and one line there, so a request can never miss it silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Subject:
    """Who a request is about: a plate as written, and/or a face embedding (from a photo the
    requester gave, computed with :mod:`contract.face_descriptor`; the photo is not kept)."""

    plate: str | None = None
    face: np.ndarray | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.plate is None and self.face is None:
            raise ValueError("a subject request names a plate or gives a face photo")


@dataclass(frozen=True)
class SubjectRecord:
    """One stored thing about the subject: enough for the requester to see what it is."""

    source: str  # the SubjectSource's name: "alerts", "watchlist", "plate_log" ...
    kind: str  # what it is: "alert", "snapshot", "plate_entry", "face_entry", "match_crop" ...
    id: str
    summary: str  # one line for a human
    ts: datetime | None = None
    files: tuple[str, ...] = ()  # files on disk that hold it (relative to the data folder)


class SubjectSource(Protocol):
    """A part of the hub that stores personal data."""

    name: str

    def find(self, subject: Subject) -> list[SubjectRecord]:
        """Everything this part stores about ``subject``."""

    def erase(self, subject: Subject) -> list[SubjectRecord]:
        """Delete everything this part stores about ``subject`` (rows and their files) in one
        transaction; returns what was deleted (for the audit tombstone)."""
