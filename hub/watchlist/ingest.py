"""Watchlist alerts at ingest: plate hits alarm, face hits wait, plate reads are logged.

* ``watchlist_plate`` — an alarm like any other: stored, filed as an incident, announced
  (the page shows the entry's reason and case reference beside it);
* ``watchlist_face`` — stored (so its crop arrives and is receipted like any snapshot) but
  **quiet**: no incident, no ``alert`` event, no chime; a candidate for two officers
  (:mod:`hub.watchlist.candidates`);
* ``plate_read`` — every plate read, sent only when the site logs plates: kept in the plate
  log for the logging's retention, never as an alert or an incident; quarantined with reason
  ``plate_logging_off`` when the site does not log plates.

:class:`WatchlistSink` is ingest's :class:`hub.ingest.AlertSink`; :class:`WatchlistCorrelator`
wraps the alarm gate (:class:`hub.ingest.Correlator`) so face candidates never reach it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from contract.protocol import Alert, ProtocolError
from contract.siteconfig import SiteConfig
from contract.watchlist import FACE_KIND, PLATE_KIND
from hub.domain.alerts import AlertRecord
from hub.domain.incidents import Incident
from hub.storage.sqlite.watchlist import PlateHitRow, PlateLogRow, SqliteWatchlistRepository
from hub.watchlist.candidates import CandidateDesk
from hub.watchlist.domain import PLATE_READ_KIND, plate_key
from hub.watchlist.service import Audit

Filed = tuple[Incident, str] | None


class WatchlistSink:
    """Plate reads into the plate log; face candidates stored but not announced."""

    kinds = frozenset({PLATE_READ_KIND})
    quiet = frozenset({FACE_KIND})

    def __init__(self, repo: SqliteWatchlistRepository, config: SiteConfig) -> None:
        self.repo = repo
        self.logging = config.watchlists.plates.logging

    def take(self, alert: Alert, received_at: datetime) -> None:
        if self.logging is None:
            raise ProtocolError("plate_logging_off", "this site does not log plate reads")
        plate = _plate_of(alert)
        if plate is None:
            raise ProtocolError("invalid", "a plate_read alert names the plate it read")
        keep = received_at + timedelta(days=self.logging.retention_days)
        row = PlateLogRow(alert.id, plate, alert.node, alert.camera, alert.area, alert.ts, keep)
        self.repo.log_plate(row, plate_key(plate))


def _plate_of(alert: Alert) -> str | None:
    if alert.watchlist is not None and alert.watchlist.plate:
        return alert.watchlist.plate
    return next((o.plate for o in alert.objects if o.plate), None)


class WatchlistCorrelator:
    """The alarm gate with face candidates taken out of it, and every hit audited."""

    def __init__(
        self, inner, desk: CandidateDesk, repo: SqliteWatchlistRepository, audit: Audit
    ) -> None:
        self.inner, self.desk, self.repo, self.audit = inner, desk, repo, audit

    def correlate(self, alert: AlertRecord) -> Filed:
        if alert.kind == FACE_KIND:
            self.desk.record(alert)
            return None
        self._plate_hit(alert)
        return self.inner.correlate(alert)

    def correlate_many(self, alerts: Sequence[AlertRecord]) -> list[Filed]:
        results: list[Filed] = [None] * len(alerts)
        others = []
        for i, alert in enumerate(alerts):
            if alert.kind == FACE_KIND:
                self.desk.record(alert)
            else:
                self._plate_hit(alert)
                others.append(i)
        filed = self.inner.correlate_many([alerts[i] for i in others]) if others else []
        for i, result in zip(others, filed, strict=True):
            results[i] = result
        return results

    def _plate_hit(self, alert: AlertRecord) -> None:
        if alert.kind == PLATE_KIND and alert.watchlist is not None:
            hit = alert.watchlist
            row = PlateHitRow(alert.id, hit.entry_id, hit.plate, hit.score, alert.received_at)
            self.repo.add_plate_hit(row)
            # The entry id, never the plate read (audit rows outlive an erasure).
            detail = f"plate entry {hit.entry_id} {hit.score:.2f}"
            self.audit(None, "watchlist.match", alert.id, detail)
