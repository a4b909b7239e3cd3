"""Watchlists on the wire: what the hub tells a gateway to look for, and under whose authority.

Plates and faces are matched **on the gateway**, so a plate or a face that is on no list never
leaves it (beyond the alert it belongs to, for plates). The hub keeps the lists and sends each
gateway its current copy as one retained :class:`WatchlistUpdate` on its ``watchlist`` topic
(QoS 1, written only by the hub, read only by that node)::

    {root}/{site}/{node}/watchlist     retained, from the hub: the whole list, replaced each time

The gateway holds it in memory only (a restart gets the retained copy again). A hit becomes an
ordinary :class:`~contract.protocol.Alert` of kind ``watchlist_plate`` or ``watchlist_face``
with its :class:`WatchlistHit`, through the outbox like every alert. A face hit carries the
crop (its snapshot, not face-blurred), the score and the entry id, and nothing else: no
objects, no embedding.

Faces are biometric data (PIPL Art. 28; EU AI Act Art. 5(1)(h)): a face entry is sent only
with the :class:`Authorisation` it was enrolled under, and the gateway checks that authorisation
itself, on its own clock, before its face stage runs on a camera (:meth:`Authorisation.allows`):
outside the scope or the time window, or once expired, the stage does not run at all.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.node_commands import decode_for_node
from contract.protocol import (
    HEX_ID_PATTERN,
    MAX_SNAPSHOT_BYTES,
    PROTOCOL_VERSION,
    Channel,
    Identifier,
    SaneTime,
)
from contract.protocol import WatchlistHit as WatchlistHit  # defined beside its Alert

PLATE_KIND = "watchlist_plate"
FACE_KIND = "watchlist_face"
WATCHLIST_KINDS = (PLATE_KIND, FACE_KIND)

#: Length of a face embedding (the descriptor model's output, see contract/face_descriptor.py).
EMBEDDING_DIM = 1024
#: Entries one update may carry: a village's plate list is tens, a city's thousands.
MAX_PLATE_ENTRIES = 4_000
MAX_FACE_ENTRIES = 200
MAX_AUTHORISATIONS = 100
#: Largest update on the wire: what the broker passes (its max_packet_size); the hub refuses
#: an enrolment that would make a gateway's list larger (200 faces x ~5.5 KB + 4,000 plates
#: x ~250 B fit).
MAX_WATCHLIST_BYTES = MAX_SNAPSHOT_BYTES
#: A plate as people write it: letters (Latin or CJK), digits, separators; 2..16 characters.
PLATE_PATTERN = r"^[\w·\- ]{2,16}$"

HexId = Annotated[str, Field(pattern=HEX_ID_PATTERN)]
#: A camera in an authorisation's scope: ``node/camera``.
CameraRef = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}/[a-z0-9][a-z0-9_-]{0,62}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Authorisation(_Model):
    """A lawful authorisation for face recognition: who approved it, on what basis, where and
    when. Nothing runs outside it."""

    id: HexId
    legal_basis: str = Field(min_length=3, max_length=200, description="the law or order relied on")
    case_number: str = Field(min_length=1, max_length=64)
    approved_by: str = Field(min_length=1, max_length=32, description="the approving officer")
    cameras: list[CameraRef] = Field(default_factory=list, max_length=500)
    areas: list[Identifier] = Field(default_factory=list, max_length=100)
    starts_at: SaneTime = Field(description="the time window in which recognition may run")
    ends_at: SaneTime
    expires_at: SaneTime = Field(description="after this the authorisation and its entries end")
    retention_days: int = Field(30, ge=1, le=3650, description="verified match crops kept")

    @model_validator(mode="after")
    def _sane_window(self) -> Authorisation:
        if not self.cameras and not self.areas:
            raise ValueError("an authorisation names at least one camera or area")
        if not self.starts_at < self.ends_at:
            raise ValueError("starts_at must be before ends_at")
        return self

    def in_force(self, now: datetime) -> bool:
        """Inside the time window and not expired."""
        return self.starts_at <= now < min(self.ends_at, self.expires_at)

    def covers(self, node: str, camera: str, area: str) -> bool:
        """The camera is in scope: named itself, or its area is."""
        return f"{node}/{camera}" in self.cameras or area in self.areas

    def allows(self, now: datetime, node: str, camera: str, area: str) -> bool:
        return self.in_force(now) and self.covers(node, camera, area)


class PlateEntry(_Model):
    """A vehicle on the watchlist."""

    id: HexId
    plate: str = Field(pattern=PLATE_PATTERN, description="as written, e.g. 粤C·12345")
    reason: str = Field(min_length=1, max_length=200)
    owner: str = Field(min_length=1, max_length=32, description="the officer responsible")
    case_ref: str = Field(min_length=1, max_length=64)
    expires_at: SaneTime


class FaceEntry(_Model):
    """An enrolled person: only the embedding, never the photo, and the authorisation it is
    matched under."""

    id: HexId
    authorisation: HexId
    embedding: str = Field(max_length=8192, description="base64 of float32[EMBEDDING_DIM]")
    expires_at: SaneTime

    def vector(self) -> np.ndarray:
        return decode_embedding(self.embedding)


class WatchlistUpdate(_Model):
    """From the hub to one gateway: the whole current list (it replaces the previous one)."""

    v: Literal[2] = Field(PROTOCOL_VERSION, description="protocol version")
    type: Literal["watchlist"] = "watchlist"
    site: Identifier
    node: Identifier
    issued_at: SaneTime
    plates: list[PlateEntry] = Field(default_factory=list, max_length=MAX_PLATE_ENTRIES)
    faces: list[FaceEntry] = Field(default_factory=list, max_length=MAX_FACE_ENTRIES)
    authorisations: list[Authorisation] = Field(default_factory=list, max_length=MAX_AUTHORISATIONS)

    @model_validator(mode="after")
    def _faces_are_authorised(self) -> WatchlistUpdate:
        known = {a.id for a in self.authorisations}
        for face in self.faces:
            if face.authorisation not in known:
                raise ValueError(f"face entry {face.id} names no authorisation sent with it")
        return self


def encode_embedding(vector: np.ndarray) -> str:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    if vector.shape != (EMBEDDING_DIM,):
        raise ValueError(f"an embedding has {EMBEDDING_DIM} values, not {vector.size}")
    return base64.b64encode(vector.tobytes()).decode()


def decode_embedding(text: str) -> np.ndarray:
    raw = base64.b64decode(text, validate=True)
    if len(raw) != EMBEDDING_DIM * 4:
        raise ValueError(f"an embedding is {EMBEDDING_DIM * 4} bytes, not {len(raw)}")
    return np.frombuffer(raw, dtype=np.float32)


def watchlist_topic(root: str, site: str, node: str) -> str:
    return f"{root}/{site}/{node}/{Channel.WATCHLIST}"


def encode_update(update: WatchlistUpdate) -> bytes:
    return update.model_dump_json().encode()


def decode_update(payload: bytes, site: str, node: str) -> WatchlistUpdate:
    """A gateway's check of an update (:class:`ProtocolError` ``too_large``, ``invalid``,
    ``node_mismatch``)."""
    return decode_for_node(WatchlistUpdate, payload, site, node, MAX_WATCHLIST_BYTES)
