"""Door-contact sensor node firmware (MicroPython style; runs on the host in tests).

The node debounces a reed switch, and on every closed→open transition writes an alert to a
small queue file *before* trying to send it (a power cut between the two loses nothing), then
publishes the queue oldest-first with QoS 1, dropping each entry only after the broker's
PUBACK. Its sequence number lives in flash too, so the hub can spot a lost alert.

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

PROTOCOL_VERSION = 1
DEBOUNCE_MS = 50
MAX_QUEUE = 200  # flash is small: keep the newest alerts if the broker is away for days


def iso_utc(epoch=None):
    t = time.gmtime(epoch if epoch is not None else time.time())
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % t[:6]


def new_id():
    return "".join("%02x" % b for b in os.urandom(16))


def load_config(path="node.json"):
    with open(path) as f:
        return json.load(f)


class DoorNode:
    """One door contact. ``pin.value()`` is 1 while the door is open."""

    def __init__(self, cfg, pin, state_dir=".", kind="door", severity="major", area=None):
        self.cfg = cfg
        self.pin = pin
        self.kind = kind
        self.severity = severity
        self.area = area or cfg.get("area", "site")
        self.state_dir = state_dir
        self.client = None
        self.backoff_s = 0.5
        self.next_try = 0.0
        self.last_level = pin.value()
        self.changed_at = time.time()
        self.stable_level = self.last_level
        root, site, node = cfg.get("topic_root", "vw"), cfg["site"], cfg["node"]
        self.alert_topic = "%s/%s/%s/alert" % (root, site, node)
        self.status_topic = "%s/%s/%s/status" % (root, site, node)

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

    def queued(self):
        try:
            with open(self._path("queue.jsonl")) as f:
                return [line.strip() for line in f if line.strip()]
        except OSError:
            return []

    def _write_queue(self, lines):
        with open(self._path("queue.jsonl"), "w") as f:
            for line in lines[-MAX_QUEUE:]:
                f.write(line + "\n")

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
        self._write_queue([*self.queued(), json.dumps(alert)])
        return alert

    def poll(self):
        """Debounce the contact; a stable closed→open edge raises an alert."""
        level = self.pin.value()
        now = time.time()
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
                "software": "door-node/1",
            }
        )

    def _connect(self):
        c = MQTTClient(
            self.cfg["node"],
            self.cfg["host"],
            self.cfg["port"],
            user=self.cfg["username"],
            password=self.cfg["password"],
            keepalive=30,
        )
        c.set_last_will(self.status_topic, self._status("offline"), retain=True, qos=1)
        c.connect()
        c.publish(self.status_topic, self._status("online"), retain=True, qos=1)
        self.client = c

    def flush(self):
        """Send queued alerts if the broker is reachable; returns how many were acknowledged."""
        if time.time() < self.next_try:
            return 0
        sent = 0
        try:
            if self.client is None:
                self._connect()
            lines = self.queued()
            while lines:
                self.client.publish(self.alert_topic, lines[0], qos=1)
                lines = lines[1:]
                self._write_queue(lines)
                sent += 1
            self.backoff_s = 0.5
        except Exception:  # OSError/MQTTException: broker away; keep the queue, back off
            if self.client is not None:
                self.client.close()
            self.client = None
            self.next_try = time.time() + self.backoff_s
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
