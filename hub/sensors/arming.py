"""Arming per area, like an alarm panel.

An area is *armed* or *disarmed*. Its mode says how that is decided:

* ``schedule`` (every area's mode until an officer sets one) — the site file's
  ``sensor_settings.arming.areas[].armed`` windows, in the site's time zone; an area with no
  windows is always armed, so a site file without arming behaves as before arming existed;
* ``armed`` / ``disarmed`` — an officer's choice from the page, until they set another
  (``schedule`` hands the area back to its windows).

Only intrusion kinds (``gated_kinds``: door, pir, glass_break ...) depend on it; an alert of
such a kind in a disarmed area is stored and logged but opens no incident (people walk
through the school gate by day). ``always_on`` kinds (panic, smoke, heat, tamper, water
leak) alarm in every area; kinds in neither list alarm as they always did.

Every change an officer makes is kept in the hub's audit log (``area.armed``,
``area.disarmed``, ``area.schedule``: who, when, which area), in the same transaction as the
change itself; the schedule's own changes are kept too (no user, "by schedule"), by
:class:`ScheduleWatch`, so the log answers "was the gate armed at 23:10?" either way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime, tzinfo

from pydantic import BaseModel

from contract.sensor_settings import ArmingSettings
from contract.siteconfig import Area
from hub.clock import Clock
from hub.periodic import PeriodicWorker
from hub.storage.repositories import Storage
from hub.storage.sensors import ArmingMode, ArmingOverride, SensorRepository

log = logging.getLogger(__name__)


class UnknownArea(KeyError):
    """An area the site file does not have (HTTP 404)."""


class AreaArmingState(BaseModel):
    """One area's arming as the page shows it."""

    area: str
    name: str
    armed: bool
    mode: ArmingMode
    has_schedule: bool
    set_by: str | None = None
    set_at: datetime | None = None


class ArmingBoard:
    """Which areas are armed, and the officers' overrides. Thread-safe: ingest asks
    :meth:`alarms` on its writer thread while the API sets modes."""

    def __init__(
        self,
        storage: Storage,
        sensors: SensorRepository,
        settings: ArmingSettings,
        areas: Sequence[Area],
        timezone: tzinfo,
        clock: Clock,
    ) -> None:
        self.storage = storage
        self.sensors = sensors
        self.timezone = timezone
        self.clock = clock
        self.areas = {a.id: a.name for a in areas}
        self.schedules = {a.area: a.armed for a in settings.areas}
        self.gated = frozenset(settings.gated_kinds)
        self.always_on = frozenset(settings.always_on)
        self._lock = threading.Lock()
        # Read on every gated alert: kept in memory, written through to storage.
        self._overrides = sensors.arming()

    def alarms(self, kind: str, area: str, at: datetime) -> bool:
        """Does an alert of ``kind`` in ``area`` at ``at`` alarm (open or join an incident)?"""
        if kind in self.always_on or kind not in self.gated:
            return True
        return self.is_armed(area, at)

    def is_armed(self, area: str, at: datetime) -> bool:
        with self._lock:
            override = self._overrides.get(area)
        return self._decide(area, override, at)

    def _decide(self, area: str, override: ArmingOverride | None, at: datetime) -> bool:
        if override is not None and override.mode is not ArmingMode.SCHEDULE:
            return override.mode is ArmingMode.ARMED
        windows = self.schedules.get(area)
        local = at.astimezone(self.timezone)
        return not windows or any(window.covers(local) for window in windows)

    def set_mode(self, area: str, mode: ArmingMode, actor: str) -> AreaArmingState:
        """An officer arms, disarms or hands ``area`` back to its schedule; audited."""
        if area not in self.areas:
            raise UnknownArea(f"no area {area!r}; known: {sorted(self.areas)}")
        now = self.clock()
        override = ArmingOverride(mode, actor, now)
        with self._lock, self.storage.transaction():
            self.sensors.set_arming(area, override)
            armed = "armed" if self._decide(area, override, now) else "disarmed"
            self.storage.audit.record(now, actor, f"area.{mode.value}", area, f"now {armed}")
            self._overrides = {**self._overrides, area: override}
        log.info("area %s set to %s by %s", area, mode.value, actor)
        return self.state(area)

    def state(self, area: str) -> AreaArmingState:
        with self._lock:
            override = self._overrides.get(area)
        return AreaArmingState(
            area=area,
            name=self.areas[area],
            armed=self.is_armed(area, self.clock()),
            mode=override.mode if override else ArmingMode.SCHEDULE,
            has_schedule=bool(self.schedules.get(area)),
            set_by=override.actor if override else None,
            set_at=override.at if override else None,
        )

    def states(self) -> list[AreaArmingState]:
        """Every area of the site, in the site file's order."""
        return [self.state(area) for area in self.areas]


class ScheduleWatch(PeriodicWorker):
    """Audits the moments an area's schedule arms or disarms it (``area.armed`` /
    ``area.disarmed`` with no user, "by schedule"). It remembers the last state it saw per
    area; the first look after a start is not a change."""

    def __init__(self, board: ArmingBoard, interval_s: float = 30.0) -> None:
        super().__init__("arming-schedule-watch", self.tick, interval_s)
        self.board = board
        self._seen: dict[str, bool] = {}
        self._overrides: dict[str, tuple] = {}  # the officers' setting at the last look

    def tick(self) -> list[str]:
        """One look (tests call it after moving their clock); returns what it audited."""
        now = self.board.clock()
        done = []
        for area in self.board.areas:
            armed = self.board.is_armed(area, now)
            before, self._seen[area] = self._seen.get(area), armed
            state = self.board.state(area)
            override = (state.mode, state.set_by, state.set_at)
            by_hand = override != self._overrides.get(area, override)
            self._overrides[area] = override
            if before is None or before == armed or by_hand:
                continue  # no change, or an officer's, audited when it was made
            action = "area.armed" if armed else "area.disarmed"
            self.board.storage.audit.record(now, None, action, area, "by schedule")
            done.append(f"{action} {area}")
            log.info("area %s %s by its schedule", area, action.removeprefix("area."))
        return done
