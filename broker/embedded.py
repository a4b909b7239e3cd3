"""The embedded MQTT broker: amqtt 0.12 in a thread, with mosquitto's rules.

This is the zero-install broker for the demo and tests where Eclipse Mosquitto is absent
(``broker.kind: auto``). It binds loopback addresses only and has no TLS listener, so it
never faces a network; production sites run mosquitto. It speaks to the same
:class:`~broker.credentials.CredentialStore` and keeps the same promises as
:class:`~broker.mosquitto.MosquittoBroker`, which the broker tests check on both:

* no anonymous clients; usernames/passwords verified against the store's PBKDF2 hashes;
* two listeners, as on mosquitto: on the node listener every client's id is replaced by
  its username (mosquitto's ``use_username_as_clientid``), so no one can take over another
  identity's session; the hub listener admits hub identities only, which choose their ids;
* only a node's small status is retained (:func:`broker.retained.retained_allowed`); any
  other retained publish is delivered to live subscribers but not stored;
* per-node topic ACL (see :mod:`broker.embedded_plugins`). A denied PUBLISH is *dropped*:
  the client still gets its PUBACK and stays connected, exactly like mosquitto 2.0 with
  MQTT 3.1.1. A last will on another node's topic is accepted and silently dropped;
* retained messages and last wills; retained messages survive a restart (SQLite file);
* persistent sessions (``clean_session=False``) queue QoS 1 messages while their client is
  away — in memory only, so unlike mosquitto they do not survive a broker restart;
* a packet larger than ``MAX_SNAPSHOT_BYTES + 64 KiB`` closes the connection (mosquitto's
  ``max_packet_size``); the client's will fires, the message reaches no one.

amqtt 0.12.1 needed six fixes, made here by subclassing rather than patching:

1. it never enforced the keepalive, so a node that lost power (no TCP FIN) stayed "online"
   forever: we drop a client silent for 1.5 times its keepalive, firing its will;
2. a second CONNECT with a client id already connected (``clean_session``) left the first
   connection open and orphaned: we take over like mosquitto — the old connection's will is
   published, then it is closed, before the new CONNACK;
3. it dropped the old session of a client id *before* checking the password, so anyone who
   could reach the port could cut the hub off by connecting as ``hub`` with no password:
   we authenticate first and touch no session on failure;
4. it had no maximum packet size: see above (:mod:`broker.embedded_guard`);
5. a connecting client was sent the retained messages matching *other* clients'
   subscriptions (so any node could read every node's status): retained messages now go
   out only in answer to the client's own SUBSCRIBE, after the ACL check;
6. a client subscribing while a message was being broadcast broke the broadcast ("dictionary
   changed size during iteration"; nodes subscribe to their receipts at every connect): the
   broadcast now walks a snapshot of the subscriptions.

Credentials are read from the store at each CONNECT, so a newly provisioned node can
connect at once; :meth:`EmbeddedBroker.reload` additionally closes connections whose
identity was removed or whose password was rotated (mosquitto keeps those connected).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
from pathlib import Path
from typing import Any

from amqtt.adapters import ReaderAdapter, StreamReaderAdapter, StreamWriterAdapter, WriterAdapter
from amqtt.broker import Broker
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.session import Session
from amqtt.utils import gen_client_id

from broker.credentials import CredentialStore, Identity
from broker.embedded_guard import PacketSizeGuard
from broker.embedded_plugins import IDENTITY_KEY
from broker.mosquitto import free_port
from broker.retained import retained_allowed
from contract.hosts import is_loopback
from contract.protocol import MAX_SNAPSHOT_BYTES, NodeRole

log = logging.getLogger(__name__)

#: Same limit as the generated mosquitto.conf's max_packet_size.
MAX_PACKET_BYTES = MAX_SNAPSHOT_BYTES + 64 * 1024

_AUTHENTICATED = "villagewatch.authenticated"
_LOOP_DONE = "villagewatch.loop_done"
_CONNECTING = "villagewatch.connecting"
_TAKEOVER_WAIT_S = 5.0
#: amqtt listener names: nodes (ids bound to usernames) and the hub's own.
NODE_LISTENER, HUB_LISTENER = "default", "hub"


class _KeepaliveHandler(BrokerProtocolHandler):
    """amqtt's broker handler ignores read timeouts; drop the silent client instead."""

    _closing: asyncio.Task | None = None

    def handle_read_timeout(self) -> None:
        if self._closing is None:
            who = self.session.client_id if self.session else "?"
            log.info("client %s silent for 1.5x its keepalive: disconnecting", who)
            self._closing = asyncio.ensure_future(self.handle_connection_closed())


class _SubscriptionTable(dict):
    """amqtt walks its subscriptions with an ``await`` inside the loop (``_run_broadcast``),
    so a client subscribing meanwhile changed the dict mid-walk: "dictionary changed size
    during iteration", and that broadcast was lost. Each walk now goes over a snapshot."""

    def items(self):  # type: ignore[override]
        return list(super().items())


