"""The one MQTT client both edge and hub use: paho 2.x behind a small interface.

:class:`MqttLink` connects in the background and keeps reconnecting forever with backoff, so
a gateway that boots before its broker, or outlives a broker restart, never dies (Frigate
#616, #814). It publishes the node's retained ``online`` status on every connect and leaves
a last will of ``offline``; subscriptions are renewed on every connect.

QoS 1 acknowledgements are reported through ``on_ack(mid)``; callers that must not lose a
message (the edge outbox) keep their own copy until that callback fires.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from contract.certificates import client_ssl_context
from contract.connection import NodeConnection
from contract.protocol import NodeStatus, encode, status_topic, utc_now

log = logging.getLogger(__name__)


Message = tuple[str, bytes]
_PUBACK = 0x40  # MQTT packet type 4: fixed header byte, remaining length 2, message id
_PUBACK_PACKET = struct.Struct("!BBH")
#: Bytes read from the socket at once (see :class:`_BufferedClient`).
_READ_CHUNK = 65536


class _BufferedClient(paho.Client):
    """paho's client, reading the socket in 64 KiB chunks.

    paho 2.x reads each packet with three ``recv`` calls (command byte, length bytes, the
    rest) and handles one packet per ``select``: four system calls per message, about a
    third of the hub receiver's CPU at 10,000 alerts/s. This serves paho's small reads from
    one large read and handles every packet already buffered before it selects again.
    Only paho's private ``_sock_recv``/``loop_read`` are replaced (paho is pinned < 3)."""

    _rbuf = b""
    _rpos = 0
    _rsock: object = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rsock is not self._sock:  # a new connection: nothing buffered is its
            self._rbuf, self._rpos, self._rsock = b"", 0, self._sock
        if self._rpos >= len(self._rbuf):
            self._rbuf, self._rpos = super()._sock_recv(max(bufsize, _READ_CHUNK)), 0
            if not self._rbuf:
                return b""  # closed by the broker
        chunk = self._rbuf[self._rpos : self._rpos + bufsize]
        self._rpos += len(chunk)
        return chunk

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._rpos < len(self._rbuf):
            if self._rsock is not self._sock:
                break
            rc = super().loop_read(max_packets)
        return rc


@dataclass(frozen=True)
class Delivery:
    """One received message to acknowledge later with :meth:`MqttLink.ack`.

    ``session`` numbers the connection it came on: an ack is sent only on that connection
    (after a reconnect the broker redelivers what was not acknowledged, possibly under a
    message id it has since given to another message)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    session: int


def node_status(connection: NodeConnection, state: str, software: str = "") -> Message:
    """(topic, payload) of a node's retained status; ``online`` carries the time it is made."""
    status = NodeStatus(
        site=connection.site,
        node=connection.node,
        role=connection.role,
        state=state,
        ts=utc_now() if state == "online" else None,
        software=software,
    )
    return status_topic(connection.topic_root, connection.site, connection.node), encode(status)


