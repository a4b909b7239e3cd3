"""Zigbee2MQTT messages, read as what a VillageWatch sensor node would say.

Zigbee2MQTT publishes each device's whole state as one JSON object on
``<base>/<friendly name>`` (every property its *Exposes* list names, on every report) and its
availability on ``<base>/<friendly name>/availability``. :class:`Translator` keeps each
bridged device's last known state and turns a message into :class:`Event` s:

- an **alarm** when the device's own property *becomes* active in a live message: ``contact``
  turns false (false means OPEN: the reed switch lost its magnet), ``occupancy``,
  ``water_leak``, ``smoke`` or ``vibration`` turn true, or a panic button reports an
  ``action`` (one of the device's ``actions`` if it lists any); ``tamper`` and
  ``battery_low`` turning true alarm on every device. A property that stays active (Zigbee2MQTT
  repeats the whole state on each battery report) is not a new alarm;
- **availability**: ``{"state": "online"}`` or the legacy plain ``online``/``offline``.

A *retained* message is old news the broker replays on (re)connect: it sets the state and
never alarms. Unknown devices and malformed payloads are logged and skipped, never raised.
The translator does no I/O and reads no clock: the caller passes ``now``.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

from contract.bridge_settings import Zigbee2MqttDevice, Zigbee2MqttSettings
from contract.sensor_kinds import SENSOR_STATES

log = logging.getLogger(__name__)

#: Per device kind: the Zigbee2MQTT property that alarms and its active value; the state
#: names a heartbeat reports are the kind's (:data:`contract.sensor_kinds.SENSOR_STATES`).
#: Panic buttons alarm on ``action`` instead.
PRIMARY: dict[str, tuple[str, bool]] = {
    "door": ("contact", False),
    "window": ("contact", False),
    "pir": ("occupancy", True),
    "water_leak": ("water_leak", True),
    "smoke": ("smoke", True),
    "vibration": ("vibration", True),
}
#: Properties that alarm on any device, with the alert kind they raise.
SIDE_ALARMS = {"tamper": "tamper", "battery_low": "battery_low"}
MESSAGES = {
    "door": "door opened",
    "window": "window opened",
    "pir": "motion detected",
    "water_leak": "water leak detected",
    "smoke": "smoke detected",
    "vibration": "vibration detected",
    "tamper": "enclosure opened (tamper)",
    "battery_low": "battery low",
}


@dataclass(frozen=True)
class Event:
    """What the bridge must do for one device: ``alarm`` (an alert of ``kind``) or
    ``availability`` (``online`` true/false)."""

    device: Zigbee2MqttDevice
    type: str
    kind: str = ""
    message: str = ""
    online: bool | None = None


@dataclass
class DeviceState:
    """What the bridge knows of one device (for alarms by transition, and heartbeats)."""

    values: dict[str, object] = field(default_factory=dict)
    state: str | None = None
    state_since: datetime | None = None
    available: bool | None = None
    seen: bool = False

    @property
    def battery_pct(self) -> float | None:
        value = self.values.get("battery")
        return float(value) if _number(value) and 0 <= value <= 100 else None

    @property
    def battery_v(self) -> float | None:
        value = self.values.get("voltage")  # Zigbee2MQTT reports millivolts
        return round(value / 1000, 3) if _number(value) and 0 <= value <= 60_000 else None

    @property
    def tamper(self) -> bool | None:
        value = self.values.get("tamper")
        return value if isinstance(value, bool) else None


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


#: Each known property and the check its value must pass (others are kept as they come).
_CHECKS = {
    "contact": lambda v: isinstance(v, bool),
    "occupancy": lambda v: isinstance(v, bool),
    "water_leak": lambda v: isinstance(v, bool),
    "smoke": lambda v: isinstance(v, bool),
    "vibration": lambda v: isinstance(v, bool),
    "tamper": lambda v: isinstance(v, bool),
    "battery_low": lambda v: isinstance(v, bool),
    "battery": lambda v: _number(v) and 0 <= v <= 100,
    "voltage": lambda v: _number(v) and 0 <= v <= 60_000,
    "action": lambda v: isinstance(v, str) and len(v) <= 64,
}


class Translator:
    """Zigbee2MQTT topics and payloads in, :class:`Event` s out, one device state each."""

    def __init__(self, settings: Zigbee2MqttSettings) -> None:
        self.base = settings.base_topic.rstrip("/")
        self.devices = {d.friendly_name: d for d in settings.devices}
        self.states = {d.node: DeviceState() for d in settings.devices}
        self.ignored: dict[str, int] = {}  # unknown friendly names, counted (logged once)
        #: Nodes whose state changed since the caller last looked (it saves them).
        self.changed: set[str] = set()

    def subscriptions(self) -> list[str]:
        """The topic filters to read: each bridged device's state and availability."""
        out = []
        for name in self.devices:
            out += [f"{self.base}/{name}", f"{self.base}/{name}/availability"]
        return out

    def restore(self, node: str, state: str, since: datetime) -> None:
        """Start from a state saved before a restart (so a door still open is not news)."""
        if node in self.states:
            self.states[node].state, self.states[node].state_since = state, since

    def handle(self, topic: str, payload: bytes, retained: bool, now: datetime) -> list[Event]:
        """The events of one message; never raises on what Zigbee2MQTT (or anyone) sends."""
        if not topic.startswith(self.base + "/"):
            return []
        name = topic[len(self.base) + 1 :]
        availability = name.endswith("/availability")
        if availability:
            name = name.removesuffix("/availability")
        device = self.devices.get(name)
        if device is None:
            self._ignore(name)
            return []
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            log.warning("zigbee2mqtt %s: payload is not UTF-8; ignored", topic)
            return []
        if availability:
            return self._availability(device, text.strip(), topic)
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            log.warning("zigbee2mqtt %s: payload is not JSON; ignored", topic)
            return []
        if not isinstance(data, dict):
            log.warning("zigbee2mqtt %s: payload is not a JSON object; ignored", topic)
            return []
        return self._state(device, data, retained, now)

    def _ignore(self, name: str) -> None:
        if name not in self.ignored:
            log.info("zigbee2mqtt: device %r is not in the site file; ignored", name)
        self.ignored[name] = self.ignored.get(name, 0) + 1

    def _availability(self, device: Zigbee2MqttDevice, text: str, topic: str) -> list[Event]:
        state: object = text
        if text.startswith("{"):
            try:
                state = json.loads(text).get("state")
            except (ValueError, AttributeError, RecursionError):
                state = None
        if state not in ("online", "offline"):
            log.warning("zigbee2mqtt %s: availability %r not understood; ignored", topic, text)
            return []
        online = state == "online"
        current = self.states[device.node]
        if current.available == online:
            return []
        current.available = online
        return [Event(device, "availability", online=online)]

    def _state(
        self, device: Zigbee2MqttDevice, data: dict, retained: bool, now: datetime
    ) -> list[Event]:
        current = self.states[device.node]
        previous = dict(current.values)
        for key, value in data.items():
            check = _CHECKS.get(key)
            if check is not None and not check(value):
                name = device.friendly_name
                log.warning("zigbee2mqtt %s: %s=%r is not valid; ignored", name, key, value)
                continue
            current.values[key] = value
        current.seen = True
        events = self._primary(device, current, retained, now)
        for key, kind in SIDE_ALARMS.items():
            if current.values.get(key) is True and previous.get(key) is not True and not retained:
                events.append(Event(device, "alarm", kind=kind, message=MESSAGES[kind]))
        return events

    def _primary(
        self, device: Zigbee2MqttDevice, current: DeviceState, retained: bool, now: datetime
    ) -> list[Event]:
        if device.kind == "panic_button":
            action = current.values.pop("action", None)  # an event, not a state
            wanted = not device.actions or action in device.actions
            if action and wanted and not retained:
                return [Event(device, "alarm", kind="panic_button", message=f"button: {action}")]
            return []
        prop, active_value = PRIMARY[device.kind]
        inactive, active = SENSOR_STATES[device.kind]
        value = current.values.get(prop)
        if not isinstance(value, bool):
            return []
        state = active if value is active_value else inactive
        if state == current.state:
            return []  # repeated with a battery report: not news
        was = current.state
        current.state, current.state_since = state, now
        self.changed.add(device.node)
        if state == active and not retained and was != active:
            return [Event(device, "alarm", kind=device.kind, message=MESSAGES[device.kind])]
        return []