class _HardenedBroker(Broker):
    """amqtt's Broker with the fixes listed in the module docstring."""

    def __init__(self, config: dict[str, Any], loop: Any, topic_root: str) -> None:
        super().__init__(config, loop=loop)
        self.topic_root = topic_root
        self._subscriptions = _SubscriptionTable(self._subscriptions)

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        guard = PacketSizeGuard(
            StreamReaderAdapter(reader),
            MAX_PACKET_BYTES,
            writer.transport.abort,
            writer.get_extra_info("peername"),
            listener_name,
        )
        await self._client_connected(listener_name, guard, StreamWriterAdapter(writer))

    async def _initialize_client_session(
        self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        try:
            handler, session = await _KeepaliveHandler.init_from_connect(
                reader, writer, self.plugins_manager
            )
        except MQTTError as exc:  # init_from_connect has sent the refusing CONNACK if one applies
            await writer.close()
            raise MQTTError(exc) from exc
        except (AMQTTError, NoDataError, OSError) as exc:
            raise AMQTTError(f"{remote_address}:{remote_port}: no valid CONNECT: {exc}") from exc

        # Fix 3: authenticate before looking at (let alone dropping) any existing session.
        ok = await super()._authenticate(session, None)  # type: ignore[arg-type]
        ok = ok and self._bind_client_id(session, getattr(reader, "listener", NODE_LISTENER))
        session.attributes[_AUTHENTICATED] = ok
        if not ok:
            return handler, session

        existing = self._sessions.get(session.client_id) if session.client_id else None
        if existing and existing[0].transitions.is_connected():
            await self._take_over(*existing)

        if session.clean_session or not session.client_id:
            if session.client_id:
                await self._delete_session(session.client_id)
            else:
                session.client_id = gen_client_id()
            session.parent = 0
        elif session.client_id in self._sessions:
            # Resume the stored session with this connection's will, keepalive and identity.
            stored = self._sessions[session.client_id][0]
            for name in (
                "will_flag",
                "will_message",
                "will_topic",
                "will_qos",
                "will_retain",
                "keep_alive",
                "username",
                "password",
            ):
                setattr(stored, name, getattr(session, name))
            stored.attributes.update(session.attributes)
            session = stored
            session.parent = 1
        else:
            session.parent = 0

        # Fix 1: MQTT 3.1.1 §3.1.2.10 allows one and a half keepalive periods of silence.
        if session.keep_alive > 0:
            session.keep_alive = math.ceil(session.keep_alive * 1.5)
        return handler, session

    def _bind_client_id(self, session: Session, listener: str) -> bool:
        """Mosquitto's listener rules: on the node listener the client id becomes the
        username; the hub listener refuses every identity but the hub's."""
        ident: Identity | None = session.attributes.get(IDENTITY_KEY)
        if ident is None:
            return False
        if listener == HUB_LISTENER:
            if ident.role is not NodeRole.HUB:
                log.warning("refused %s on the hub listener: hub identities only", ident.username)
                return False
            return True
        session.client_id = ident.username
        return True

    async def retain_message(
        self,
        source_session: Session | None,
        topic_name: str | None,
        data: bytes | bytearray | None,
        qos: int | None = None,
    ) -> None:
        if topic_name and data and not retained_allowed(topic_name, len(data), self.topic_root):
            who = source_session.client_id if source_session else "(restored)"
            log.warning(
                "not retaining %d bytes on %s from %s: only a node's small status is kept",
                len(data),
                topic_name,
                who,
            )
            return
        await super().retain_message(source_session, topic_name, data, qos)

    async def _take_over(self, old: Session, old_handler: BrokerProtocolHandler) -> None:
        """Fix 2: close the old connection of a client id, publishing its will first."""
        log.info("client %s already connected, closing old connection", old.client_id)
        if old.will_flag and old.will_topic:
            await self._broadcast_message(old, old.will_topic, old.will_message, old.will_qos)
            if old.will_retain:
                await self.retain_message(old, old.will_topic, old.will_message, old.will_qos)
            old.will_flag = False
        done: asyncio.Event | None = old.attributes.get(_LOOP_DONE)
        await old_handler.handle_connection_closed()
        if done is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), _TAKEOVER_WAIT_S)

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        # Already decided in _initialize_client_session; never ask twice.
        return bool(session.attributes.get(_AUTHENTICATED, False))

    async def _handle_client_session(
        self,
        reader: ReaderAdapter,
        writer: WriterAdapter,
        client_session: Session,
        handler: BrokerProtocolHandler,
        server: Any,
        listener_name: str,
    ) -> None:
        if not client_session.attributes.get(_AUTHENTICATED):
            # Refuse without registering the session (upstream would replace a live one).
            handler.attach(client_session, reader, writer)
            await handler.mqtt_connack_authorize(False)
            await writer.close()
            return
        done = asyncio.Event()
        client_session.attributes[_LOOP_DONE] = done
        client_session.attributes[_CONNECTING] = True
        try:
            await super()._handle_client_session(
                reader, writer, client_session, handler, server, listener_name
            )
        finally:
            done.set()

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        # Fix 5: while connecting, upstream replays retained messages matching *every*
        # client's subscription filters to the newcomer, bypassing the ACL. Retained messages
        # belong to SUBSCRIBE only (as in mosquitto).
        if session.attributes.get(_CONNECTING):
            return
        await super()._publish_retained_messages_for_subscription(subscription, session)

    async def _client_message_loop(
        self, client_session: Session, handler: BrokerProtocolHandler
    ) -> None:
        client_session.attributes[_CONNECTING] = False  # SUBSCRIBEs are handled from here on
        await super()._client_message_loop(client_session, handler)

    async def close_revoked(self, identities: dict[str, Identity]) -> int:
        """Close connections whose identity is gone or whose password hash changed."""
        closed = 0
        for session, handler in list(self._sessions.values()):
            ident: Identity | None = session.attributes.get(IDENTITY_KEY)
            if ident is None or not session.transitions.is_connected():
                continue
            current = identities.get(ident.username)
            if current is None or current.password_hash != ident.password_hash:
                log.warning(
                    "closing %s's connection: its credentials were revoked or rotated",
                    ident.username,
                )
                await handler.handle_connection_closed()
                closed += 1
        return closed


