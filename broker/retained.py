"""Which retained messages a site keeps, and the sweeper that enforces it on mosquitto.

Retained messages live in the broker's memory and persistence file for ever, and anyone
subscribing later receives them. The protocol needs exactly one kind: each node's small
``status`` (online/offline), so a hub that starts later knows who is up. Anything else a node
publishes with the retain flag (an alert, a snapshot under a new alert id each time) would
let one node fill the broker's memory and disk, and survive restarts.

:func:`retained_allowed` is the rule, shared by both brokers:

* the embedded broker applies it at the door: a retained publish that breaks it is still
  delivered to live subscribers but never stored (:mod:`broker.embedded`);
* mosquitto 2.0.11 has no per-topic or per-user control of the retain flag (its only knob,
  ``retain_available``, turns retained messages off for everyone, statuses included, and
  its ACL cannot tell retained publishes from others). So :class:`RetainedSweeper` clears
  the rest: at every broker start (before nodes connect, so a stray message persisted
  before a restart is gone at once) and then every ``interval_s``. Between two sweeps a
  stray retained message lives in memory only; the sweep publishes an empty retained
  message to its topic, which is how MQTT deletes one [MQTT-3.3.1-10]. Subscribers of that
  topic (the hub) receive that empty payload once.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from contract.protocol import Channel

log = logging.getLogger(__name__)

#: A node's status is ~200 bytes of JSON; 4 KiB leaves room for a long software string.
MAX_RETAINED_STATUS_BYTES = 4096
#: How often mosquitto is swept for stray retained messages.
SWEEP_INTERVAL_S = 10.0
#: The sweeper's broker identity. The dot keeps it apart from every node id (a-z 0-9 _ -).
SWEEPER_USERNAME = "villagewatch.sweeper"
#: A topic outside the site's root: the sweeper's end-of-retained marker.
SWEEPER_TOPIC = "villagewatch-broker/sweep"


def retained_allowed(topic: str, size: int, root: str) -> bool:
    """May the broker keep a retained message of ``size`` bytes on ``topic``?

    Only ``{root}/<site>/<node>/status`` up to :data:`MAX_RETAINED_STATUS_BYTES`; an empty
    payload (which deletes a retained message) is always allowed.
    """
    if size == 0:
        return True
    levels = topic.split("/")
    return (
        len(levels) == 4
        and levels[0] == root
        and levels[3] == Channel.STATUS
        and size <= MAX_RETAINED_STATUS_BYTES
    )


def sweeper_acl(root: str) -> str:
    """The sweeper's mosquitto ACL block: it reads and clears anything under the root."""
    return f"user {SWEEPER_USERNAME}\ntopic readwrite {root}/#\ntopic readwrite {SWEEPER_TOPIC}\n"


@dataclass
class RetainedSweeper:
    """Clears retained messages :func:`retained_allowed` refuses, through a broker listener.

    :meth:`sweep` runs once (tests call it directly); :meth:`start` runs it every
    ``interval_s`` on a thread until :meth:`stop`.
    """

    host: str
    port: int
    password: str
    root: str
    interval_s: float = SWEEP_INTERVAL_S
    timeout_s: float = 10.0
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def sweep(self) -> int:
        """Connect, collect every retained message under the root, clear the stray ones.

        Returns how many were cleared. Raises OSError/RuntimeError if the broker cannot be
        reached or does not answer in time.
        """
        stray: dict[str, int] = {}
        marker = secrets.token_hex(8).encode()
        done = threading.Event()

        def on_message(client, userdata, msg: paho.MQTTMessage) -> None:
            if msg.topic == SWEEPER_TOPIC:
                if msg.payload == marker:
                    done.set()
            elif msg.retain and not retained_allowed(msg.topic, len(msg.payload), self.root):
                stray[msg.topic] = len(msg.payload)

        connack: list[paho.ReasonCode] = []
        answered = threading.Event()

        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            connack.append(reason_code)
            answered.set()

        client = self._client(on_message)
        client.on_connect = on_connect
        client.connect(self.host, self.port, keepalive=30)
        client.loop_start()
        try:
            if not answered.wait(self.timeout_s) or connack[0].is_failure:
                raise RuntimeError(f"the broker refused the sweeper: {connack or 'no CONNACK'}")
            self._wait(client.subscribe([(f"{self.root}/#", 0), (SWEEPER_TOPIC, 0)]))
            # Retained messages are queued to us right after the SUBACK; our own marker,
            # published after the SUBSCRIBE, comes back behind all of them.
            self._published(client.publish(SWEEPER_TOPIC, marker, qos=1))
            if not done.wait(self.timeout_s):
                raise RuntimeError("the broker did not return the sweep marker")
            client.unsubscribe(f"{self.root}/#")
            for topic, size in sorted(stray.items()):
                log.warning("cleared a stray retained message (%d bytes) on %s", size, topic)
                self._published(client.publish(topic, b"", qos=1, retain=True))
        finally:
            client.disconnect()
            client.loop_stop()
        return len(stray)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="retained-sweeper")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout_s + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sweep()
            except (OSError, RuntimeError) as exc:  # the broker restarting: next time
                log.info("retained sweep skipped: %s", exc)

    def _client(self, on_message) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{SWEEPER_USERNAME}-{secrets.token_hex(4)}",
            protocol=paho.MQTTv311,
            clean_session=True,
        )
        client.username_pw_set(SWEEPER_USERNAME, self.password)
        client.on_message = on_message
        return client

    def _wait(self, result: tuple[int, int | None]) -> None:
        if result[0] != paho.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"sweeper could not subscribe: {paho.error_string(result[0])}")

    def _published(self, info: paho.MQTTMessageInfo) -> None:
        info.wait_for_publish(self.timeout_s)
        if not info.is_published():
            raise RuntimeError("the broker did not acknowledge the sweeper's publish")
