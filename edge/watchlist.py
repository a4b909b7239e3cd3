"""The gateway's copy of its watchlist: the hub's last retained :class:`WatchlistUpdate`, held
in memory only (a restart gets the retained copy again; nothing of it is written to disk).

The plate stage asks for :meth:`WatchlistHolder.plates`; the face stage asks
:meth:`WatchlistHolder.faces_for` for the face entries it may match *on this camera now*. That
answer checks each entry's authorisation (scope, time window, expiry) and its own expiry on
this gateway's clock, so an authorisation that ends while the hub is unreachable still ends
here on time; an empty answer means the face stage does not run on that frame at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from contract.protocol import ProtocolError
from contract.watchlist import (
    Authorisation,
    FaceEntry,
    PlateEntry,
    WatchlistUpdate,
    decode_update,
    watchlist_topic,
)

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class WatchlistHolder:
    """Thread-safe holder of the newest update. Give :meth:`on_update` to the publisher's
    ``commands`` under :attr:`topic`."""

    def __init__(
        self, site: str, node: str, topic_root: str, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self.site = site
        self.node = node
        self.topic = watchlist_topic(topic_root, site, node)
        self.clock = clock
        self._lock = threading.Lock()
        self._update: WatchlistUpdate | None = None
        #: Updates refused (bad, too large, another node's), for stats and tests.
        self.refused = 0

    def on_update(self, payload: bytes) -> None:
        """Called on the MQTT thread: check and swap in the new list (a bad one keeps the old)."""
        try:
            update = decode_update(payload, self.site, self.node)
        except ProtocolError as exc:
            self.refused += 1
            log.warning("ignored a bad watchlist update: %s", exc)
            return
        with self._lock:
            if self._update is None or update.issued_at >= self._update.issued_at:
                self._update = update

    def set(self, update: WatchlistUpdate | None) -> None:
        """Replace the list directly (replay and tests)."""
        with self._lock:
            self._update = update

    @property
    def issued_at(self) -> datetime | None:
        with self._lock:
            return self._update.issued_at if self._update else None

    def plates(self) -> list[PlateEntry]:
        """The plate entries not yet expired."""
        with self._lock:
            update = self._update
        if update is None:
            return []
        now = self.clock()
        return [p for p in update.plates if p.expires_at > now]

    def faces_for(self, camera: str, area: str) -> list[tuple[FaceEntry, Authorisation]]:
        """The face entries that may be matched on ``camera`` (in ``area``) right now, each
        with the authorisation that allows it; empty outside every authorisation."""
        with self._lock:
            update = self._update
        if update is None or not update.faces:
            return []
        now = self.clock()
        allowed = {a.id: a for a in update.authorisations if a.allows(now, self.node, camera, area)}
        return [
            (face, allowed[face.authorisation])
            for face in update.faces
            if face.authorisation in allowed and face.expires_at > now
        ]
