"""Test kit for end-to-end delivery on the edge: a receipting stand-in hub and a manual clock.

:class:`ReceiptingHub` is a plain paho client logged in as the hub on a real broker. It keeps
every alert and snapshot it hears, counts copies by id, and answers with receipts by the hub's
rule (docs/protocol.md): an alert is receipted once it is here and, when it promised a
snapshot, once that JPEG is here too. It lets the edge and firmware tests exercise the node's
side of the protocol without the whole hub; the delivery fault tests use the real hub.
"""

from __future__ import annotations

import json
import threading
from collections import Counter

import paho.mqtt.client as paho
from broker_kit import wait_until
from paho.mqtt.enums import CallbackAPIVersion

from contract.protocol import Channel, Receipt, encode, parse_topic, receipt_topic


class Seconds:
    """A monotonic clock in seconds that moves only when the test says (``advance``)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ReceiptingHub:
    """A stand-in hub: stores alerts and snapshots in memory and receipts them.

    ``receipting=False`` makes it a hub that stores but whose receipts never leave (or a v1
    hub); ``snapshots_needed=False`` receipts an alert without waiting for its JPEG.
    """

    def __init__(
        self,
        port: int,
        password: str,
        client_id: str = "receipting-hub",
        *,
        receipting: bool = True,
        snapshots_needed: bool = True,
        root: str = "vw",
        clean_session: bool = False,
    ) -> None:
        self.root = root
        self.receipting = receipting
        self.snapshots_needed = snapshots_needed
        self.alerts: dict[str, dict] = {}
        self.snapshots: dict[str, bytes] = {}
        self.copies: Counter[str] = Counter()  # alert id -> alert messages heard
        self.receipts: list[tuple[str, list[str]]] = []  # (node, ids) published
        self._lock = threading.Lock()
        self._ready = threading.Event()
        # A persistent session by default, like the real hub: the broker keeps its
        # subscription and queues alerts for it across its own restarts.
        c = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv311,
            clean_session=clean_session,
        )
        c.username_pw_set("hub", password)
        c.reconnect_delay_set(0.2, 1.0)  # back soon after a broker restart
        c.on_connect = self._on_connect
        c.on_subscribe = lambda *_: self._ready.set()  # SUBACK: from here on nothing slips past
        c.on_message = self._on_message
        c.connect("127.0.0.1", port, 30)
        c.loop_start()
        self.client = c
        assert self._ready.wait(10), "stand-in hub never subscribed"

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        client.subscribe([(f"{self.root}/+/+/alert", 1), (f"{self.root}/+/+/snapshot/+", 1)])

    def _on_message(self, client, userdata, message) -> None:
        topic = parse_topic(message.topic, self.root)
        with self._lock:
            if topic.channel is Channel.SNAPSHOT:
                alert_id = topic.alert_id or ""
                self.snapshots[alert_id] = message.payload
            else:
                alert = json.loads(message.payload)
                alert_id = alert["id"]
                self.alerts[alert_id] = alert
                self.copies[alert_id] += 1
            complete = alert_id in self.alerts and (
                not self.snapshots_needed
                or not self.alerts[alert_id].get("has_snapshot")
                or alert_id in self.snapshots
            )
            if not (complete and self.receipting):
                return
            self.receipts.append((topic.node, [alert_id]))
        receipt = Receipt(site=topic.site, node=topic.node, ids=[alert_id])
        client.publish(receipt_topic(self.root, topic.site, topic.node), encode(receipt), qos=1)

    def ids(self) -> set[str]:
        with self._lock:
            return set(self.alerts)

    def wait_for(self, ids: set[str], timeout: float = 10.0) -> bool:
        return wait_until(lambda: ids <= self.ids(), timeout)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
