"""The watchlist parts wired together, for :class:`hub.service.HubService` and tests.

Everything shares the hub's SQLite file and audit log; the publisher has its own MQTT
connection; a periodic worker (clock injected, so tests call :meth:`Watchlist.step`) deletes
what expired and republishes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from contract.connection import NodeConnection
from contract.siteconfig import SiteConfig
from hub.clock import Clock
from hub.events import EventBus
from hub.periodic import PeriodicWorker
from hub.storage.repositories import Storage
from hub.storage.sqlite.watchlist import watchlist_for
from hub.watchlist.candidates import CandidateDesk
from hub.watchlist.domain import FaceDescriber, load_face_describer
from hub.watchlist.ingest import WatchlistCorrelator, WatchlistSink
from hub.watchlist.publisher import WatchlistPublisher
from hub.watchlist.service import WatchlistService
from hub.watchlist.subjects import WatchlistSubjects
from hub.watchlist.vault import PhotoVault

#: A sealed file no row names is deleted once older than this (its row may be committing).
ORPHAN_AGE = timedelta(hours=1)


class Watchlist:
    """Service, candidate desk, ingest sink, publisher and expiry worker."""

    def __init__(
        self,
        storage: Storage,
        bus: EventBus,
        config: SiteConfig,
        connection: NodeConnection,
        clock: Clock,
        incidents,  # hub.incidents.service.IncidentService
        dispatch: Callable,  # DispatchService.dispatch(incident_id, unit_id, by)
        describer: Callable[[], FaceDescriber] | None = load_face_describer,
        interval_s: float = 60.0,
    ) -> None:
        self.clock = clock
        self.repo = watchlist_for(storage)
        self.vault = PhotoVault(storage.data_dir)

        def audit(user: str | None, action: str, target: str | None, detail: str | None):
            storage.audit.record(clock(), user, action, target, detail)

        self.service = WatchlistService(self.repo, self.vault, config, clock, audit, describer)
        self.desk = CandidateDesk(
            self.repo, self.vault, storage, bus, clock, audit, incidents, dispatch
        )
        self.sink = WatchlistSink(self.repo, config)
        self.publisher = WatchlistPublisher(connection, self.service.updates)
        self.service.on_change.append(self.publisher.publish_all)
        self.subjects = WatchlistSubjects(
            self.repo,
            self.vault,
            config.watchlists.faces.match_threshold,
            config.watchlists.plates.fuzzy_min_score,
            self.service._changed,
            describer,
        )
        self.worker = PeriodicWorker("watchlist-expiry", self.step, interval_s)

    def correlator(self, inner) -> WatchlistCorrelator:
        """``inner`` (the alarm gate) with face candidates kept out of it."""
        return WatchlistCorrelator(inner, self.desk, self.repo, self.service.audit)

    def step(self) -> dict[str, int]:
        """Delete what has expired, seal crops that came first, republish if needed."""
        done = self.service.expire()
        done["candidates"] = self.desk.expire()
        done["crops"] = self.desk.claim_pending()
        done["plate_log"] = self.repo.purge_plate_log(self.clock())
        done["plate_hits"] = self.repo.purge_plate_hits()  # their alerts are gone
        # Sealed files whose row never committed (a crash between the two), after an hour.
        cutoff = (self.clock() - ORPHAN_AGE).timestamp()
        done["orphan_files"] = self.vault.sweep(self.repo.named_files(), cutoff)
        return done

    def start(self) -> None:
        self.publisher.start()  # publishes every gateway's list once connected
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
        self.publisher.stop()
