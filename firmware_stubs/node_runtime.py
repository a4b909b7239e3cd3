"""The runtime every sensor node shares (MicroPython style; runs unchanged on the host).

A node type (``node_types.py``) only says what its input means; this class does the rest:

- **config** from ``node.json`` (site, node, broker login, area, pins, heartbeat period);
- **MQTT** with a retained ``online`` status and ``offline`` as the last will;
- a **heartbeat** every ``heartbeat_s`` (uptime, battery, rssi, tamper, the sensor's state and
  since when, alerts still queued), at connect and at once when the enclosure opens or closes;
- a **flash-backed queue** and **sequence number** (``flash_queue.py``): an alert is written
  to flash *before* any send, so a power cut between the two loses nothing;
- protocol v2 **receipts**: an alert leaves the queue only when the hub's receipt names it; it
  is sent again after ``receipt_timeout_s`` (then twice as long, up to 300 s), and at once
  after a reconnect;
- **backoff** between reconnects (0.5 s doubling to 30 s);
- a **rate limit** (a burst of 5, then one alert per 10 s) that a flapping contact cannot
  exceed; panic buttons and the tamper switch are never limited;
- the **enclosure tamper switch** every node has: opening it raises a ``tamper`` alert;
- a **watchdog-friendly loop**: each step is bounded (50 packets read, 20 alerts in flight,
  5 s socket timeout), and ``feed()`` feeds ``machine.WDT`` when ``watchdog_ms`` is set.

Time comes from ``clock``: milliseconds like ``time.ticks_ms`` (differences through
``ticks_diff``, so the board's wrap-around is harmless). Tests inject a clock and move it
instead of sleeping through debounce and hold-off times.
"""

import json
import os
import time

try:  # MicroPython
    from umqtt.simple import MQTTClient
except ImportError:  # host
    from firmware_stubs.mqtt_min import MQTTClient

from firmware_stubs.flash_queue import FlashQueue

try:  # MicroPython boards
    import machine
except ImportError:  # host: no watchdog
    machine = None

try:
    ticks_ms, ticks_diff = time.ticks_ms, time.ticks_diff
except AttributeError:  # CPython has no ticks: a millisecond clock that never wraps

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b


PROTOCOL_VERSION = 2
WINDOW = 20  # alerts sent and awaiting their receipt at once
KEEPALIVE_S = 30
RECEIPT_TIMEOUT_S = 30
MAX_RECEIPT_TIMEOUT_S = 300
HEARTBEAT_S = 60
BURST, REFILL_MS = 5, 10000  # rate limit: 5 alerts at once, then one per 10 s
TAMPER_ACTIVE, TAMPER_DEBOUNCE_MS = 1, 100  # switch to GND with pull-up: 1 = lid open


def iso_utc(epoch=None):
    t = time.gmtime(epoch if epoch is not None else time.time())
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % t[:6]


def new_id():
    """A random alert id (32 hex digits)."""
    try:
        raw = os.urandom(16)
    except AttributeError:  # a port without it (the WebAssembly one): the clock, then random
        import random

        head = "%08x%08x" % (int(time.time()) & 0xFFFFFFFF, ticks_ms() & 0xFFFFFFFF)
        return head + "".join("%02x" % random.getrandbits(8) for _ in range(8))
    return "".join("%02x" % b for b in raw)


def load_config(path="node.json"):
    with open(path) as f:
        return json.load(f)


class Debounced:
    """A digital input whose level counts once it has held ``debounce_ms``.

    ``update(now)`` returns True on a settled edge to ``active``, False on one away from it,
    and None otherwise; the level at boot is taken as settled (no alert for a door that was
    already open when the power came back)."""

    def __init__(self, pin, active, debounce_ms, now):
        self.pin, self.active, self.debounce_ms = pin, active, debounce_ms
        self.raw = self.stable = pin.value()
        self.raw_at = now

    def update(self, now):
        level = self.pin.value()
        if level != self.raw:
            self.raw, self.raw_at = level, now
        elif level != self.stable and ticks_diff(now, self.raw_at) >= self.debounce_ms:
            self.stable = level
            return level == self.active
        return None

    def is_active(self):
        return self.stable == self.active


