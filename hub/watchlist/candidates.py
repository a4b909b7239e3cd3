"""Face matches as *candidates*, and the two-officer verification before anyone acts.

EU AI Act Art. 14(5): no action on a biometric match unless two people have verified it. A
``watchlist_face`` alert is stored (ingest links its crop like any snapshot) but opens no
incident, chimes nowhere and cannot be dispatched. It waits here until **two different
officers, neither of them the one who enrolled that person, each confirm it**; then, and only
then, it is filed as an incident like any alarm and can be dispatched. One rejection ends
it and counts as a false match of its entry (shown on the page per entry).

The crop is sealed into the :class:`~hub.watchlist.vault.PhotoVault` as soon as it arrives
and kept for the authorisation's ``retention_days``, not the alerts' default.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from hub.clock import Clock
from hub.dispatch.errors import DispatchError
from hub.domain.alerts import AlertRecord
from hub.domain.units import Assignment
from hub.events import EventBus, HubEvent, IncidentChanged, SnapshotArrived
from hub.storage.repositories import Storage
from hub.storage.sqlite.watchlist import CandidateRow, SqliteWatchlistRepository
from hub.watchlist.domain import Refused
from hub.watchlist.service import Audit
from hub.watchlist.vault import PhotoVault

log = logging.getLogger(__name__)

#: Confirmations, by different officers, that make a candidate an alarm.
CONFIRMATIONS_NEEDED = 2
#: Crops of a match whose authorisation is unknown (ended and gone) are kept this long.
DEFAULT_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class CandidateView:
    """A candidate as the page shows it."""

    candidate: CandidateRow
    confirmed_by: list[str]
    rejected_by: list[str]

    @property
    def dispatchable(self) -> bool:
        return self.candidate.state == "verified" and self.candidate.incident_id is not None


class CandidateDesk:
    """Records face candidates at ingest and applies the verification rules."""

    def __init__(
        self,
        repo: SqliteWatchlistRepository,
        vault: PhotoVault,
        storage: Storage,
        bus: EventBus,
        clock: Clock,
        audit: Audit,
        incidents,  # hub.incidents.service.IncidentService
        dispatch: Callable[[str, str, str], Assignment],
    ) -> None:
        self.repo, self.vault, self.storage = repo, vault, storage
        self.bus, self.clock, self.audit = bus, clock, audit
        self.incidents = incidents
        self._dispatch = dispatch
        bus.on(self._on_event)

    # --- ingest side ----------------------------------------------------------------------

    def record(self, alert: AlertRecord) -> None:
        """A ``watchlist_face`` alert (inside ingest's transaction): a pending candidate."""
        hit = alert.watchlist
        if hit is None or hit.list != "face":
            raise ValueError("a watchlist_face alert carries its face hit")
        face = self.repo.face(hit.entry_id)
        auth = self.repo.authorisation(hit.authorisation) if hit.authorisation else None
        keep = timedelta(days=auth.authorisation.retention_days) if auth else DEFAULT_RETENTION
        # A match the hub's records do not authorise (no such authorisation or entry, ended,
        # outside its window or scope: a gateway with a stale or forged list) is never
        # actionable, and its crop goes at the next expiry step.
        state = "pending"
        if not _authorised(alert, face is not None, auth):
            state, keep = "out_of_scope", timedelta(0)
        added = self.repo.add_candidate(
            CandidateRow(
                alert_id=alert.id, entry_id=hit.entry_id, authorisation=hit.authorisation,
                enrolled_by=face.enrolled_by if face else "", score=hit.score,
                node=alert.node, camera=alert.camera, area=alert.area,
                received_at=alert.received_at, keep_until=alert.received_at + keep,
                state=state, crop=None, incident_id=None,
            )
        )  # fmt: skip
        if added:
            note = "" if state == "pending" else ", outside its authorisation: not actionable"
            detail = f"face {hit.entry_id} {hit.score:.2f}{note}"
            self.audit(None, "watchlist.match", alert.id, detail)

    def claim_crop(self, alert_id: str) -> bool:
        """Seal the candidate's crop (its alert's snapshot) into the vault, once, and delete
        the plain JPEG from the alert snapshots: no one sees it there, unaudited, as an
        ordinary alert photo. (A re-sent copy is deleted again.)"""
        found = self.repo.candidate(alert_id)
        path = self.storage.alerts.snapshot_file(alert_id) if found else None
        if found is None or path is None:
            return False
        sealed = None
        if found.crop is None:
            sealed = self.vault.seal("crops", path.read_bytes())
        try:
            with self.repo.transaction():
                if sealed is not None:
                    self.repo.set_candidate(alert_id, crop=sealed)
                self.repo.unlink_alert_snapshot(alert_id)
        except Exception:
            self.vault.delete(sealed)
            raise
        path.unlink(missing_ok=True)
        return sealed is not None

    def claim_pending(self) -> int:
        """Crops that came before their alert (no SnapshotArrived event): the worker's step."""
        return sum(self.claim_crop(alert_id) for alert_id in self.repo.candidates_without_crop())

    def _on_event(self, event: HubEvent) -> None:
        if isinstance(event, SnapshotArrived):
            self.claim_crop(event.alert_id)

    def expire(self) -> int:
        """Delete candidates (and crops) past their authorisation's retention."""
        expired = self.repo.expired_candidates(self.clock())
        for alert_id in expired:
            self.vault.delete(self.repo.delete_candidate(alert_id))
            self.audit(None, "watchlist.expire", alert_id, "match crop past its retention")
        return len(expired)

    # --- the officers' side ---------------------------------------------------------------

    def view(self, alert_id: str) -> CandidateView:
        found = self.repo.candidate(alert_id)
        if found is None:
            raise Refused(404, "no such candidate")
        verdicts = self.repo.verdicts(alert_id)
        return CandidateView(
            found,
            [user for user, verdict, _ in verdicts if verdict == "confirm"],
            [user for user, verdict, _ in verdicts if verdict == "reject"],
        )

    def all(self) -> list[CandidateView]:
        return [self.view(c.alert_id) for c in self.repo.candidates()]

    def confirm(self, alert_id: str, username: str) -> CandidateView:
        """One officer's confirmation; the second different one files the incident."""
        with self.repo.transaction():
            current = self._pending(alert_id, username)
            self.repo.add_verdict(alert_id, username, "confirm", self.clock())
            confirmed = [*current.confirmed_by, username]
            filed = None
            if len(confirmed) >= CONFIRMATIONS_NEEDED:
                filed = self._file(alert_id)
        detail = f"{len(confirmed)} of {CONFIRMATIONS_NEEDED} confirmations"
        self.audit(username, "watchlist.verify", alert_id, detail)
        if filed is not None:
            self.bus.publish(IncidentChanged(incident=filed[0], change=filed[1]))
        return self.view(alert_id)

    def reject(self, alert_id: str, username: str) -> CandidateView:
        """Not the person: the candidate ends, counted as a false match of its entry."""
        with self.repo.transaction():
            self._pending(alert_id, username, rejecting=True)
            self.repo.add_verdict(alert_id, username, "reject", self.clock())
            self.repo.set_candidate(alert_id, state="rejected")
        self.audit(username, "watchlist.reject", alert_id, None)
        return self.view(alert_id)

    def _pending(self, alert_id: str, username: str, rejecting: bool = False) -> CandidateView:
        current = self.view(alert_id)
        if current.candidate.state == "out_of_scope":
            raise Refused(409, "this match is outside any authorisation in force: not actionable")
        if current.candidate.state != "pending":
            raise Refused(409, f"this candidate is {current.candidate.state} already")
        if not rejecting and username == current.candidate.enrolled_by:
            raise Refused(403, "the officer who enrolled this person cannot verify their match")
        if username in current.confirmed_by + current.rejected_by:
            raise Refused(
                409, "you have given your verdict on this candidate: a different officer must"
            )
        return current

    def _file(self, alert_id: str):
        """Two confirmations: the match becomes an alarm, filed as an incident."""
        record = self.storage.alerts.get(alert_id)
        if record is None:
            raise Refused(409, "the match's alert is gone (erased or past retention)")
        filed = self.incidents.correlate(record)
        if filed is None:
            raise Refused(409, "the match could not be filed as an incident")
        self.repo.set_candidate(alert_id, state="verified", incident_id=filed[0].id)
        return filed

    def dispatch(self, alert_id: str, unit_id: str, username: str) -> Assignment:
        current = self.view(alert_id)
        if not current.dispatchable:
            raise Refused(
                409,
                f"not verified: {len(current.confirmed_by)} of {CONFIRMATIONS_NEEDED} "
                "confirmations by different officers; nobody is sent on an unverified match",
            )
        assert current.candidate.incident_id is not None
        try:
            assignment = self._dispatch(current.candidate.incident_id, unit_id, username)
        except DispatchError as exc:
            raise Refused(409, str(exc)) from None
        self.audit(username, "watchlist.dispatch", alert_id, f"unit {unit_id}")
        return assignment

    def crop(self, alert_id: str, username: str) -> bytes:
        """The match crop, decrypted: audited."""
        current = self.view(alert_id)
        if current.candidate.crop is None:
            self.claim_crop(alert_id)
            current = self.view(alert_id)
        if current.candidate.crop is None:
            raise Refused(404, "the crop has not arrived yet")
        self.audit(username, "watchlist.view_crop", alert_id, None)
        return self.vault.open(current.candidate.crop)


def _authorised(alert: AlertRecord, entry_known: bool, auth) -> bool:
    """The match is of a known entry, under an authorisation that is not ended and allows
    this camera at the time the gateway saw it (its window and scope on the hub's records)."""
    if not entry_known or auth is None or auth.ended_at is not None:
        return False
    return auth.authorisation.allows(alert.ts, alert.node, alert.camera or "", alert.area)