@dataclass(frozen=True)
class LinkSettings:
    host: str
    port: int
    username: str
    password: str
    client_id: str
    #: (topic, payload) published retained on every connect, e.g. the node's online status;
    #: a callable is asked afresh at each connect (so its timestamp is current).
    online: Message | Callable[[], Message] | None = None
    #: (topic, payload) the broker publishes retained if we vanish: the last will.
    will: tuple[str, bytes] | None = None
    subscriptions: list[tuple[str, int]] = field(default_factory=list)
    #: Keep the session (subscriptions + queued QoS 1 messages) in the broker while we are
    #: away. The hub needs this: alerts a gateway delivers while the hub is reconnecting are
    #: queued for it instead of being dropped. Needs a stable ``client_id``.
    persistent_session: bool = False
    #: Send the PUBACK only when ``on_message`` returned True (paho's manual ack). A message
    #: the handler could not persist stays unacknowledged, so the broker keeps it and resends
    #: it after the next reconnect instead of it being lost.
    ack_when_handled: bool = False
    keepalive: int = 15
    min_backoff_s: float = 0.5
    max_backoff_s: float = 10.0
    #: The site CA (PEM text or a file path). Set: connect with TLS (1.2 or newer) and accept
    #: only a broker whose certificate it signed, for the host name dialled. Never plain TCP.
    tls_ca: str | None = None

    @classmethod
    def for_node(
        cls, connection: NodeConnection, client_id: str | None = None, software: str = "", **options
    ) -> LinkSettings:
        """Settings for ``connection``'s identity, announcing its status: ``online`` at every
        connect and ``offline`` as its last will (and on a clean :meth:`MqttLink.stop`).

        A client id in the connection file (the hub's random one) wins over ``client_id``:
        it is part of the identity provisioning gave. With a CA in the file, the link uses
        TLS on the file's TLS port."""
        return cls(
            host=connection.host,
            port=connection.dial_port,
            username=connection.username,
            password=connection.password,
            client_id=(
                connection.client_id or client_id or f"vw-{connection.site}-{connection.node}"
            ),
            tls_ca=connection.ca,
            online=lambda: node_status(connection, "online", software),
            will=node_status(connection, "offline", software),
            **options,
        )

    @classmethod
    def side_link(cls, connection: NodeConnection, purpose: str, **options) -> LinkSettings:
        """Settings for one more connection of ``connection``'s identity, for one job (the
        hub's live relay, verification, Home Assistant): the same login, its own client id
        ``<base>-<purpose>`` so it never takes over the main session, and no status of its
        own (the main link announces the node)."""
        base = connection.client_id or f"vw-hub-{connection.site}-{connection.node}"
        return cls(
            host=connection.host,
            port=connection.dial_port,
            username=connection.username,
            password=connection.password,
            client_id=f"{base}-{purpose}",
            tls_ca=connection.ca,
            **options,
        )