class EmbeddedBroker:
    """An amqtt broker on its own thread and event loop; same interface as MosquittoBroker."""

    kind = "embedded"

    def __init__(
        self,
        data_dir: Path,
        store: CredentialStore,
        host: str = "127.0.0.1",
        port: int = 0,
        hub_host: str = "127.0.0.1",
        hub_port: int = 0,
    ) -> None:
        for address in (host, hub_host):
            if not is_loopback(address):
                raise ValueError(
                    f"the embedded broker is for the demo and binds loopback only, not "
                    f"{address!r}: install mosquitto for a site (apt-get install mosquitto)"
                )
        self.data_dir = Path(data_dir).resolve()
        self.store = store
        self.host = host
        self.port = port or free_port(host)
        self.hub_host = hub_host
        self.hub_port = hub_port or free_port(hub_host)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: _HardenedBroker | None = None
        self._stopping: asyncio.Event | None = None
        self._start_error: BaseException | None = None

    def broker_config(self) -> dict[str, Any]:
        """The amqtt configuration: the node and hub TCP listeners and only our plugins
        (amqtt's defaults include anonymous access and $SYS topics; naming plugins replaces
        them)."""
        return {
            "listeners": {
                NODE_LISTENER: {"type": "tcp", "bind": f"{self.host}:{self.port}"},
                HUB_LISTENER: {"type": "tcp", "bind": f"{self.hub_host}:{self.hub_port}"},
            },
            "plugins": {
                "broker.embedded_plugins.CredentialAuthPlugin": {"store": self.store},
                "broker.embedded_plugins.TopicAclPlugin": {"topic_root": self.store.topic_root},
                "broker.embedded_plugins.RetainedStorePlugin": {
                    "path": str(self.data_dir / "retained.sqlite"),
                    "topic_root": self.store.topic_root,
                },
            },
        }

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; returns once the port accepts connections."""
        if self.is_running():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ready = threading.Event()
        self._start_error = None
        self._thread = threading.Thread(
            target=self._run, args=(ready,), daemon=True, name=f"amqtt-{self.port}"
        )
        self._thread.start()
        if not ready.wait(timeout) or self._start_error is not None:
            err = self._start_error
            self.stop()
            raise RuntimeError(
                f"embedded broker did not start on {self.host}:{self.port}: {err}"
            ) from err
        log.warning(
            "embedded amqtt broker on %s:%s (nodes) and %s:%s (hub), data %s: for the demo "
            "and tests only (loopback, no TLS); sites run Eclipse Mosquitto",
            self.host,
            self.port,
            self.hub_host,
            self.hub_port,
            self.data_dir,
        )

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(ready))
        except Exception:  # never let the thread die silently
            log.exception("embedded broker crashed")
        finally:
            loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            broker = _HardenedBroker(self.broker_config(), self._loop, self.store.topic_root)
            await broker.start()
        except Exception as exc:
            self._start_error = exc
            ready.set()
            return
        self._broker = broker
        ready.set()
        await self._stopping.wait()
        try:
            await broker.shutdown()
        finally:
            self._broker = None

    def reload(self) -> None:
        """Apply credential changes: new identities work at once (read at each CONNECT);
        connections of removed identities or rotated passwords are closed."""
        broker, loop = self._broker, self._loop
        if broker is None or loop is None:
            return
        identities = self.store.load()
        future = asyncio.run_coroutine_threadsafe(broker.close_revoked(identities), loop)
        closed = future.result(timeout=10)
        log.info(
            "embedded broker: credentials reloaded (%d identities, %d connections closed)",
            len(identities),
            closed,
        )

    def stop(self) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        self._thread = None
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may close between check and call
                loop.call_soon_threadsafe(stopping.set)
        thread.join(15)
        if thread.is_alive():
            log.error("embedded broker thread did not stop within 15 s")
        self._loop = self._stopping = None

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._broker is not None
