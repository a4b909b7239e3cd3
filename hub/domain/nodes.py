"""What the hub knows about each node (gateways, sensors, the hub itself)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from contract.protocol import CameraStats


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class NodeStatsRecord(_Record):
    ts: datetime
    uptime_s: float
    outbox_pending: int
    cameras: dict[str, CameraStats]


class NodeState(_Record):
    site: str
    node: str
    state: str | None = Field(None, description="online, offline, or null if never reported")
    role: str | None = None
    software: str = ""
    ts: datetime | None = None
    received_at: datetime | None = None
    last_seq: int | None = None
    seq_gaps: int = Field(0, description="alerts still missing (late arrivals fill gaps)")
    stats: NodeStatsRecord | None = None


class StatusChange(_Record):
    state: str
    role: str
    ts: datetime | None
    received_at: datetime
