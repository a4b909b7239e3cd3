"""The node types: what each sensor's input means (MicroPython style; runs on the host).

Every type is one digital input on the shared runtime (``node_runtime.Node``), which brings
the queue, receipts, heartbeat, tamper switch and backoff. A type says which level is
``ACTIVE`` (the wiring table in firmware_stubs/README.md), whether the board's pull-up is
on, how long a level must hold (``DEBOUNCE_MS``), what its two states are called in the
heartbeat, and what makes an alert. ``node.json`` may override ``active`` for other wiring.

On a board: ``make_node(load_config()).run()`` (``main.py``); pins come from ``pin`` and
``tamper_pin`` in ``node.json``.
"""

try:  # MicroPython boards
    import machine
except ImportError:  # host: tests and the demo hand in simulated pins
    machine = None

from firmware_stubs.node_runtime import Debounced, Node, load_config, ticks_diff, ticks_ms


class InputNode(Node):
    """One debounced input; an alert on each settled edge to active."""

    ACTIVE = 1
    PULL_UP = True
    DEBOUNCE_MS = 50
    STATES = ("normal", "alarm")  # (inactive, active)
    MESSAGE = "alarm"

    def __init__(self, cfg, pin, tamper_pin=None, state_dir=".", clock=ticks_ms, **opt):
        Node.__init__(self, cfg, tamper_pin, state_dir, clock, **opt)
        active = cfg.get("active", self.ACTIVE)
        self.input = Debounced(pin, active, self.DEBOUNCE_MS, clock())
        self.set_state(self.STATES[self.input.is_active()])

    def sense(self, now):
        edge = self.input.update(now)
        if edge is None:
            return self.held(now)
        self.set_state(self.STATES[edge])
        return self.edge(edge, now)

    def edge(self, active, now):
        return self.trip(self.MESSAGE) if active else None

    def held(self, now):
        """Called while the input has not changed (panic buttons time their press here)."""
        return None


class ContactNode(InputNode):
    """Door or window: a reed switch to GND, closed while the magnet is near. Pull-up, so
    1 = open."""

    KIND = "door"
    STATES = ("closed", "open")

    def edge(self, active, now):
        return self.trip(self.kind + " opened") if active else None


class PirNode(InputNode):
    """PIR motion (HC-SR501 style): a push-pull output, 1 = motion. After each alert, more
    triggers within ``HOLD_OFF_MS`` are only counted: one person walking past is one alert."""

    KIND = "pir"
    PULL_UP = False
    DEBOUNCE_MS = 0  # the module already holds its output high for seconds
    HOLD_OFF_MS = 30000
    STATES = ("clear", "motion")

    def __init__(self, cfg, pin, *args, **kw):
        InputNode.__init__(self, cfg, pin, *args, **kw)
        self.hold_off_ms = cfg.get("hold_off_ms", self.HOLD_OFF_MS)
        self.last_alert, self.held_off = None, 0

    def edge(self, active, now):
        if not active:
            return None
        if self.last_alert is not None and ticks_diff(now, self.last_alert) < self.hold_off_ms:
            self.held_off += 1
            return None
        self.last_alert = now
        return self.trip("motion")


class PanicNode(InputNode):
    """Panic button: a push button to GND, pull-up, 0 = pressed. Only a press held
    ``LONG_PRESS_MS`` counts (a brush against it does not); critical; never rate-limited."""

    KIND = "panic_button"
    SEVERITY = "critical"
    RATE_LIMITED = False
    ACTIVE = 0
    DEBOUNCE_MS = 20
    LONG_PRESS_MS = 1500
    STATES = ("idle", "pressed")

    def __init__(self, cfg, pin, *args, **kw):
        InputNode.__init__(self, cfg, pin, *args, **kw)
        self.pressed_at, self.fired = None, False

    def edge(self, active, now):
        # timed from when the press began, not from when the debounce confirmed it
        self.pressed_at, self.fired = (self.input.raw_at if active else None), False
        return None

    def held(self, now):
        if self.pressed_at is None or self.fired:
            return None
        if ticks_diff(now, self.pressed_at) < self.LONG_PRESS_MS:
            return None
        self.fired = True  # one alert per press
        return self.trip("panic button pressed")


