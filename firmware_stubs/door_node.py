"""Door-contact sensor node firmware (MicroPython style; runs on the host in tests).

The node debounces a reed switch, and on every closed→open transition writes an alert to a
small queue file *before* trying to send it (a power cut between the two loses nothing). It
speaks protocol v2: an alert leaves the queue only when the hub's **receipt** names it (the
hub has stored it), not on the broker's PUBACK. ``flush()``, called from the main loop:

- connects when needed (clean session) and subscribes to its receipt topic at every connect;
- publishes queued alerts oldest first with QoS 1, at most ``WINDOW`` awaiting receipts;
- reads receipts and drops the alerts they name from the queue;
- sends an alert again if no receipt came ``RECEIPT_TIMEOUT_S`` later (then twice as long,
  up to ``MAX_RECEIPT_TIMEOUT_S``), and all unreceipted ones at once after a reconnect;
- pings when it has sent nothing for half the keepalive, so an idle node is not dropped.

Its sequence number lives in flash too, so the hub can spot a lost alert. Time comes from
``clock`` (seconds), so tests move it instead of sleeping.

On a board: ``DoorNode(load_config(), machine.Pin(4, machine.Pin.IN, machine.Pin.PULL_UP)).run()``
with ``umqtt.simple.MQTTClient`` in place of :mod:`firmware_stubs.mqtt_min`.
"""

import json
import os
import time

try:  # MicroPython
    from umqtt.simple import MQTTClient
except ImportError:  # host
    from firmware_stubs.mqtt_min import MQTTClient

PROTOCOL_VERSION = 2
DEBOUNCE_MS = 50
MAX_QUEUE = 200  # flash is small: keep the newest alerts if the hub is away for days
WINDOW = 20  # alerts sent and awaiting their receipt at once
KEEPALIVE_S = 30
RECEIPT_TIMEOUT_S = 30
MAX_RECEIPT_TIMEOUT_S = 300


def iso_utc(epoch=None):
    t = time.gmtime(epoch if epoch is not None else time.time())
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % t[:6]


def new_id():
    return "".join("%02x" % b for b in os.urandom(16))


def load_config(path="node.json"):
    with open(path) as f:
        return json.load(f)


def alert_id(line):
    return json.loads(line)["id"]


