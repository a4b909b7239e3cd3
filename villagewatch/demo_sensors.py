"""The demo's sensor nodes: the real firmware of each configured kind, on simulated pins
that a scripted "visitor" trips now and then.

Each configured sensor runs its own node type (``firmware_stubs.node_types``) with its kind,
area and severity from the site file, so the demo shows what a fleet of them does: a door
opening, a PIR seeing someone on the plaza (where a camera can verify it), a long press of a
panic button, a shaking fence. The visitor drives each input the way the real sensor's
output moves: past the debounce, a long press for the panic button, several shakes for the
fence. The nodes heartbeat every 30 s with a simulated battery that drains slowly and a
Wi-Fi signal that wanders, so the hub's health view has something to show; one node has its
enclosure opened once (``tamper_at_s``).
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

from contract.connection import NodeConnection
from contract.siteconfig import SensorNode
from firmware_stubs.host_pins import SimulatedPin
from firmware_stubs.node_types import NODE_TYPES, make_node

#: Seconds between one visitor and the next, per kind: life-safety alarms are rare.
INTERVAL_S = {"panic_button": (90, 180), "smoke": (120, 240), "heat": (120, 240)}
DEFAULT_INTERVAL_S = (30, 75)
STEP_S = 0.05
HEARTBEAT_S = 30


def trip_pattern(kind: str) -> list[tuple[float, bool]]:
    """(seconds after the visitor arrives, input active?) for one trip of a ``kind`` node."""
    cls = NODE_TYPES[kind]
    pulses = getattr(cls, "PULSES", 1)
    if pulses > 1:  # a few shakes, 0.3 s apart: within the node's window
        return [(i * 0.3 + half * 0.15, not half) for i in range(pulses) for half in (0, 1)]
    hold_s = (cls.DEBOUNCE_MS + getattr(cls, "LONG_PRESS_MS", 0)) / 1000 + 0.5
    return [(0.0, True), (max(hold_s, 2.0), False)]


class SimulatedSensor:
    """One sensor node of the configured kind in a thread, tripped now and then."""

    def __init__(
        self,
        conn: NodeConnection,
        sensor: SensorNode,
        state_dir: Path,
        first_s: float = 6.0,
        seed: int = 7,
        tamper_at_s: float | None = None,
    ) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        cfg = {
            **conn.model_dump(mode="json"),
            "kind": sensor.kind,
            "severity": str(sensor.severity),
            "area": sensor.area,
            "heartbeat_s": HEARTBEAT_S,
        }
        self.kind = sensor.kind
        self.active = NODE_TYPES[sensor.kind].ACTIVE
        self.pin = SimulatedPin(1 - self.active)
        self.random = random.Random(f"{seed}-{sensor.node}")
        self.battery_v = self.random.uniform(2.7, 3.1)  # two AA cells, part used
        self.tamper = SimulatedPin(0)
        self.node = make_node(cfg, self.pin, self.tamper, str(state_dir), health=self._health)
        self.first_s, self.tamper_at_s = first_s, tamper_at_s
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"sensor-{conn.node}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)

    def _health(self) -> dict:
        """What a board's ADC and Wi-Fi would read: a slow drain (faster than real, so a
        demo shows a trend) and a signal that wanders."""
        self.battery_v = max(self.battery_v - 0.002, 2.0)
        pct = min(100.0, max(0.0, (self.battery_v - 2.2) / (3.1 - 2.2) * 100))
        return {
            "battery_v": round(self.battery_v, 3),
            "battery_pct": round(pct, 1),
            "rssi_dbm": self.random.randint(-82, -55),
        }

    def _run(self) -> None:
        pattern = trip_pattern(self.kind)
        low, high = INTERVAL_S.get(self.kind, DEFAULT_INTERVAL_S)
        visit_at, elapsed = self.first_s, 0.0
        while not self.stop_event.is_set():
            since = elapsed - visit_at
            steps = [active for at, active in pattern if at <= since]
            if steps:
                self.pin.value(self.active if steps[-1] else 1 - self.active)
            if since > pattern[-1][0]:
                visit_at = elapsed + self.random.uniform(low, high)
            if self.tamper_at_s is not None:  # the lid open for 10 s, once
                self.tamper.value(int(self.tamper_at_s <= elapsed < self.tamper_at_s + 10))
            self.node.poll()
            self.node.flush()
            self.stop_event.wait(STEP_S)
            elapsed += STEP_S
        self.node.shutdown()