class MqttLink:
    """A long-lived MQTT connection. Call :meth:`start`, then :meth:`stop` when done."""

    def __init__(
        self,
        settings: LinkSettings,
        on_message: Callable[[str, bytes], bool | None] | None = None,
        on_ack: Callable[[int], None] | None = None,
        on_connection_change: Callable[[bool], None] | None = None,
        on_delivery: Callable[[Delivery], None] | None = None,
    ) -> None:
        """``on_delivery`` (instead of ``on_message``) receives each message to acknowledge
        later from any thread with :meth:`ack`; it needs ``ack_when_handled``."""
        if on_delivery is not None and not settings.ack_when_handled:
            raise ValueError("on_delivery acknowledges by hand: set ack_when_handled")
        self.settings = settings
        self._on_delivery = on_delivery
        self._session = 0
        self.connected = threading.Event()
        self._on_message = on_message
        self._on_ack = on_ack
        self._on_connection_change = on_connection_change
        self.refused_reason: str | None = None
        self._stopping = False

        c = _BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=paho.MQTTv311,
            clean_session=not settings.persistent_session,
            manual_ack=settings.ack_when_handled,
        )
        c.username_pw_set(settings.username, settings.password)
        if settings.tls_ca:
            c.tls_set_context(client_ssl_context(settings.tls_ca))
        if settings.will:
            c.will_set(settings.will[0], settings.will[1], qos=1, retain=True)
        c.reconnect_delay_set(settings.min_backoff_s, settings.max_backoff_s)
        # Our callers keep their own outbox; paho's in-memory queue only needs the in-flight.
        c.max_inflight_messages_set(100)
        c.on_connect = self._handle_connect
        c.on_disconnect = self._handle_disconnect
        c.on_message = self._handle_message
        c.on_publish = self._handle_publish
        self._client = c

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; returns at once even if the broker is unreachable."""
        self._client.connect_async(self.settings.host, self.settings.port, self.settings.keepalive)
        self._client.loop_start()

    def stop(self, announce_offline: bool = True, timeout: float = 2.0) -> None:
        """Disconnect cleanly. A clean disconnect suppresses the last will, so the will is
        published here first: subscribers learn we left on purpose."""
        self._stopping = True
        will = self.settings.will
        if announce_offline and will and self.connected.is_set():
            info = self._client.publish(will[0], will[1], qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout)
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()

    # --- publishing -----------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int | None:
        """Hand a message to the client. Returns its mid, or None when not connected.

        With ``qos=1`` the mid is reported to ``on_ack`` once the broker acknowledges it.
        """
        if not self.connected.is_set():
            return None
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        return info.mid

    def offer(self, topic: str, payload: bytes, max_waiting: int = 4) -> bool:
        """Publish at QoS 0 a message that is worthless once a newer one exists (a live
        camera frame): skipped, returning False, while more than ``max_waiting`` packets
        still wait to be written, so a stalled link drops frames instead of queueing them
        without bound in paho's memory."""
        if not self.connected.is_set():
            return False
        waiting = getattr(self._client, "_out_packet", ())  # paho 2.x's outgoing deque
        if len(waiting) > max_waiting:
            return False
        info = self._client.publish(topic, payload, qos=0, retain=False)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack(self, deliveries: list[Delivery]) -> int:
        """Send the PUBACKs of ``deliveries``; returns how many went out. Callable from any
        thread: paho's ``ack`` only appends the packet to its outgoing deque (atomic in
        CPython) and wakes the network thread through its socket pair. Deliveries of an
        earlier connection are skipped: the broker redelivers them, and ingest dedupes.

        A batch of QoS 1 acks goes out as one write: the PUBACK packets (4 bytes each)
        are joined and queued once, instead of one wake-up and one send per message."""
        if not self.connected.is_set():
            return 0
        current = [d for d in deliveries if d.qos > 0 and d.session == self._session]
        puback = [d.mid for d in current if d.qos == 1]
        queue = getattr(self._client, "_packet_queue", None)  # paho 2.x
        joined = 0
        if len(puback) > 1 and queue is not None:
            queue(_PUBACK, b"".join(_PUBACK_PACKET.pack(_PUBACK, 2, mid) for mid in puback), 0, 1)
            current, joined = [d for d in current if d.qos != 1], len(puback)
        for d in current:
            self._client.ack(d.mid, d.qos)
        return joined + len(current)

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self.connected.wait(timeout)

    # --- paho callbacks (network thread) --------------------------------------------------

    def _handle_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:  # bad credentials: paho keeps retrying with backoff
            self.refused_reason = str(reason_code)
            log.warning(
                "broker %s:%s refused %s: %s",
                self.settings.host,
                self.settings.port,
                self.settings.username,
                reason_code,
            )
            return
        self.refused_reason = None
        self._session += 1
        log.info(
            "connected to broker %s:%s as %s",
            self.settings.host,
            self.settings.port,
            self.settings.username,
        )
        for topic, qos in self.settings.subscriptions:
            client.subscribe(topic, qos)
        online = self.settings.online
        if online:
            topic, payload = online() if callable(online) else online
            client.publish(topic, payload, qos=1, retain=True)
        self.connected.set()
        if self._on_connection_change:
            self._on_connection_change(True)

    def _handle_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and not self._stopping:
            log.warning("lost broker connection (%s); reconnecting", reason_code)
        if was and self._on_connection_change:
            self._on_connection_change(False)

    def _handle_message(self, client, userdata, message: paho.MQTTMessage) -> None:
        if self._on_delivery is not None:  # only queues: the receiver acks after its commit
            try:
                topic = message.topic
            except UnicodeDecodeError:  # the receiver quarantines it as a bad topic
                topic = message._topic.decode("utf-8", "backslashreplace")
            delivery = Delivery(topic, message.payload, message.mid, message.qos, self._session)
            try:
                self._on_delivery(delivery)
            except Exception:
                log.exception("delivery handler failed for %s", message.topic)
            return
        handled = True
        if self._on_message is not None:
            try:
                handled = self._on_message(message.topic, message.payload) is not False
            except Exception:  # a bad message must never kill the network thread
                log.exception("message handler failed for %s", message.topic)
                handled = False
        if self.settings.ack_when_handled and handled and message.qos > 0:
            client.ack(message.mid, message.qos)

    def _handle_publish(self, client, userdata, mid, reason_code, properties) -> None:
        if self._on_ack is not None:
            self._on_ack(mid)
