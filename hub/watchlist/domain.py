"""What the watchlist refuses, and how plates are compared.

Every guardrail is a :class:`Refused` with an HTTP status and a reason a person can read;
the API answers it as a 4xx, so the lawful way is the only one the software offers.
"""

from __future__ import annotations

import uuid
from typing import Protocol

import numpy as np

from contract.face_descriptor import FaceDescriber as Model
from contract.face_descriptor import similarity
from contract.plates import PLATE_READ_KIND, normalise

#: PLATE_READ_KIND (contract/plates.py): the alert a gateway sends for every plate read when
#: the site logs plates (``watchlists.plates.logging``); kept in the plate log, never filed
#: as an incident.
__all__ = [
    "PLATE_READ_KIND",
    "FaceDescriber",
    "Refused",
    "load_face_describer",
    "new_id",
    "plate_key",
    "similarity",
]


class Refused(Exception):
    """A watchlist action the rules do not allow: ``status`` (400, 403, 404, 409, 413, 422)
    and ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def new_id() -> str:
    return uuid.uuid4().hex


def plate_key(plate: str) -> str:
    """A plate as compared exactly: :func:`contract.plates.normalise` (``粤C·12345`` and
    ``粵c 12345`` are both ``粤C12345``), the gateway's own normalisation."""
    return normalise(plate)


class FaceDescriber(Protocol):
    """:class:`contract.face_descriptor.FaceDescriber` as the hub uses it."""

    def embed_photo(self, image: np.ndarray) -> np.ndarray | None:
        """A float32[1024] embedding of the face in a BGR photo, or None if none is found."""


def load_face_describer() -> FaceDescriber:
    """The offline face model (contract/face_descriptor.py), loaded on first use."""
    model = Model()
    model.load()
    return model