class SmokeNode(InputNode):
    """Smoke alarm's relay output (normally open, closes to GND in alarm): pull-up, 0 =
    alarm. Critical."""

    KIND = "smoke"
    SEVERITY = "critical"
    ACTIVE = 0
    MESSAGE = "smoke alarm"


class HeatNode(SmokeNode):
    """Heat alarm's relay output, wired as the smoke alarm's."""

    KIND = "heat"
    MESSAGE = "heat alarm"


class GlassBreakNode(InputNode):
    """Glass-break detector's alarm output (normally closed, opens in alarm, as intrusion
    panels expect: a cut wire alarms too): pull-up, 1 = alarm."""

    KIND = "glass_break"
    MESSAGE = "glass break"


class WaterLeakNode(InputNode):
    """Water leak probe module (digital output pulled low when the probe is wet): pull-up,
    0 = wet. Wet for 2 s before it counts: a splash is not a leak."""

    KIND = "water_leak"
    ACTIVE = 0
    DEBOUNCE_MS = 2000
    STATES = ("dry", "wet")
    MESSAGE = "water leak"


class VibrationNode(InputNode):
    """Vibration on a fence or wall (SW-420 style: 1 while shaking). ``PULSES`` shakes
    within ``WINDOW_MS`` make one alert (a single gust does not), then ``HOLD_OFF_MS``."""

    KIND = "vibration"
    SEVERITY = "minor"
    PULL_UP = False
    DEBOUNCE_MS = 5
    PULSES, WINDOW_MS, HOLD_OFF_MS = 3, 2000, 10000
    STATES = ("still", "shaking")

    def __init__(self, cfg, pin, *args, **kw):
        InputNode.__init__(self, cfg, pin, *args, **kw)
        self.pulses, self.last_alert = [], None

    def edge(self, active, now):
        if not active:
            return None
        self.pulses = [t for t in self.pulses if ticks_diff(now, t) < self.WINDOW_MS] + [now]
        if len(self.pulses) < self.PULSES:
            return None
        if self.last_alert is not None and ticks_diff(now, self.last_alert) < self.HOLD_OFF_MS:
            return None
        self.pulses, self.last_alert = [], now
        return self.trip("vibration")


NODE_TYPES = {
    "door": ContactNode,
    "window": ContactNode,
    "pir": PirNode,
    "panic_button": PanicNode,
    "smoke": SmokeNode,
    "heat": HeatNode,
    "glass_break": GlassBreakNode,
    "water_leak": WaterLeakNode,
    "vibration": VibrationNode,
}


def make_node(cfg, pin=None, tamper_pin=None, state_dir=".", **opt):
    """The node type for ``cfg["kind"]``; on a board the pins come from ``node.json``."""
    cls = NODE_TYPES[opt.get("kind") or cfg.get("kind", "door")]
    if pin is None:  # a board: pin numbers from the config
        pull = machine.Pin.PULL_UP if cls.PULL_UP else None
        pin = machine.Pin(cfg["pin"], machine.Pin.IN, pull)
        if cfg.get("tamper_pin") is not None:
            tamper_pin = machine.Pin(cfg["tamper_pin"], machine.Pin.IN, machine.Pin.PULL_UP)
        opt.setdefault("health", board_health(cfg))
    return cls(cfg, pin, tamper_pin, state_dir, **opt)


def board_health(cfg):
    """Readings for the heartbeat on a board: battery through a divider on an ADC pin
    (``battery_adc``, ``battery_divider``), Wi-Fi signal strength. None on the host."""
    adc = None
    if machine is not None and cfg.get("battery_adc") is not None:
        adc = machine.ADC(machine.Pin(cfg["battery_adc"]))

    def read():
        out = {}
        if adc is not None:
            out["battery_v"] = round(adc.read_uv() * cfg.get("battery_divider", 2) / 1e6, 2)
        try:
            import network

            out["rssi_dbm"] = network.WLAN(network.STA_IF).status("rssi")
        except Exception:  # the host, or no Wi-Fi link
            pass
        return out

    return read


def main(path="node.json"):
    make_node(load_config(path)).run()
