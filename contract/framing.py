"""Binary messages with a JSON header: ``[4-byte big-endian header length][header JSON][body]``.

Live frames and verification evidence carry a JPEG or a clip after a small typed header; this
is their one framing, so both check lengths and headers the same way.
"""

from __future__ import annotations

import struct
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from contract.protocol import ProtocolError

_HEADER_LEN = struct.Struct("!I")
H = TypeVar("H", bound=BaseModel)


def pack_framed(header: BaseModel, body: bytes = b"") -> bytes:
    head = header.model_dump_json(exclude_none=True).encode()
    return _HEADER_LEN.pack(len(head)) + head + body


def unpack_framed(
    payload: bytes, model: type[H], max_bytes: int, max_header_bytes: int, what: str
) -> tuple[H, bytes]:
    """Split ``payload`` into its checked header and its body (:class:`ProtocolError`
    ``too_large`` or ``invalid``); what the body must be is the caller's check."""
    if len(payload) > max_bytes:
        raise ProtocolError("too_large", f"{what} of {len(payload)} bytes")
    if len(payload) < _HEADER_LEN.size:
        raise ProtocolError("invalid", f"{what} shorter than its header length")
    (size,) = _HEADER_LEN.unpack_from(payload)
    if size > max_header_bytes or _HEADER_LEN.size + size > len(payload):
        raise ProtocolError("invalid", f"{what} header of {size} bytes")
    start = _HEADER_LEN.size
    try:
        header = model.model_validate_json(payload[start : start + size])
    except (ValidationError, ValueError) as exc:
        raise ProtocolError("invalid", str(exc).splitlines()[0][:200]) from None
    return header, payload[start + size :]
