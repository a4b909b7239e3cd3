"""The hub as one service: MQTT in, SQLite and snapshots, HTTP API and officer page out.

Data flows in a straight line::

    MqttLink (paho thread) -> Ingestor.handle -> HubStore (commit) -> LiveFeed -> SSE
                                                       ^
    uvicorn thread: FastAPI app ---- reads ------------+

The hub announces itself like any node: a retained ``online`` status under its own topic
and an ``offline`` last will, with role ``hub``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from contract.connection import NodeConnection
from contract.mqtt import LinkSettings, MqttLink
from contract.protocol import hub_subscriptions, status_topic
from contract.siteconfig import SiteConfig
from hub.accounts import Role
from hub.api.api import create_app
from hub.api.server import WebServer
from hub.ingest import Ingestor
from hub.live import LiveFeed
from hub.store import HubStore

log = logging.getLogger(__name__)


class RetentionWorker:
    """Purges old data once at start and then every ``interval_s`` seconds."""

    def __init__(self, store: HubStore, retention_days: int, interval_s: float = 3600.0) -> None:
        self.store = store
        self.retention_days = retention_days
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.store.purge(self.retention_days)
            except Exception:  # a locked or full disk must not end retention for good
                log.exception("retention purge failed; retrying in %.0f s", self.interval_s)
            self._stop.wait(self.interval_s)


class HubService:
    """Compose and run the hub. ``start()`` returns once the HTTP server listens; the MQTT
    link connects (and reconnects) in the background."""

    def __init__(
        self,
        config: SiteConfig,
        hub_connection: NodeConnection,
        data_dir: Path,
        http_host: str = "127.0.0.1",
        http_port: int = 0,
        purge_interval_s: float = 3600.0,
    ) -> None:
        self.config = config
        self.connection = hub_connection
        self.data_dir = Path(data_dir)
        self.store = HubStore(self.data_dir)
        self.live = LiveFeed()
        root = hub_connection.topic_root
        self.ingestor = Ingestor(self.store, root, listeners=[self.live.publish])
        self.app = create_app(self.store, self.live, config)
        self.web = WebServer(self.app, http_host, http_port)
        self.retention = RetentionWorker(self.store, config.hub.retention_days, purge_interval_s)

        self._own_status_topic = status_topic(root, hub_connection.site, hub_connection.node)
        self._ready = threading.Event()
        self._started = False
        self.link = MqttLink(
            LinkSettings.for_node(
                hub_connection,
                client_id=f"vw-hub-{hub_connection.site}-{hub_connection.node}",
                subscriptions=hub_subscriptions(root),
                # The broker queues alerts for us while we restart instead of dropping them.
                persistent_session=True,
                # PUBACK only after the alert is committed: persisted before acknowledged.
                ack_when_handled=True,
            ),
            on_message=self._on_message,
            on_connection_change=lambda up: None if up else self._ready.clear(),
        )

    def _on_message(self, topic: str, payload: bytes) -> bool:
        """Returns False (withhold the PUBACK) when the message could not be persisted."""
        result = self.ingestor.handle(topic, payload)
        if topic == self._own_status_topic:
            # Our own retained status comes back only after our subscriptions are active.
            self._ready.set()
        return result.reason != "internal_error"

    @property
    def url(self) -> str:
        """``http://host:port/`` of the officer page (the real port once started)."""
        return self.web.url

    def start(self) -> None:
        self.web.start()
        self.link.start()
        self.retention.start()
        self._started = True
        log.info(
            "hub for site %s: MQTT %s:%s as %s, officer page %s",
            self.config.site.id,
            self.connection.host,
            self.connection.port,
            self.connection.username,
            self.url,
        )

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.link.stop()
        self.live.close()  # end open SSE streams so the web server stops at once
        self.web.stop()
        self.retention.stop()
        self.store.close()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once the hub has heard its own status back: connected *and* subscribed, so
        messages published from now on reach it."""
        return self._ready.wait(timeout)

    def ensure_admin(self, username: str = "admin") -> str | None:
        """Create the first admin with a generated password and return it (shown once).
        Returns None if that user already exists."""
        if self.store.accounts.get_user(username):
            return None
        password = self.store.accounts.create_user(username, Role.ADMIN)
        self.store.accounts.audit(None, "user.create", username, "admin (first start)")
        return password

    def __enter__(self) -> HubService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
