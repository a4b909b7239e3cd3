"""The hub as one service: MQTT in, storage, incidents and notifications, HTTP out.

Data flows in a straight line::

    MqttLink (paho thread: queue only) -> IngestPipeline (writer thread: a batch) ->
        Ingestor -> Storage (ONE commit per batch, incidents included) ->
        PUBACKs · receipts to each node · EventBus
        EventBus -> SSE streams (officer page) · notifications queue · escalation
    uvicorn thread: FastAPI routers -> services -> Storage

The hub announces itself like any node: a retained ``online`` status under its own topic
and an ``offline`` last will, with role ``hub``.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path

from contract.connection import NodeConnection
from contract.mqtt import Delivery, LinkSettings, MqttLink
from contract.protocol import hub_subscriptions, status_topic
from contract.siteconfig import SiteConfig
from hub.accounts import AccountService
from hub.api.app import create_app
from hub.api.auth import Authenticator, LoginThrottle
from hub.api.context import ApiContext
from hub.api.server import TlsFiles, WebServer
from hub.clock import Clock, system_clock
from hub.dispatch.push import DispatchPush
from hub.dispatch.service import AcceptTimeoutWorker, DispatchService
from hub.domain.users import Role
from hub.escalation import EscalationWorker
from hub.events import EventBus
from hub.events_security.service import EventSecurity
from hub.incidents.service import IncidentService
from hub.ingest import Ingestor
from hub.ingest_pipeline import IngestPipeline, tune_gc_for_ingest
from hub.ingest_receiver import ReceiverLink
from hub.integrations.homeassistant import HomeAssistantDiscovery
from hub.live import LiveRelay
from hub.notify.base import NotifierSetup
from hub.notify.registry import build_notifiers
from hub.notify.service import NotificationService, NotificationWorker
from hub.retention import Lifetimes, RetentionWorker
from hub.safety.schedule import FOLDER as REPORTS_FOLDER
from hub.safety.schedule import MonthlyReportWorker, ReportShelf
from hub.sensors.service import SensorHub
from hub.storage.sqlite import open_sqlite_storage
from hub.storage.sqlite.orphans import orphan_sweeper
from hub.storage.sqlite.sensors import sensors_for
from hub.storage.sqlite.throttle import login_failures_for
from hub.verification import VideoVerifier
from hub.watchlist.bundle import Watchlist

log = logging.getLogger(__name__)


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
        clock: Clock = system_clock,
        heartbeat_s: float = 15.0,
        ingest_process: bool = False,
        tune_gc: bool = False,
    ) -> None:
        """For more than ~6,000 alerts/s on a small machine: ``ingest_process`` runs the
        MQTT connection in a child process (:mod:`hub.ingest_receiver`), so storing gets
        this process's core to itself, and ``tune_gc`` makes the garbage collector cheap
        (:func:`hub.ingest_pipeline.tune_gc_for_ingest`; process-wide, so off in tests)."""
        self._tune_gc = tune_gc
        self.config = config
        self.connection = hub_connection
        self.data_dir = Path(data_dir)
        self.storage = open_sqlite_storage(self.data_dir)
        self.bus = EventBus()
        self.accounts = AccountService(
            self.storage, clock, timedelta(minutes=config.hub.session_idle_minutes)
        )
        self.incidents = IncidentService(self.storage, self.bus, clock, config)
        self.dispatch = DispatchService(self.storage, self.bus, self.incidents, config, clock)
        root = hub_connection.topic_root
        # Heartbeats, arming and "two sensors agree": the gate files alerts for incidents.
        self.sensors = SensorHub(
            self.storage, sensors_for(self.storage), self.bus, self.incidents, config, clock
        )
        # Watchlists (hub/watchlist/): face candidates kept out of the alarm gate, plate
        # reads into the plate log, each gateway's list published retained.
        self.watchlist = Watchlist(
            self.storage, self.bus, config, hub_connection, clock, self.incidents,
            self.dispatch.dispatch,
        )  # fmt: skip
        self.ingestor = Ingestor(
            self.storage,
            self.bus,
            self.watchlist.correlator(self.sensors.gate),
            root,
            clock,
            heartbeats=self.sensors.health,
            sink=self.watchlist.sink,
        )
        self.notifications = NotificationService(
            self.storage,
            clock,
            build_notifiers(NotifierSetup(self.storage, self.data_dir, config.hub.web_push)),
        )
        # A new order wakes the unit's phones even with the patrol page closed.
        DispatchPush(self.storage, self.bus, self.notifications)
        self.api = ApiContext(
            storage=self.storage,
            bus=self.bus,
            config=config,
            clock=clock,
            heartbeat_s=heartbeat_s,
            secure_cookies=bool(config.hub.tls_cert),
            services={
                "accounts": self.accounts,
                "auth": Authenticator(self.accounts),
                # Counters in the hub's database: a restart gives no fresh guesses.
                "throttle": LoginThrottle(clock=clock, store=login_failures_for(self.storage)),
                "incidents": self.incidents,
                "dispatch": self.dispatch,
                "notifications": self.notifications,
                # GET /api/health: "ok", or "degraded" while storage refuses writes.
                "health": self.ingest_health,
                # GET /api/stats adds what ingest decided but has not written yet.
                "ingest": self.ingestor,
                "sensors": self.sensors,
                "watchlist": self.watchlist,
            },
        )
        # Live view of cameras: its own MQTT link, leases out and frames in (hub/live.py).
        self.live = LiveRelay(hub_connection, config.hub.live)
        self.api.services["live"] = self.live
        # The monthly safety report, written into <data_dir>/reports (hub/safety/schedule.py).
        self.api.services["safety_reports"] = ReportShelf(self.data_dir / REPORTS_FOLDER)
        # Event security: event rings filled by cameras' crowd counts (hub/events_security/).
        self.event_security = EventSecurity(self.storage, self.bus, config, clock)
        self.api.services["event_security"] = self.event_security
        # Camera-verified sensor alarms: its own MQTT link too (hub/verification.py).
        self.verifier = VideoVerifier(hub_connection, config, self.storage, self.bus, clock)
        self.escalation = EscalationWorker(
            self.storage, self.bus, config.hub.escalation, clock, self.notifications
        )
        self.app = create_app(self.api)
        self.web = WebServer(self.app, http_host, http_port, tls=self._tls(config))
        self.retention = RetentionWorker(
            self.storage,
            Lifetimes.from_settings(config.hub),
            purge_interval_s,
            clock,
            sweep=orphan_sweeper(self.storage),  # files whose row never committed
            also=[self.sensors.purge, self.event_security.purge],
        )
        # Started in this order, stopped in reverse: escalation queues, the worker sends.
        self.workers: list = [
            self.retention,
            NotificationWorker(self.notifications),
            self.escalation,
            AcceptTimeoutWorker(self.dispatch),
            *self.sensors.workers,  # sensor nodes offline; arming schedule audited
            self.event_security.worker,  # samples the events' rings every 15 s
            MonthlyReportWorker(
                self.storage.incidents, config, self.api.services["safety_reports"], clock
            ),
        ]

        # Home Assistant MQTT discovery, when the site turns it on (hub/integrations/).
        self.home_assistant: HomeAssistantDiscovery | None = None
        if config.integrations.home_assistant.enabled:
            self.home_assistant = HomeAssistantDiscovery(
                config, hub_connection, self.storage, self.bus
            )
            self.workers.append(self.home_assistant)

        self._own_status_topic = status_topic(root, hub_connection.site, hub_connection.node)
        self._ready = threading.Event()
        self._started = False
        self.link = self._open_link(hub_connection, ingest_process)
        self.pipeline = IngestPipeline(self.ingestor, self.link.ack, self._publish_receipt)

    def _open_link(self, connection: NodeConnection, own_process: bool) -> MqttLink | ReceiverLink:
        """The hub's MQTT connection, in this process or in a receiver process of its own."""
        options = dict(
            client_id=f"vw-hub-{connection.site}-{connection.node}",
            subscriptions=hub_subscriptions(connection.topic_root),
            # The broker queues alerts for us while we restart instead of dropping them.
            persistent_session=True,
            # PUBACK only after the batch is committed: persisted before acknowledged.
            ack_when_handled=True,
        )

        def changed(up: bool) -> None:
            if not up:
                self._ready.clear()

        if own_process:
            return ReceiverLink(connection, self._on_delivery, changed, **options)
        settings = LinkSettings.for_node(connection, **options)
        return MqttLink(settings, on_delivery=self._on_delivery, on_connection_change=changed)

    @staticmethod
    def _tls(config: SiteConfig) -> TlsFiles | None:
        """HTTPS when the site file names a certificate and key (Secure cookies, HSTS)."""
        if not config.hub.tls_cert or not config.hub.tls_key:
            return None
        return TlsFiles(config.resolve(config.hub.tls_cert), config.resolve(config.hub.tls_key))

    def _on_delivery(self, delivery: Delivery) -> None:
        """paho's network thread: queue for the writer, nothing else."""
        if delivery.topic == self._own_status_topic:
            # Our own retained status comes back only after our subscriptions are active.
            self._ready.set()
        self.pipeline.submit(delivery)

    def _publish_receipt(self, topic: str, payload: bytes) -> bool:
        return self.link.publish(topic, payload, qos=1) is not None

    def ingest_health(self) -> str:
        """``ok``, or ``degraded`` while storage refuses writes (ingest holds its acks and
        retries by itself). Public on ``GET /api/health``: it says nothing else."""
        return self.pipeline.health()

    @property
    def url(self) -> str:
        """``http://host:port/`` of the officer page (the real port once started)."""
        return self.web.url

    def start(self) -> None:
        self.web.start()
        if self._tune_gc:
            tune_gc_for_ingest()
        self.pipeline.start()
        self.link.start()
        self.live.start()
        self.verifier.start()
        self.watchlist.start()
        for worker in self.workers:
            worker.start()
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
        self.pipeline.stop()  # the batch in hand is committed and acknowledged first
        self.link.stop()
        self.live.stop()  # ends open live views, so the web server stops at once
        self.verifier.stop()
        self.watchlist.stop()
        self.bus.close()  # end open SSE streams so the web server stops at once
        self.web.stop()
        for worker in reversed(self.workers):
            worker.stop()
        self.storage.close()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once the hub has heard its own status back: connected *and* subscribed, so
        messages published from now on reach it."""
        return self._ready.wait(timeout)

    def ensure_admin(self, username: str = "admin") -> str | None:
        """Create the first admin with a generated password and return it (shown once).
        Returns None if that user already exists."""
        if self.storage.users.get(username):
            return None
        password = self.accounts.create_user(username, Role.ADMIN)
        self.api.audit(None, "user.create", username, "admin (first start)")
        return password

    def __enter__(self) -> HubService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
