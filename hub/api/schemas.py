"""Request and response bodies of the hub API (they also document it in OpenAPI)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from hub.accounts import USERNAME_PATTERN, Role


class LoginRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class LoginResponse(BaseModel):
    token: str = Field(description="bearer token; the same session is also set as a cookie")
    username: str
    role: Role
    expires_at: str


class Me(BaseModel):
    username: str
    role: Role


class AreaOut(BaseModel):
    id: str
    name: str


class SiteOut(BaseModel):
    id: str
    name: str
    timezone: str
    areas: list[AreaOut]


class AlertOut(BaseModel):
    id: str
    site: str
    node: str
    seq: int
    ts: str = Field(description="event time (UTC, ISO 8601)")
    received_at: str
    kind: str
    severity: str
    area: str
    zone: str | None
    camera: str | None
    message: str
    objects: list[dict]
    frame_size: list[int] | None
    has_snapshot: bool = Field(description="the node said a snapshot follows")
    snapshot_url: str | None = Field(description="set once the snapshot has arrived")


class NodeStatsOut(BaseModel):
    ts: str
    uptime_s: float
    outbox_pending: int
    cameras: dict[str, dict]


class NodeOut(BaseModel):
    site: str
    node: str
    state: str | None = Field(description="online, offline, or null if never reported")
    role: str | None
    software: str
    ts: str | None
    received_at: str | None
    last_seq: int | None
    seq_gaps: int
    stats: NodeStatsOut | None


class StatsOut(BaseModel):
    alerts_received: int
    alerts_stored: int
    duplicates: int
    seq_gaps: int = Field(description="alerts still missing (late arrivals fill gaps)")
    seq_gaps_seen: int = Field(description="gaps ever detected; never goes down")
    snapshots: int
    snapshot_duplicates: int
    quarantined: dict[str, int]
    live_subscribers: int


class QuarantineOut(BaseModel):
    id: int
    received_at: str
    topic: str
    reason: str
    detail: str
    size: int
    excerpt: str = Field(description="first KiB of the payload, undecodable bytes escaped")


class NewUser(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    role: Role = Role.VIEWER


class CreatedUser(BaseModel):
    username: str
    role: Role
    password: str = Field(description="generated; shown only in this response")


class UserOut(BaseModel):
    username: str
    role: Role
    created_at: str


class AuditOut(BaseModel):
    id: int
    ts: str
    username: str | None
    action: str
    target: str | None
    detail: str | None
