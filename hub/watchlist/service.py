"""The watchlist service: authorisations, plate and face entries, expiry, and what each
gateway is sent.

Rules it enforces (each refused with a :class:`~hub.watchlist.domain.Refused`):

* an authorisation names cameras and areas the site has;
* a face entry needs face recognition on for the site and a live authorisation (in force or
  still to come, not ended, not expired); it cannot outlive that authorisation;
* no change may make any gateway's update larger than the broker passes
  (:data:`~contract.watchlist.MAX_WATCHLIST_BYTES`): it is measured inside the transaction
  and rolled back if so.

Enrolment photos are sealed in the :class:`~hub.watchlist.vault.PhotoVault` and deleted
with their entry; ending or expiring an authorisation deletes its face entries. Every action
goes to the audit log; every change is then published to the gateways (``on_change``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

import cv2
import numpy as np
from pydantic import ValidationError

from contract.siteconfig import SiteConfig
from contract.watchlist import (
    MAX_WATCHLIST_BYTES,
    Authorisation,
    FaceEntry,
    PlateEntry,
    encode_embedding,
)
from hub.clock import Clock
from hub.storage.sqlite.watchlist import SqliteWatchlistRepository
from hub.watchlist.domain import FaceDescriber, Refused, new_id, plate_key
from hub.watchlist.updates import WatchlistState, build_all, live
from hub.watchlist.vault import PhotoVault

log = logging.getLogger(__name__)

#: ``audit(username, action, target, detail)``: the hub's audit log (hash-chained).
Audit = Callable[[str | None, str, str | None, str | None], None]


class WatchlistService:
    def __init__(
        self,
        repo: SqliteWatchlistRepository,
        vault: PhotoVault,
        config: SiteConfig,
        clock: Clock,
        audit: Audit,
        describer: Callable[[], FaceDescriber] | None = None,
    ) -> None:
        """``describer`` gives the face model (loaded on first enrolment)."""
        self.repo, self.vault, self.config, self.clock = repo, vault, config, clock
        self.audit = audit
        self._describer_factory = describer
        self._describer: FaceDescriber | None = None
        #: Called after every committed change (the publisher's ``publish_all``).
        self.on_change: list[Callable[[], object]] = []

    # --- what gateways get ----------------------------------------------------------------

    def state(self) -> WatchlistState:
        return WatchlistState(
            plates=[row.entry for row in self.repo.plates()],
            faces=[row.entry for row in self.repo.faces()],
            authorisations=[row.authorisation for row in self.repo.authorisations(True)],
        )

    def updates(self) -> dict[str, bytes]:
        """Every gateway's encoded update now, by node."""
        return {node: payload for node, (_, payload) in self._build().items()}

    def _build(self) -> dict:
        try:
            built = build_all(self.config, self.state(), self.clock())
        except ValidationError as exc:  # more entries than an update may carry
            reason = f"the watchlist would be too long: {exc.errors()[0]['msg']}"
            raise Refused(413, reason) from None

        for node, (_, payload) in built.items():
            if len(payload) > MAX_WATCHLIST_BYTES:
                raise Refused(
                    413,
                    f"{node}'s watchlist would be {len(payload)} bytes, more than the "
                    f"{MAX_WATCHLIST_BYTES} a gateway can be sent: remove entries first",
                )
        return built

    def _changed(self) -> None:
        for callback in self.on_change:
            try:
                callback()
            except Exception:
                log.exception("watchlist change callback failed")

    # --- authorisations -------------------------------------------------------------------

    def authorise(self, fields: dict, by: str) -> Authorisation:
        """A new authorisation (supervisor or admin; ``approved_by`` is the approving
        officer, recorded as given). ``fields`` are :class:`Authorisation`'s but ``id``."""
        try:
            auth = Authorisation(id=new_id(), **fields)
        except ValidationError as exc:
            raise Refused(400, exc.errors()[0]["msg"]) from None
        self._check_scope(auth)
        if not live(auth, self.clock()):
            raise Refused(400, "this authorisation has already ended or expired")
        self.repo.add_authorisation(auth, by, self.clock())
        self.audit(by, "watchlist.authorise", auth.id, _describe(auth))
        self._changed()
        return auth

    def _check_scope(self, auth: Authorisation) -> None:
        cameras = {f"{g.node}/{c.name}" for g in self.config.gateways for c in g.cameras}
        areas = {c.area for g in self.config.gateways for c in g.cameras}
        if unknown := [c for c in auth.cameras if c not in cameras]:
            raise Refused(400, f"no such camera on this site: {', '.join(unknown)}")
        if unknown := [a for a in auth.areas if a not in areas]:
            raise Refused(400, f"no camera in area: {', '.join(unknown)}")

    def end_authorisation(
        self, auth_id: str, by: str | None, why: str = "ended", publish: bool = True
    ) -> int:
        """End an authorisation now and delete its face entries (photos included); returns
        how many entries went."""
        if self.repo.authorisation(auth_id) is None:
            raise Refused(404, "no such authorisation")
        with self.repo.transaction():
            if not self.repo.end_authorisation(auth_id, self.clock(), why):
                raise Refused(409, "this authorisation has ended already")
            photos = [self.repo.delete_entry(f.entry.id) for f in self.repo.faces(auth_id)]
        for photo in photos:
            self.vault.delete(photo)
        action = "watchlist.expire" if why == "expired" else "watchlist.end"
        self.audit(by, action, auth_id, f"{len(photos)} face entries deleted")
        if publish:
            self._changed()
        return len(photos)

    # --- entries --------------------------------------------------------------------------

    def add_plate(self, fields: dict, by: str) -> PlateEntry:
        """A plate entry (officer and above): plate, reason, owner, case_ref, expires_at."""
        try:
            entry = PlateEntry(id=new_id(), **fields)
        except ValidationError as exc:
            raise Refused(400, exc.errors()[0]["msg"]) from None
        if entry.expires_at <= self.clock():
            raise Refused(400, "the expiry is in the past")
        with self.repo.transaction():
            self.repo.add_plate(entry, plate_key(entry.plate), by, self.clock())
            self._build()  # too large: raises, and the insert is rolled back
        # The entry id only, never the plate: an erasure cannot take an audit row back.
        self.audit(by, "watchlist.enrol", entry.id, f"plate entry, case {entry.case_ref}")
        self._changed()
        return entry

    def enrol_face(
        self, photo: bytes, auth_id: str, expires_at: datetime | None, by: str
    ) -> FaceEntry:
        """A face entry (supervisor and above) from a photo, under a live authorisation.
        The photo is sealed; only its embedding is ever sent."""
        now = self.clock()
        if not self.config.watchlists.faces.enabled:
            raise Refused(409, "face recognition is off for this site (watchlists.faces)")
        row = self.repo.authorisation(auth_id)
        if row is None:
            raise Refused(403, "a face entry needs an authorisation: none with this id")
        auth = row.authorisation
        if row.ended_at is not None or not live(auth, now):
            raise Refused(403, "this authorisation has ended or expired: no enrolment under it")
        expires_at = expires_at or auth.expires_at
        if expires_at > auth.expires_at or expires_at <= now:
            raise Refused(400, "a face entry expires after now and no later than its authorisation")
        embedding = self._embed(photo)
        entry = FaceEntry(
            id=new_id(), authorisation=auth.id, embedding=encode_embedding(embedding),
            expires_at=expires_at,
        )  # fmt: skip
        sealed = self.vault.seal("photos", photo)
        try:
            with self.repo.transaction():
                self.repo.add_face(entry, by, now, sealed)
                self._build()
        except Exception:
            self.vault.delete(sealed)
            raise
        self.audit(by, "watchlist.enrol", entry.id, f"face under {auth.id} ({auth.case_number})")
        self._changed()
        return entry

    def _embed(self, photo: bytes) -> np.ndarray:
        image = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise Refused(400, "the photo is not a JPEG or PNG image")
        if self._describer is None:
            if self._describer_factory is None:
                raise Refused(503, "no face model on this hub")
            self._describer = self._describer_factory()
        embedding = self._describer.embed_photo(image)
        if embedding is None:
            raise Refused(422, "no face found in the photo")
        return embedding

    def remove_entry(
        self, entry_id: str, by: str | None, why: str = "removed", publish: bool = True
    ) -> None:
        if not self.repo.entry_exists(entry_id):
            raise Refused(404, "no such entry")
        self.vault.delete(self.repo.delete_entry(entry_id))
        action = "watchlist.expire" if why == "expired" else "watchlist.remove"
        self.audit(by, action, entry_id, why)
        if publish:
            self._changed()

    def photo(self, entry_id: str, by: str) -> bytes:
        """An enrolment photo, decrypted for a supervisor: audited."""
        row = self.repo.face(entry_id)
        if row is None:
            raise Refused(404, "no such face entry")
        self.audit(by, "watchlist.view_photo", entry_id, None)
        return self.vault.open(row.photo)

    # --- expiry ---------------------------------------------------------------------------

    def expire(self) -> dict[str, int]:
        """Delete what has expired (the periodic worker's step; the clock is injected):
        authorisations past their window or expiry end with their faces, entries past their
        expiry go with their photos. Publishes once if anything changed."""
        now = self.clock()
        done = {"authorisations": 0, "entries": 0}
        # Refused: a supervisor ended or removed it meanwhile. One publish at the end.
        for row in self.repo.authorisations(live_only=True):
            if not live(row.authorisation, now):
                with contextlib.suppress(Refused):
                    self.end_authorisation(row.authorisation.id, None, "expired", publish=False)
                    done["authorisations"] += 1
        for entry_id in self.repo.expired_entries(now):
            with contextlib.suppress(Refused):
                self.remove_entry(entry_id, None, "expired", publish=False)
                done["entries"] += 1
        if any(done.values()):
            self._changed()
        return done


def _describe(auth: Authorisation) -> str:
    scope = ", ".join([*auth.cameras, *auth.areas])
    return (
        f"{auth.legal_basis}; case {auth.case_number}; approved by {auth.approved_by}; "
        f"scope {scope}; {auth.starts_at.isoformat()}..{auth.ends_at.isoformat()}; "
        f"expires {auth.expires_at.isoformat()}; crops kept {auth.retention_days} d"
    )
