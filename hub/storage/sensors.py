"""The sensor repository interface (implemented in :mod:`hub.storage.sqlite.sensors`).

What the hub keeps about sensor nodes beyond their alerts: each node's *latest* heartbeat
(:class:`HeartbeatRecord`), a bounded history of battery voltages (the trend that gives
"days left"), and each area's arming mode as an officer last set it. Every write joins the
caller's ``storage.transaction()`` when there is one (ingest stores a heartbeat in its batch).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict

from contract.protocol import Heartbeat


class HeartbeatRecord(BaseModel):
    """A node's latest heartbeat as the hub received it."""

    model_config = ConfigDict(frozen=True)

    site: str
    node: str
    received_at: datetime
    heartbeat: Heartbeat
    #: Troubles reported for the node (an incident opened) and not cleared since:
    #: ``node_offline``, ``battery_low``, ``sensor_stuck``, ``tamper``.
    troubles: frozenset[str] = frozenset()

    @property
    def due_by(self) -> datetime:
        """When the next heartbeat should have come (one interval after this one)."""
        return self.received_at + timedelta(seconds=self.heartbeat.interval_s)


class BatteryReading(NamedTuple):
    at: datetime
    volts: float


class ArmingMode(StrEnum):
    """What an officer set for an area: armed or disarmed until changed, or back to the
    site file's schedule (``schedule``, also every area's mode until someone sets one)."""

    ARMED = "armed"
    DISARMED = "disarmed"
    SCHEDULE = "schedule"


class ArmingOverride(NamedTuple):
    mode: ArmingMode
    actor: str
    at: datetime


class SensorRepository(Protocol):
    def record_heartbeat(
        self, heartbeat: Heartbeat, received_at: datetime
    ) -> HeartbeatRecord | None:
        """Keep ``heartbeat`` as its node's latest; returns the one it replaced (None for a
        node's first)."""

    def set_troubles(self, site: str, node: str, troubles: frozenset[str]) -> None:
        """Keep which troubles are reported for a node (it has a heartbeat stored)."""

    def latest(self) -> list[HeartbeatRecord]:
        """Every node's latest heartbeat, by site and node."""

    def get(self, site: str, node: str) -> HeartbeatRecord | None: ...

    def add_battery(
        self, site: str, node: str, reading: BatteryReading, keep_after: datetime, keep: int
    ) -> None:
        """Add a reading; drop the node's readings before ``keep_after`` and all but its
        newest ``keep`` (the history stays bounded however long a node lives)."""

    def battery_history(self, site: str, node: str) -> list[BatteryReading]:
        """Oldest first."""

    def clear_battery(self, site: str, node: str) -> None:
        """Forget a node's readings (its battery was replaced: the old trend means nothing)."""

    def purge(self, before: datetime) -> dict[str, int]:
        """Forget heartbeats last received before ``before`` and older battery readings."""
        ...

    def set_arming(self, area: str, override: ArmingOverride) -> None: ...

    def arming(self) -> dict[str, ArmingOverride]:
        """Each area's last override, by area id (areas never set are absent)."""
