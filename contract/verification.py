"""Camera-verified alarms on the wire: the hub asks a gateway what its cameras saw.

When a sensor trips (a door opens in the plaza), a person looking at the camera of that area
decides in a second whether to send a patrol: the alarm industry calls it *video
verification*. Gateways only connect out to the broker, so the hub publishes a
:class:`VerifyRequest` to the gateway's own ``verify`` topic (only the hub may write it, only
that gateway may read it). The gateway answers on ``evidence/{request_id}`` (only the hub
may read it) with two messages, because the clip needs time the snapshot does not:

1. ``part = "snapshot"`` at once: the best privacy-filtered frame of its *pre-event buffer*
   (the last few seconds it keeps per camera), and whether a person was seen in the seconds
   before the request. This is the one the hub's "within 2 s" promise is about;
2. ``part = "clip"`` ``post_s`` seconds later: a short privacy-filtered MJPEG clip (AVI) from
   ``pre_s`` before the request to ``post_s`` after it, with the person verdict over that
   whole window.

::

    {root}/{site}/{node}/verify                   QoS 1, from the hub, read only by that node
    {root}/{site}/{node}/evidence/{request_id}    QoS 1, from the node, read only by the hub

An evidence message is ``[4-byte big-endian header length][EvidenceHeader JSON][body]``, the
body a JPEG (snapshot), an AVI (clip), or empty when the camera had nothing to show
(``content_type`` absent, ``reason`` says why). Windows are measured on the gateway's own
clock from the moment the request arrives, so the two clocks need not agree.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.framing import pack_framed, unpack_framed
from contract.node_commands import decode_for_node
from contract.protocol import (
    DEFAULT_TOPIC_ROOT,
    HEX_ID_PATTERN,
    MAX_SNAPSHOT_BYTES,
    PROTOCOL_VERSION,
    Channel,
    Identifier,
    ProtocolError,
)

#: Largest evidence message (header included): the broker's packet limit is sized for one
#: snapshot, so a clip must fit the same budget (the gateway lowers its frame rate to fit).
MAX_EVIDENCE_BYTES = MAX_SNAPSHOT_BYTES
#: Longest window either side of the request; the gateway's buffer holds their sum.
MAX_PRE_S, MAX_POST_S = 6.0, 4.0
_MAX_HEADER_BYTES = 2048
_MAGIC = {"image/jpeg": (0, b"\xff\xd8\xff"), "video/x-msvideo": (8, b"AVI ")}

EvidencePart = Literal["snapshot", "clip"]
EvidenceType = Literal["image/jpeg", "video/x-msvideo"]


class VerificationSettings(BaseModel):
    """The hub's ``hub.verification`` section: which windows to ask for, how long to wait."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="ask cameras to verify sensor alarms")
    pre_s: float = Field(4.0, ge=0, le=MAX_PRE_S, description="clip seconds before the alarm")
    post_s: float = Field(2.0, ge=0, le=MAX_POST_S, description="clip seconds after the alarm")
    answer_s: float = Field(
        10.0, gt=0, le=300, description="no snapshot this long after asking: unverified"
    )
    clip_fps: float = Field(4.0, gt=0, le=15, description="frames/s of the clip")
    clip_width: int = Field(480, ge=160, le=1280, description="clip frames are this wide at most")


class VerifyRequest(BaseModel):
    """From the hub to one gateway: show me ``camera`` around now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[2] = Field(PROTOCOL_VERSION, description="protocol version")
    type: Literal["verify_request"] = "verify_request"
    site: Identifier
    node: Identifier
    camera: Identifier
    request_id: str = Field(pattern=HEX_ID_PATTERN, description="echoed in the evidence topic")
    pre_s: float = Field(ge=0, le=MAX_PRE_S, description="seconds before the request")
    post_s: float = Field(ge=0, le=MAX_POST_S, description="seconds after the request")
    clip_fps: float = Field(gt=0, le=15)
    clip_width: int = Field(ge=160, le=1280)


class EvidenceHeader(BaseModel):
    """What precedes the body of an evidence message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["evidence"] = "evidence"
    request_id: str = Field(pattern=HEX_ID_PATTERN)
    camera: Identifier
    part: EvidencePart
    person_seen: bool = Field(description="a confirmed person track in the window")
    person_score: float = Field(0.0, ge=0, le=1, description="the best such track's score")
    frames: int = Field(ge=0, description="buffered frames the verdict looked at")
    content_type: EvidenceType | None = Field(None, description="absent: no image")
    reason: str = Field("", max_length=200, description="why there is no image")


def verify_topic(root: str, site: str, node: str) -> str:
    return f"{root}/{site}/{node}/{Channel.VERIFY}"


def evidence_topic(root: str, site: str, node: str, request_id: str) -> str:
    return f"{root}/{site}/{node}/{Channel.EVIDENCE}/{request_id}"


def evidence_subscription(root: str = DEFAULT_TOPIC_ROOT) -> str:
    """The hub's filter for every gateway's evidence."""
    return f"{root}/+/+/{Channel.EVIDENCE}/+"


def encode_request(request: VerifyRequest) -> bytes:
    return request.model_dump_json().encode()


def decode_request(payload: bytes, site: str, node: str) -> VerifyRequest:
    """A gateway's check of a request (:class:`ProtocolError` ``invalid`` or ``node_mismatch``)."""
    return decode_for_node(VerifyRequest, payload, site, node, _MAX_HEADER_BYTES)


def encode_evidence(header: EvidenceHeader, body: bytes = b"") -> bytes:
    return pack_framed(header, body)


def decode_evidence(payload: bytes) -> tuple[EvidenceHeader, bytes]:
    """Split and check an evidence message: a sane header and a body of the type it claims,
    told by its bytes (:class:`ProtocolError`)."""
    header, body = unpack_framed(
        payload, EvidenceHeader, MAX_EVIDENCE_BYTES, _MAX_HEADER_BYTES, "evidence"
    )
    if header.content_type is None:
        if body:
            raise ProtocolError("invalid", "evidence without a content type carries a body")
        return header, body
    offset, magic = _MAGIC[header.content_type]
    if body[offset : offset + len(magic)] != magic:
        raise ProtocolError("wrong_type", f"evidence body is not {header.content_type}")
    return header, body
