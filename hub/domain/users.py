"""Hub users, their roles, and the audit trail of what they saw and did."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,31}$"


class Role(StrEnum):
    """What a hub user may do. The people's roles form a ladder, each including the ones
    before it; ``integration`` (another system opening incidents) stands apart."""

    VIEWER = "viewer"  # read alerts, incidents, snapshots and node status
    PATROL = "patrol"  # + its own unit: take orders, step its assignments, send positions
    OFFICER = "officer"  # + act on incidents (acknowledge, dispatch, resolve, notes, calls)
    SUPERVISOR = "supervisor"  # + the escalation tier above the duty desk; reports
    ADMIN = "admin"  # + users, quarantine, audit
    INTEGRATION = "integration"  # only: open external incidents through the API

    def includes(self, other: Role) -> bool:
        if Role.INTEGRATION in (self, other):
            return self is other
        ladder = [Role.VIEWER, Role.PATROL, Role.OFFICER, Role.SUPERVISOR, Role.ADMIN]
        return ladder.index(self) >= ladder.index(other)


class User(BaseModel):
    model_config = ConfigDict(frozen=True)

    username: str
    role: Role
    disabled: bool = False
    created_at: datetime | None = None


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    ts: datetime
    username: str | None
    action: str
    target: str | None
    detail: str | None


class QuarantinedMessage(BaseModel):
    """A refused MQTT message: enough to diagnose, never the whole payload."""

    model_config = ConfigDict(frozen=True)

    id: int
    received_at: datetime
    topic: str
    reason: str
    detail: str
    size: int
    excerpt: str  # first KiB, undecodable bytes escaped
