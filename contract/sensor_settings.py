"""How the hub treats sensor nodes, as the site file writes it (``sensor_settings:``).

Three sections, each its own model with unknown keys refused:

* ``health`` — when a node counts as offline (missed heartbeats), when its battery is low
  (charge, voltage, or the days left its voltage trend gives) and when a sensor is stuck in
  one state (a door contact open for three days);
* ``arming`` — which alert kinds an area's arming gates (a door opening in a disarmed area is
  stored, not alarmed), which are always on (panic, smoke ...), and each area's schedule;
* ``confirm`` — "two sensors agree" rules: in these areas an alarm needs two sensors, or a
  sensor and a camera, within a window.

The hub acts on these in :mod:`hub.sensors`; this module only describes and validates them,
so the ``check`` command reports a mistake with the field path and the fix. Which areas
exist is checked against the site's ``areas`` when the hub starts
(:func:`check_sensor_areas`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.protocol import ID_PATTERN, KIND_PATTERN
from contract.rule_settings import Schedule
from contract.sensor_kinds import SENSOR_STATES

Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
Kind = Annotated[str, Field(pattern=KIND_PATTERN)]

#: Intrusion sensors: an area's arming decides whether these alarm.
GATED_KINDS = ("door", "window", "pir", "motion", "vibration", "glass_break")
#: Life safety and sabotage: these alarm whatever the arming says.
ALWAYS_ON_KINDS = ("panic", "panic_button", "smoke", "heat", "tamper", "water_leak")
DAY_S = 86_400.0


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unique_areas(path: str, areas: list[str]) -> None:
    dupes = sorted({a for a in areas if areas.count(a) > 1})
    if dupes:
        raise ValueError(f"{path}: one entry per area; repeated: {dupes}")


class StuckRule(_Section):
    """A sensor of ``kind`` reporting ``state`` for ``after_h`` hours is stuck (or forgotten:
    a door left open) and opens a maintenance incident."""

    kind: Kind = Field(description="the sensor kind in the site file's sensors: door, pir ...")
    state: Kind = Field(description="the heartbeat's state: open, wet, active ...")
    after_h: float = Field(gt=0, le=24 * 365, description="hours in that state before it counts")

    @model_validator(mode="after")
    def _a_state_of_its_kind(self) -> StuckRule:
        states = SENSOR_STATES.get(self.kind)
        if states is not None and self.state not in states:
            raise ValueError(
                f"a {self.kind} reports {' or '.join(states)}, never {self.state!r}: "
                f"use one of those (contract/sensor_kinds.py)"
            )
        return self


def _default_stuck() -> list[StuckRule]:
    return [
        StuckRule(kind="door", state="open", after_h=72),
        StuckRule(kind="window", state="open", after_h=72),
        StuckRule(kind="water_leak", state="wet", after_h=24),
    ]


class SensorHealthSettings(_Section):
    missed_heartbeats: int = Field(
        3, ge=2, le=100, description="a node this many heartbeat intervals silent is offline"
    )
    check_interval_s: float = Field(
        5, ge=0.5, le=300, description="how often the hub looks for silent nodes"
    )
    low_battery_pct: float = Field(15, ge=0, le=100, description="charge at or below is low")
    low_battery_v: float | None = Field(
        None, ge=0, le=60, description="voltage at or below is low (none: charge and trend only)"
    )
    cutoff_v: float = Field(
        2.4, ge=0, le=60, description="the voltage the node browns out at: days left count to it"
    )
    warn_days_left: float = Field(
        14, ge=0, le=3650, description="a battery whose trend reaches cutoff_v this soon is low"
    )
    trend_min_hours: float = Field(
        6, ge=0, le=24 * 90, description="history needed before the trend gives days left"
    )
    history_days: float = Field(
        60, ge=1, le=3650, description="battery readings older than this are dropped"
    )
    history_max: int = Field(
        2000, ge=10, le=100_000, description="battery readings kept per node at most"
    )
    stuck: list[StuckRule] = Field(default_factory=_default_stuck)

    @model_validator(mode="after")
    def _one_rule_per_state(self) -> SensorHealthSettings:
        pairs = [(r.kind, r.state) for r in self.stuck]
        dupes = sorted({f"{k}/{s}" for k, s in pairs if pairs.count((k, s)) > 1})
        if dupes:
            raise ValueError(f"one stuck rule per kind and state; repeated: {dupes}")
        return self


class AreaArming(_Section):
    """An area armed by schedule: armed inside any of ``armed`` (site-local time), disarmed
    outside. An officer may override it from the page (arm, disarm, back to schedule)."""

    area: Identifier
    armed: list[Schedule] = Field(
        default_factory=list, description="windows the area is armed in; none: always armed"
    )


class ArmingSettings(_Section):
    gated_kinds: list[Kind] = Field(
        default_factory=lambda: list(GATED_KINDS),
        description="alert kinds that alarm only in an armed area (the rest always alarm)",
    )
    always_on: list[Kind] = Field(
        default_factory=lambda: list(ALWAYS_ON_KINDS),
        description="alert kinds that alarm in every area, armed or not",
    )
    areas: list[AreaArming] = Field(
        default_factory=list, description="schedules per area; an area not listed is armed"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ArmingSettings:
        both = sorted(set(self.gated_kinds) & set(self.always_on))
        if both:
            raise ValueError(f"kinds cannot be both gated and always on: {both}")
        _unique_areas("arming.areas", [a.area for a in self.areas])
        return self


class ConfirmRule(_Section):
    """ "Two sensors agree": in ``area``, an alert of one of ``kinds`` is stored but alarms
    only when a second one comes within ``window_s`` — from another sensor
    (``two_sensors``), or one from a camera and one from a sensor (``sensor_and_camera``)."""

    area: Identifier
    needs: Literal["two_sensors", "sensor_and_camera"] = "two_sensors"
    window_s: float = Field(60, ge=1, le=3600, description="the second must come this soon")
    kinds: list[Kind] = Field(
        default_factory=lambda: [*GATED_KINDS, "intrusion"],
        min_length=1,
        description="alert kinds the rule holds back (always-on kinds are never held)",
    )


class SensorSettings(_Section):
    health: SensorHealthSettings = SensorHealthSettings()
    arming: ArmingSettings = ArmingSettings()
    confirm: list[ConfirmRule] = Field(default_factory=list, description="one rule per area")

    @model_validator(mode="after")
    def _one_rule_per_area(self) -> SensorSettings:
        _unique_areas("confirm", [r.area for r in self.confirm])
        held = sorted({k for r in self.confirm for k in r.kinds} & set(self.arming.always_on))
        if held:
            raise ValueError(f"confirm rules cannot hold back always-on kinds: {held}")
        return self

    def areas_named(self) -> list[tuple[str, str]]:
        """(field path, area id) of every area these settings name."""
        named = [(f"arming.areas[{i}].area", a.area) for i, a in enumerate(self.arming.areas)]
        return named + [(f"confirm[{i}].area", r.area) for i, r in enumerate(self.confirm)]


def check_sensor_areas(settings: SensorSettings, known: Collection[str]) -> None:
    """Raise ValueError naming the field of an area the site does not have."""
    for path, area in settings.areas_named():
        if area not in known:
            msg = f"sensor_settings.{path} names area {area!r}; known: {sorted(known)}"
            raise ValueError(msg)
