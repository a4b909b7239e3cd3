"""How a node checks a command from the hub (a live-view lease, a verify request, a
watchlist): the hub writes every node's command topics, so a node trusts nothing it is sent
until it is small enough, valid, and addressed to it."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from contract.protocol import ProtocolError

M = TypeVar("M", bound=BaseModel)


def decode_for_node(model: type[M], payload: bytes, site: str, node: str, max_bytes: int) -> M:
    """A node's check of a command from the hub (a live-view lease, a verify request, a
    watchlist): at most ``max_bytes``, valid, and addressed to this node. Raises
    :class:`ProtocolError` ``too_large``, ``invalid`` or ``node_mismatch``."""
    what = model.model_fields["type"].default
    if len(payload) > max_bytes:
        raise ProtocolError("too_large", f"{what} of {len(payload)} bytes > {max_bytes}")
    try:
        message = model.model_validate_json(payload)
    except (ValidationError, ValueError, RecursionError) as exc:
        raise ProtocolError("invalid", str(exc).splitlines()[0][:200]) from None
    if (message.site, message.node) != (site, node):
        raise ProtocolError("node_mismatch", f"{what} for {message.site}/{message.node}")
    return message