class Node:
    """One sensor node. Subclasses set ``KIND``/``SEVERITY`` and implement ``sense(now)``."""

    KIND = "sensor"
    SEVERITY = "major"
    RATE_LIMITED = True
    SOFTWARE = "vw-node/3"

    def __init__(self, cfg, tamper_pin=None, state_dir=".", clock=ticks_ms, health=None, **opt):
        self.cfg, self.clock = cfg, clock
        self.kind = opt.get("kind") or cfg.get("kind") or self.KIND
        self.severity = opt.get("severity") or cfg.get("severity") or self.SEVERITY
        self.area = opt.get("area") or cfg.get("area", "site")
        self.keepalive_s = opt.get("keepalive_s", KEEPALIVE_S)
        self.receipt_timeout_s = opt.get("receipt_timeout_s", RECEIPT_TIMEOUT_S)
        self.heartbeat_s = cfg.get("heartbeat_s", HEARTBEAT_S)
        self.health = health or dict  # no readings unless the board gives some
        now = clock()
        self.tamper = None
        if tamper_pin is not None:
            self.tamper = Debounced(tamper_pin, TAMPER_ACTIVE, TAMPER_DEBOUNCE_MS, now)
        self.wdt = None
        if machine is not None and cfg.get("watchdog_ms"):
            self.wdt = machine.WDT(timeout=cfg["watchdog_ms"])  # > the 5 s socket timeout
        self.last_tick, self.uptime_ms = now, 0
        self.state, self.state_since = None, iso_utc()
        self.tokens, self.refilled_at, self.suppressed = BURST, now, 0
        self.client = None
        self.backoff_ms, self.failed_at, self.retry_ms = 500, now, 0
        self.last_sent = self.last_heartbeat = now
        self.heartbeat_due = True
        self.sent = {}  # alert id -> [sent at, wait in ms, times sent]
        self.receipts = []  # alert ids from receipts, not yet dropped from the queue
        self.receipted = 0  # alerts the hub has receipted since boot
        base = "%s/%s/%s/" % (cfg.get("topic_root", "vw"), cfg["site"], cfg["node"])
        self.alert_topic, self.status_topic = base + "alert", base + "status"
        self.receipt_topic, self.heartbeat_topic = base + "receipt", base + "heartbeat"
        self.flash = FlashQueue(state_dir)

    # --- flash-backed state -----------------------------------------------------------------

    @property
    def queue(self):
        return self.flash.lines

    @property
    def queue_ids(self):
        return self.flash.ids

    def queued(self):
        """Alerts (JSON lines) not yet receipted by the hub, oldest first."""
        return list(self.queue)

    # --- sensing ----------------------------------------------------------------------------

    def sense(self, now):
        """Read the sensor; return the alert raised (or None). Node types override this."""
        return None

    def set_state(self, state):
        if state != self.state:
            self.state, self.state_since = state, iso_utc()

    def _tick(self):
        now = self.clock()
        self.uptime_ms += ticks_diff(now, self.last_tick)  # small steps: safe across wraps
        self.last_tick = now
        return now

    def poll(self):
        """One look at the inputs: the tamper switch, then the sensor. Returns the alert
        raised, if any."""
        now = self._tick()
        alert = None
        edge = self.tamper.update(now) if self.tamper else None
        if edge is not None:
            self.heartbeat_due = True  # the hub sees the enclosure state at once
            if edge:
                alert = self.raise_alert("enclosure opened", "tamper", "critical")
        return self.sense(now) or alert

    def trip(self, message):
        """Raise this node's own alert, subject to the rate limit unless the type is exempt."""
        if self.RATE_LIMITED:
            now = self.clock()
            earned = ticks_diff(now, self.refilled_at) // REFILL_MS
            if earned:
                self.tokens = min(BURST, self.tokens + earned)
                self.refilled_at = now
            if self.tokens <= 0:
                self.suppressed += 1
                return None
            self.tokens -= 1
        return self.raise_alert(message)

    def raise_alert(self, message="", kind=None, severity=None):
        """Queue one alert, persisted before any send."""
        alert = {
            "v": PROTOCOL_VERSION,
            "type": "alert",
            "id": new_id(),
            "site": self.cfg["site"],
            "node": self.cfg["node"],
            "seq": self.flash.next_seq(),
            "ts": iso_utc(),
            "kind": kind or self.kind,
            "severity": severity or self.severity,
            "area": self.area,
            "message": message or self.kind,
        }
        lines = list(self.queue)
        lines.append(json.dumps(alert))
        self.flash.replace(lines)
        return alert

    def heartbeat(self):
        """The Heartbeat payload (contract.protocol.Heartbeat); absent readings are left out."""
        hb = {
            "v": PROTOCOL_VERSION,
            "type": "heartbeat",
            "site": self.cfg["site"],
            "node": self.cfg["node"],
            "ts": iso_utc(),
            "interval_s": self.heartbeat_s,
            "uptime_s": self.uptime_ms / 1000,
            "state_since": self.state_since,
            "queued": len(self.queue),
        }
        if self.tamper:
            hb["tamper"] = self.tamper.is_active()
        if self.state:
            hb["state"] = self.state
        for key, value in self.health().items():
            if value is not None:
                hb[key] = value
        return hb

    # --- the broker -------------------------------------------------------------------------

    def _status(self, state):
        return json.dumps(
            {
                "v": PROTOCOL_VERSION,
                "type": "status",
                "site": self.cfg["site"],
                "node": self.cfg["node"],
                "state": state,
                "role": "sensor",
                "software": self.SOFTWARE,
            }
        )

    def _connect(self, now):
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
        self.last_sent, self.heartbeat_due = now, True
        for entry in self.sent.values():  # the broker may have lost them: all due again
            entry[1] = 0

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
        pairs = zip(self.queue, self.queue_ids)  # noqa: B905 (MicroPython has no strict=)
        keep = [q for q, i in pairs if i not in done]
        if len(keep) != len(self.queue):
            self.receipted += len(self.queue) - len(keep)
            self.flash.replace(keep)
        for i in done:
            self.sent.pop(i, None)

    def _read_incoming(self):
        for _ in range(50):  # receipts and PINGRESPs; a bounded number per loop
            if self.client.check_msg() is None:
                break
        self._drop_receipted()

    def _send_due(self, now):
        sent = 0
        for stale in [i for i in self.sent if i not in self.queue_ids]:
            del self.sent[stale]  # fell off the full queue
        pairs = zip(list(self.queue), list(self.queue_ids))  # noqa: B905 (MicroPython)
        for line, aid in pairs:
            entry = self.sent.get(aid)
            if entry is None and len(self.sent) >= WINDOW:
                break
            if entry is not None and ticks_diff(now, entry[0]) < entry[1]:
                continue
            self.client.publish(self.alert_topic, line, qos=1)  # receipts may come meanwhile
            times = 1 if entry is None else entry[2] + 1
            wait_s = min(self.receipt_timeout_s * 2 ** (times - 1), MAX_RECEIPT_TIMEOUT_S)
            self.sent[aid] = [now, int(wait_s * 1000), times]
            self.last_sent = now
            sent += 1
        return sent

    def _keep_alive(self, now):
        if self.heartbeat_due or ticks_diff(now, self.last_heartbeat) >= self.heartbeat_s * 1000:
            self.client.publish(self.heartbeat_topic, json.dumps(self.heartbeat()), qos=1)
            self.last_heartbeat = self.last_sent = now
            self.heartbeat_due = False
        if ticks_diff(now, self.last_sent) >= self.keepalive_s * 500:  # half the keepalive
            self.client.ping()
            self.last_sent = now

    def flush(self):
        """Talk to the broker if it is reachable: read receipts, send new and overdue alerts,
        the heartbeat when due, keep the connection alive. Returns the alerts sent."""
        now = self._tick()
        if ticks_diff(now, self.failed_at) < self.retry_ms:
            return 0
        sent = 0
        try:
            if self.client is None:
                self._connect(now)
            self._read_incoming()
            sent = self._send_due(now)
            self._drop_receipted()
            self._keep_alive(now)
            self.backoff_ms, self.retry_ms = 500, 0
        except Exception:  # OSError/MQTTException: broker away; keep the queue, back off
            if self.client is not None:
                self.client.close()
            self.client = None
            self.failed_at, self.retry_ms = now, self.backoff_ms
            self.backoff_ms = min(self.backoff_ms * 2, 30000)
        return sent

    def feed(self):
        """Tell the watchdog the loop is alive (a no-op without one)."""
        if self.wdt is not None:
            self.wdt.feed()

    def shutdown(self):
        if self.client is not None:
            try:
                self.client.publish(self.status_topic, self._status("offline"), retain=True, qos=1)
                self.client.disconnect()
            except Exception:
                pass
            self.client = None

    def run(self, should_stop=lambda: False, period_ms=20):
        while not should_stop():
            self.poll()
            self.flush()
            self.feed()
            time.sleep(period_ms / 1000)
        self.shutdown()
