"""Sending each gateway its watchlist: retained, QoS 1, on its own ``watchlist`` topic.

The hub holds its own MQTT connection for this (``<client id>-watchlist``, like the live
relay and verification), so ingest's persistent, hand-acknowledged session is untouched.
Each update is the *whole* list for one gateway and is published retained: a gateway that
starts (or reconnects) gets the current copy from the broker at once, and a newer one simply
replaces it. The broker's ACL lets only that gateway read its topic.

The publisher sends on every change the service reports, at start, and again each time its
connection comes back (a change made while the broker was away is not lost).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from contract.connection import NodeConnection
from contract.mqtt import LinkSettings, MqttLink
from contract.watchlist import watchlist_topic

log = logging.getLogger(__name__)

#: Gives every gateway's encoded update, by node (the service's ``updates()``).
Updates = Callable[[], dict[str, bytes]]


class WatchlistPublisher:
    """Publishes :data:`Updates` retained at QoS 1; :meth:`publish_all` after each change."""

    def __init__(self, connection: NodeConnection, updates: Updates) -> None:
        self.root, self.site = connection.topic_root, connection.site
        self.updates = updates
        self._lock = threading.Lock()
        #: node -> the last payload handed to the broker (tests; skips nothing).
        self.sent: dict[str, bytes] = {}
        self.link = MqttLink(
            LinkSettings.side_link(connection, "watchlist"),
            on_connection_change=self._changed,
        )

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        self.link.stop(announce_offline=False)

    def _changed(self, up: bool) -> None:
        if up:  # at start and after every reconnect: the broker holds the newest copy
            threading.Thread(target=self.publish_all, name="watchlist-publish", daemon=True).start()

    def publish_all(self) -> int:
        """Publish every gateway's update now; returns how many were handed to the link
        (0 while disconnected: the next connect publishes them)."""
        with self._lock:
            try:
                payloads = self.updates()
            except Exception:
                log.exception("could not build the watchlist updates")
                return 0
            sent = 0
            for node, payload in payloads.items():
                topic = watchlist_topic(self.root, self.site, node)
                if self.link.publish(topic, payload, qos=1, retain=True) is None:
                    log.info("watchlist for %s not sent yet: broker link down", node)
                    continue
                self.sent[node] = payload
                sent += 1
            return sent
