"""The storage interfaces of the hub, one per aggregate, and the bundle of them.

Services and the API depend on these protocols only. :mod:`hub.storage.sqlite` implements
each on SQLite; another backend implements the same methods and returns a :class:`Storage`.
Every write method commits before it returns unless it runs inside
:meth:`Storage.transaction`, which makes several writes (an alert and its incident) one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from contract.protocol import Alert, NodeStats, NodeStatus
from hub.domain.alerts import AlertInsert, AlertPage, AlertQuery, AlertRecord
from hub.domain.nodes import NodeState, StatusChange
from hub.domain.users import AuditEntry, QuarantinedMessage, Role, User

if TYPE_CHECKING:  # their own modules, beside this one
    from hub.storage.incidents import IncidentRepository
    from hub.storage.notifications import NotificationRepository, PushSubscriptionRepository
    from hub.storage.units import AssignmentRepository, UnitRepository


class AlertRepository(Protocol):
    def insert(self, alert: Alert, received_at: datetime) -> AlertInsert:
        """Store a new alert (and link a snapshot that came first); a known id is a duplicate."""

    def known_ids(self, alert_ids: list[str]) -> dict[str, bool]:
        """Which of these ids are stored already, each with whether its snapshot is stored
        too (one read: duplicates cost no write)."""

    def insert_many(self, records: Sequence[AlertRecord]) -> list[AlertInsert]:
        """insert() for new alerts with distinct ids, in one go (all or none), each as its
        record says (received time, incident). A record whose snapshot came first comes
        back with ``snapshot_ready``."""

    def get(self, alert_id: str) -> AlertRecord | None: ...

    def find(self, query: AlertQuery) -> AlertPage: ...

    def ids(self) -> list[str]:
        """Every stored alert id, oldest received first."""

    def count(self) -> int: ...

    def set_incident(self, alert_id: str, incident_id: str) -> None: ...

    def for_incident(self, incident_id: str) -> list[AlertRecord]: ...

    def save_snapshot(
        self, site: str, node: str, alert_id: str, jpeg: bytes, received_at: datetime
    ) -> str:
        """``"linked"``, ``"pending"`` (alert not here yet) or ``"duplicate"``; raises
        ProtocolError ``node_mismatch`` if the alert belongs to another node."""

    def snapshot_file(self, alert_id: str) -> Path | None: ...

    def pending_snapshot_ids(self) -> list[str]: ...

    def purge(self, received_before: datetime, pending_before: datetime) -> dict[str, int]: ...


class NodeRepository(Protocol):
    def record_status(self, status: NodeStatus, received_at: datetime) -> bool:
        """Keep a node's state; True when it changed (a history row was added)."""

    def record_stats(self, stats: NodeStats, received_at: datetime) -> None: ...

    def all(self) -> list[NodeState]: ...

    def get(self, site: str, node: str) -> NodeState | None: ...

    def status_history(self, site: str, node: str) -> list[StatusChange]: ...

    def total_seq_gaps(self) -> int: ...

    def purge(self, received_before: datetime) -> dict[str, int]: ...


class UserRepository(Protocol):
    def create(self, username: str, role: Role, password_hash: str, at: datetime) -> User:
        """Raises KeyError if the user exists."""

    def get(self, username: str) -> User | None: ...

    def all(self) -> list[User]: ...

    def password_hash(self, username: str) -> str | None: ...

    def set_password_hash(self, username: str, password_hash: str) -> None: ...

    def set_disabled(self, username: str, disabled: bool) -> None: ...

    def with_role(self, roles: tuple[Role, ...]) -> list[User]: ...


class SessionRepository(Protocol):
    def open(self, token_hash: str, username: str, at: datetime, expires: datetime) -> None: ...

    def user(self, token_hash: str, now: datetime) -> User | None:
        """The enabled user of a live session, or None."""

    def expiry(self, token_hash: str) -> datetime | None: ...

    def touch(self, token_hash: str, expires: datetime) -> None:
        """Slide a session's expiry forward (activity)."""

    def close(self, token_hash: str) -> None: ...

    def close_all(self, username: str) -> int: ...

    def purge(self, now: datetime) -> dict[str, int]: ...


class AuditLog(Protocol):
    def record(
        self,
        at: datetime,
        username: str | None,
        action: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> None: ...

    def entries(
        self, limit: int = 200, action: str | None = None, target: str | None = None
    ) -> list[AuditEntry]:
        """Newest first."""

    def purge(self, before: datetime) -> dict[str, int]: ...


class QuarantineRepository(Protocol):
    def add(self, at: datetime, topic: str, reason: str, detail: str, payload: bytes) -> None: ...

    def entries(self, limit: int = 100) -> list[QuarantinedMessage]: ...

    def purge(self, before: datetime) -> dict[str, int]: ...


class Counters(Protocol):
    """Monotonic counters (alerts, duplicates, quarantined.<reason> ...); survive purges."""

    def bump(self, name: str, by: int = 1) -> None: ...

    def all(self) -> dict[str, int]: ...


@dataclass
class Storage:
    """One repository per aggregate, all over one backend (see :mod:`hub.storage.sqlite`)."""

    alerts: AlertRepository
    nodes: NodeRepository
    users: UserRepository
    sessions: SessionRepository
    audit: AuditLog
    quarantine: QuarantineRepository
    counters: Counters
    incidents: IncidentRepository
    notifications: NotificationRepository
    push_subscriptions: PushSubscriptionRepository
    units: UnitRepository
    assignments: AssignmentRepository
    #: ``with storage.transaction():`` makes the writes inside one commit.
    transaction: Callable[[], AbstractContextManager[Any]]
    close: Callable[[], None]
    data_dir: Path
