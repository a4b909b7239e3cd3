"""Reading MQTT packets with a size limit, for the embedded broker.

amqtt 0.12 has no maximum packet size: it reads a whole PUBLISH into memory, however large
its announced length. :class:`PacketSizeGuard` wraps the connection's reader, follows the
MQTT framing (a type byte, a variable-length "remaining length", the body) and hangs up as
soon as a packet announces more than the limit, before its body is read — mosquitto's
``max_packet_size``. It also remembers which listener the connection came in on.
"""

from __future__ import annotations

import logging
from typing import Any

from amqtt.adapters import ReaderAdapter

log = logging.getLogger("broker.embedded")


class PacketSizeGuard(ReaderAdapter):
    """Follows MQTT framing on the incoming byte stream and hangs up on an oversized packet
    as soon as its length is known, before its body is read into memory."""

    def __init__(
        self, inner: ReaderAdapter, limit: int, abort: Any, peer: object, listener: str
    ) -> None:
        self.listener = listener  # which listener the connection came in on
        self._inner = inner
        self._limit = limit
        self._abort = abort
        self._peer = peer
        self._body_left = 0  # bytes of the current packet's body still to come
        self._in_length = False  # reading the "remaining length" varint
        self._length = 0
        self._multiplier = 1

    async def read(self, n: int = -1) -> bytes:
        data = await self._inner.read(n)
        self._scan(data)
        return data

    def feed_eof(self) -> None:
        self._inner.feed_eof()

    def _scan(self, data: bytes) -> None:
        i = 0
        while i < len(data):
            if self._body_left:
                step = min(self._body_left, len(data) - i)
                self._body_left -= step
                i += step
            elif not self._in_length:  # the packet type byte
                self._in_length, self._length, self._multiplier = True, 0, 1
                i += 1
            else:
                byte = data[i]
                i += 1
                self._length += (byte & 0x7F) * self._multiplier
                self._multiplier *= 128
                if byte & 0x80:
                    continue
                self._in_length = False
                self._body_left = self._length
                if self._length > self._limit:
                    log.warning(
                        "client %s sent a %d-byte packet (limit %d): disconnecting",
                        self._peer,
                        self._length,
                        self._limit,
                    )
                    self._abort()
                    # amqtt reads this as "connection lost": the will fires, nothing is routed.
                    raise ConnectionResetError("packet too large")