class DoorNode:
    """One door contact. ``pin.value()`` is 1 while the door is open."""

    def __init__(
        self,
        cfg,
        pin,
        state_dir=".",
        kind="door",
        severity="major",
        area=None,
        clock=time.time,
        keepalive_s=KEEPALIVE_S,
        receipt_timeout_s=RECEIPT_TIMEOUT_S,
    ):
        self.cfg = cfg
        self.pin = pin
        self.kind = kind
        self.severity = severity
        self.area = area or cfg.get("area", "site")
        self.state_dir = state_dir
        self.clock = clock
        self.keepalive_s = keepalive_s
        self.receipt_timeout_s = receipt_timeout_s
        self.client = None
        self.backoff_s = 0.5
        self.next_try = 0.0
        self.last_sent = 0.0  # when we last sent a packet (for the keepalive)
        self.last_level = pin.value()
        self.changed_at = clock()
        self.stable_level = self.last_level
        self.sent = {}  # alert id -> [when to send again, times sent]
        self.receipts = []  # alert ids from receipts, not yet dropped from the queue
        self.receipted = 0  # alerts the hub has receipted since boot
        root, site, node = cfg.get("topic_root", "vw"), cfg["site"], cfg["node"]
        self.alert_topic = "%s/%s/%s/alert" % (root, site, node)
        self.status_topic = "%s/%s/%s/status" % (root, site, node)
        self.receipt_topic = "%s/%s/%s/receipt" % (root, site, node)
        self.queue, self.queue_ids = [], []
        self._write_queue(self._read_queue(), persist=False)

    # --- flash-backed state -----------------------------------------------------------------

    def _path(self, name):
        return self.state_dir + "/" + name

    def _next_seq(self):
        try:
            with open(self._path("seq.txt")) as f:
                seq = int(f.read() or "0")
        except OSError:
            seq = 0
        with open(self._path("seq.txt"), "w") as f:
            f.write(str(seq + 1))
        return seq

    def _read_queue(self):
        try:
            with open(self._path("queue.jsonl")) as f:
                return [line.strip() for line in f if line.strip()]
        except OSError:
            return []

    def _write_queue(self, lines, persist=True):
        self.queue = lines[-MAX_QUEUE:]
        self.queue_ids = [alert_id(line) for line in self.queue]  # parsed once, not per loop
        if not persist:
            return
        with open(self._path("queue.jsonl"), "w") as f:
            for line in self.queue:
                f.write(line + "\n")

    def queued(self):
        """Alerts (JSON lines) not yet receipted by the hub, oldest first."""
        return list(self.queue)

    # --- behaviour --------------------------------------------------------------------------

    def raise_alert(self, message="door opened"):
        """Queue one alert (persisted before any send)."""
        alert = {
            "v": PROTOCOL_VERSION,
            "type": "alert",
            "id": new_id(),
            "site": self.cfg["site"],
            "node": self.cfg["node"],
            "seq": self._next_seq(),
            "ts": iso_utc(),
            "kind": self.kind,
            "severity": self.severity,
            "area": self.area,
            "message": message,
        }
        lines = list(self.queue)
        lines.append(json.dumps(alert))
        self._write_queue(lines)
        return alert

    def poll(self):
        """Debounce the contact; a stable closed→open edge raises an alert."""
        level = self.pin.value()
        now = self.clock()
        if level != self.last_level:
            self.last_level, self.changed_at = level, now
        elif level != self.stable_level and (now - self.changed_at) * 1000 >= DEBOUNCE_MS:
            self.stable_level = level
            if level == 1:
                return self.raise_alert()
        return None

    def _status(self, state):
        return json.dumps(
            {
                "v": PROTOCOL_VERSION,
                "type": "status",
                "site": self.cfg["site"],
                "node": self.cfg["node"],
                "state": state,
                "role": "sensor",
                "software": "door-node/2",
            }
        )

    def _connect(self):
        c = MQTTClient(
            self.cfg["node"],
            self.cfg["host"],
            self.cfg["port"],
            user=self.cfg["username"],
            password=self.cfg["password"],
            keepalive=self.keepalive_s,
        )
        c.set_callback(self._on_message)
        c.set_last_will(self.status_topic, self._status("offline"), retain=True, qos=1)
        c.connect()
        self.client = c
        c.subscribe(self.receipt_topic, 1)  # before any alert: no receipt can slip past
        c.publish(self.status_topic, self._status("online"), retain=True, qos=1)
        now = self.clock()
        self.last_sent = now
        for entry in self.sent.values():  # the broker may have lost them: all due again
            entry[0] = now

    def _on_message(self, topic, msg):
        """A receipt from the hub: remember its ids (checked; anything odd is ignored)."""
        if topic.decode() != self.receipt_topic:
            return
        try:
            r = json.loads(msg)
        except ValueError:
            return
        mine = isinstance(r, dict) and r.get("site") == self.cfg["site"]
        if mine and r.get("type") == "receipt" and r.get("node") == self.cfg["node"]:
            ids = r.get("ids")
            if isinstance(ids, list):
                self.receipts.extend(i for i in ids if isinstance(i, str))

    def _drop_receipted(self):
        if not self.receipts:
            return
        done = set(self.receipts)
        self.receipts = []
        n = len(self.queue)
        keep = [self.queue[k] for k in range(n) if self.queue_ids[k] not in done]
        self.receipted += len(self.queue) - len(keep)
        if len(keep) != len(self.queue):
            self._write_queue(keep)
        for i in done:
            self.sent.pop(i, None)

    def _read_incoming(self):
        for _ in range(50):  # receipts and PINGRESPs; a bounded number per loop
            if self.client.check_msg() is None:
                break
        self._drop_receipted()

    def _timeout(self, times_sent):
        return min(self.receipt_timeout_s * 2 ** (times_sent - 1), MAX_RECEIPT_TIMEOUT_S)

    def _send_due(self, now):
        sent = 0
        for stale in [i for i in self.sent if i not in self.queue_ids]:
            del self.sent[stale]  # fell off the full queue
        lines, ids = list(self.queue), list(self.queue_ids)
        for k in range(len(lines)):
            line, aid = lines[k], ids[k]
            entry = self.sent.get(aid)
            if entry is None and len(self.sent) >= WINDOW:
                break
            if entry is not None and entry[0] > now:
                continue
            self.client.publish(self.alert_topic, line, qos=1)  # receipts may come meanwhile
            times = 1 if entry is None else entry[1] + 1
            self.sent[aid] = [now + self._timeout(times), times]
            self.last_sent = now
            sent += 1
        return sent

    def flush(self):
        """Talk to the broker if it is reachable: read receipts, send new and overdue alerts,
        keep the connection alive. Returns how many alerts were sent (PUBACKed) this time."""
        now = self.clock()
        if now < self.next_try:
            return 0
        sent = 0
        try:
            if self.client is None:
                self._connect()
            self._read_incoming()
            sent = self._send_due(now)
            self._drop_receipted()
            if now - self.last_sent >= self.keepalive_s / 2:
                self.client.ping()
                self.last_sent = now
            self.backoff_s = 0.5
        except Exception:  # OSError/MQTTException: broker away; keep the queue, back off
            if self.client is not None:
                self.client.close()
            self.client = None
            self.next_try = now + self.backoff_s
            self.backoff_s = min(self.backoff_s * 2, 30.0)
        return sent

    def shutdown(self):
        if self.client is not None:
            try:
                self.client.publish(self.status_topic, self._status("offline"), retain=True, qos=1)
                self.client.disconnect()
            except Exception:
                pass
            self.client = None

    def run(self, should_stop=lambda: False, period_s=0.02):
        while not should_stop():
            self.poll()
            self.flush()
            time.sleep(period_s)
        self.shutdown()
