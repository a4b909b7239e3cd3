"""Sensor kinds, their default severities and the states each kind reports, defined once.

A heartbeat's ``state`` (:class:`contract.protocol.Heartbeat`) names where the sensor's
input is, in the words of its kind: a door is ``closed`` or ``open``, a leak sensor ``dry``
or ``wet``. Everything that reads or writes those words takes them from here: the
Zigbee2MQTT bridge, Home Assistant discovery (which states are "on") and the stuck-sensor
rules. The firmware (MicroPython, which cannot import this package) carries the same pairs
in its node types; a test holds them equal.
"""

from __future__ import annotations

from typing import Literal

from contract.protocol import Severity

SensorKind = Literal[
    "door",
    "window",
    "pir",
    "glass_break",
    "panic_button",
    "smoke",
    "heat",
    "water_leak",
    "vibration",
]

#: Per kind: (inactive, active) state.
SENSOR_STATES: dict[str, tuple[str, str]] = {
    "door": ("closed", "open"),
    "window": ("closed", "open"),
    "pir": ("clear", "motion"),
    "glass_break": ("normal", "alarm"),
    "panic_button": ("idle", "pressed"),
    "smoke": ("normal", "alarm"),
    "heat": ("normal", "alarm"),
    "water_leak": ("dry", "wet"),
    "vibration": ("still", "shaking"),
}
#: Every state that means "the sensor is tripped".
ACTIVE_STATES = frozenset(active for _inactive, active in SENSOR_STATES.values())

#: A sensor's severity when the site file gives none: life safety is critical, a fence that
#: shakes in the wind is minor. The firmware's node types carry the same defaults.
DEFAULT_SENSOR_SEVERITY: dict[str, Severity] = {
    "panic_button": Severity.CRITICAL,
    "smoke": Severity.CRITICAL,
    "heat": Severity.CRITICAL,
    "vibration": Severity.MINOR,
}
