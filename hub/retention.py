"""Retention: each kind of record is deleted once older than its configured lifetime.

The site file sets ``hub.retention_days`` (the default for every kind) and may set a
lifetime per kind under ``hub.retention`` (``alerts_days``, ``audit_days``,
``quarantine_days``, ``notifications_days``, ``node_history_days``): a village may keep
alerts and their snapshots 30 days but the audit log a year. ``snapshots_days``, when
shorter than the alerts', drops the photos sooner and keeps the alert rows (a photo shows
people; the row says only what happened). The watchlist's own records (plate log, match
crops) carry their own expiry and go with its purger in ``also``; the privacy page
(:mod:`hub.privacy.summary`) lists every kind and its lifetime. Ages are measured on the hub's
clock (when it received a thing), never a node's. Snapshots whose alert never came go after
an hour, files included; files no row names at all (a write whose commit never came) go
after an hour too; expired sessions go at once. Patrol units' positions are kept
``hub.dispatch.positions_days`` (7 by default).

:class:`RetentionWorker` purges in the background: once at start, then every
``interval_s``. :meth:`RetentionWorker.tick` is one purge, for tests on a ManualClock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.clock import Clock, system_clock
from hub.periodic import PeriodicWorker
from hub.privacy.snapshots import drop_snapshots
from hub.storage.repositories import Storage

log = logging.getLogger(__name__)

#: A snapshot whose alert has not arrived after this long is dropped.
PENDING_SNAPSHOT_MAX_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class Lifetimes:
    """Days each kind of record is kept."""

    alerts: float = 30
    audit: float = 30
    quarantine: float = 30
    notifications: float = 30
    node_history: float = 30
    #: Patrol units' tracks: ``hub.dispatch.positions_days`` (where people drove is personal).
    positions: float = 7
    #: Alert snapshots, when kept shorter than their alerts (None: as long as the alert).
    snapshots: float | None = None

    @property
    def snapshot_days(self) -> float:
        """How long a snapshot is really kept: never longer than its alert."""
        return self.alerts if self.snapshots is None else min(self.snapshots, self.alerts)

    @classmethod
    def from_settings(cls, hub: object) -> Lifetimes:
        """From the site file's ``hub`` section: ``retention.<kind>_days`` where given,
        else ``retention_days``."""
        default = hub.retention_days
        per_kind = getattr(hub, "retention", None)

        def days(kind: str) -> float:
            value = getattr(per_kind, f"{kind}_days", None) if per_kind is not None else None
            return default if value is None else value

        kinds = {kind: days(kind) for kind in cls.__dataclass_fields__ if kind not in _OWN}
        dispatch = getattr(hub, "dispatch", None)
        return cls(
            **kinds,
            positions=dispatch.positions_days if dispatch else cls.positions,
            snapshots=getattr(per_kind, "snapshots_days", None),
        )

    @classmethod
    def uniform(cls, days: float) -> Lifetimes:
        """``days`` for every kind that ``retention_days`` covers (tracks have their own)."""
        return cls(**dict.fromkeys(set(cls.__dataclass_fields__) - _OWN, days))


#: Kinds ``retention_days`` does not set: each has its own setting or follows another kind.
_OWN = frozenset({"positions", "snapshots"})


#: ``now -> counts``: deletes files no row names (see :mod:`hub.storage.sqlite.orphans`).
Sweeper = Callable[[datetime], dict[str, int]]
#: ``(lifetimes, now) -> counts``: a part's own records outside :class:`Storage` (sensor
#: heartbeats), purged with the rest.
Purger = Callable[[Lifetimes, datetime], dict[str, int]]


def purge(
    storage: Storage,
    lifetimes: Lifetimes | float,
    clock: Clock = system_clock,
    sweep: Sweeper | None = None,
    also: Sequence[Purger] = (),
) -> dict[str, int]:
    """Delete what has outlived its lifetime (``also``: other parts' records), then files no
    row names (with ``sweep``); returns how many of each were deleted. A plain number is one
    lifetime for every kind."""
    if not isinstance(lifetimes, Lifetimes):
        lifetimes = Lifetimes.uniform(lifetimes)
    now = clock()

    def cutoff(days: float):
        return now - timedelta(days=days)

    counts: dict[str, int] = {}
    counts |= storage.alerts.purge(cutoff(lifetimes.alerts), now - PENDING_SNAPSHOT_MAX_AGE)
    if lifetimes.snapshot_days < lifetimes.alerts:
        counts |= drop_snapshots(storage, cutoff(lifetimes.snapshot_days))
    counts |= storage.nodes.purge(cutoff(lifetimes.node_history))
    counts |= storage.quarantine.purge(cutoff(lifetimes.quarantine))
    counts |= storage.audit.purge(cutoff(lifetimes.audit))
    counts |= storage.notifications.purge(cutoff(lifetimes.notifications))
    counts |= storage.sessions.purge(now)
    counts |= storage.units.purge_positions(cutoff(lifetimes.positions))
    for purger in also:
        counts |= purger(lifetimes, now)
    if sweep is not None:
        counts |= sweep(now)
    if any(counts.values()):
        log.info("retention purge (%s): %s", lifetimes, counts)
    return counts


class RetentionWorker(PeriodicWorker):
    """Purges once at start and then every ``interval_s`` seconds, on its own thread."""

    def __init__(
        self,
        storage: Storage,
        lifetimes: Lifetimes | float,
        interval_s: float = 3600.0,
        clock: Clock = system_clock,
        sweep: Sweeper | None = None,
        also: Sequence[Purger] = (),
    ) -> None:
        super().__init__("hub-retention", self.tick, interval_s)
        self.also = also
        self.storage = storage
        self.lifetimes = (
            lifetimes if isinstance(lifetimes, Lifetimes) else Lifetimes.uniform(lifetimes)
        )
        self.clock = clock
        self.sweep = sweep

    def tick(self) -> dict[str, int]:
        """One purge now. A locked or full disk must not end retention for good: the error
        is logged and the next tick tries again."""
        try:
            return purge(self.storage, self.lifetimes, self.clock, self.sweep, self.also)
        except Exception:
            log.exception("retention purge failed; retrying in %.0f s", self.interval_s)
            return {}
