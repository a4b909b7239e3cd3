"""Watchlists: authorisations, entries, face candidates and their verification.

Who may do what (hub.domain.users.Role):

* **officer** — list entries and candidates, add and remove plate entries, confirm or reject a
  candidate (never one whose person they enrolled), dispatch to a *verified* one;
* **supervisor** — create and end authorisations, enrol and remove faces, open an enrolment
  photo, read and export the plate log.

Every refusal is a 4xx with its reason (:class:`hub.watchlist.domain.Refused`). Every action
and every view of a face picture is in the audit log (the service records actions; this
router records searches, lists and picture views).
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated dependency
# types, which are local to build().
import contextlib
import csv
import io
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from contract.watchlist import Authorisation, PlateEntry
from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.params import HexId, aware
from hub.domain.units import Assignment
from hub.domain.users import Role
from hub.watchlist.bundle import Watchlist
from hub.watchlist.candidates import CONFIRMATIONS_NEEDED, CandidateView
from hub.watchlist.domain import Refused

#: What a JPEG or PNG starts with (an enrolment photo is one or the other).
_IMAGE_TYPES = ("image/jpeg", "image/png")


class AuthorisationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    legal_basis: str
    case_number: str
    approved_by: str = Field(description="the approving officer")
    cameras: list[str] = Field(default_factory=list, description="node/camera")
    areas: list[str] = Field(default_factory=list)
    starts_at: datetime
    ends_at: datetime
    expires_at: datetime
    retention_days: int = 30


class PlateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plate: str
    reason: str
    owner: str
    case_ref: str
    expires_at: datetime


class DispatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class AuthorisationOut(BaseModel):
    authorisation: Authorisation
    created_by: str
    ended_at: datetime | None
    ended_why: str | None


class PlateOut(BaseModel):
    entry: PlateEntry
    created_by: str
    false_matches: int


class FaceOut(BaseModel):
    """A face entry without its embedding or photo (a supervisor opens the photo)."""

    id: str
    authorisation: str
    case_number: str | None
    expires_at: datetime
    enrolled_by: str
    false_matches: int


class CameraOut(BaseModel):
    """A camera an authorisation may name (``node/camera``)."""

    ref: str
    area: str
    signage_confirmed: bool


class Entries(BaseModel):
    plates: list[PlateOut]
    faces: list[FaceOut]
    authorisations: list[AuthorisationOut]
    faces_enabled: bool
    plate_logging: bool
    cameras: list[CameraOut]


class CandidateOut(BaseModel):
    alert_id: str
    entry_id: str
    authorisation: str | None
    case_number: str | None
    legal_basis: str | None
    score: float
    node: str
    camera: str | None
    area: str
    received_at: datetime
    state: str
    enrolled_by: str
    confirmed_by: list[str]
    rejected_by: list[str]
    needed: int = CONFIRMATIONS_NEEDED
    has_crop: bool
    incident_id: str | None
    dispatchable: bool


class PlateHit(BaseModel):
    alert_id: str
    received_at: datetime
    node: str
    camera: str | None
    plate: str | None
    score: float
    entry_id: str
    reason: str | None
    case_ref: str | None
    incident_id: str | None


@contextlib.contextmanager
def refusals():
    try:
        yield
    except Refused as exc:
        raise HTTPException(exc.status, exc.reason) from None


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["watchlist"])
    if "watchlist" not in ctx.services:  # an app composed for another part's tests
        return router
    auth = ctx.services["auth"]
    officer = Annotated[Principal, Depends(auth.require(Role.OFFICER))]
    supervisor = Annotated[Principal, Depends(auth.require(Role.SUPERVISOR))]
    wl: Watchlist = ctx.services["watchlist"]
    repo, service, desk = wl.repo, wl.service, wl.desk

    def case_of(auth_id: str | None) -> tuple[str | None, str | None]:
        row = repo.authorisation(auth_id) if auth_id else None
        return (
            (row.authorisation.case_number, row.authorisation.legal_basis)
            if row
            else (
                None,
                None,
            )
        )

    def candidate_out(view: CandidateView) -> CandidateOut:
        c = view.candidate
        case_number, legal_basis = case_of(c.authorisation)
        return CandidateOut(
            alert_id=c.alert_id, entry_id=c.entry_id, authorisation=c.authorisation,
            case_number=case_number, legal_basis=legal_basis, score=c.score, node=c.node,
            camera=c.camera, area=c.area, received_at=c.received_at, state=c.state,
            enrolled_by=c.enrolled_by, confirmed_by=view.confirmed_by,
            rejected_by=view.rejected_by, has_crop=c.crop is not None,
            incident_id=c.incident_id, dispatchable=view.dispatchable,
        )  # fmt: skip

    @router.get("/api/watchlist", response_model=Entries)
    def entries(who: officer) -> Entries:
        """Plate and face entries (faces without photo or embedding), authorisations."""
        false = repo.false_matches()
        auths = repo.authorisations()
        cases = {a.authorisation.id: a.authorisation.case_number for a in auths}
        ctx.audit(who.username, "watchlist.search", None, "entries")
        return Entries(
            plates=[PlateOut(entry=p.entry, created_by=p.created_by,
                             false_matches=false.get(p.entry.id, 0)) for p in repo.plates()],
            faces=[
                FaceOut(id=f.entry.id, authorisation=f.entry.authorisation,
                        case_number=cases.get(f.entry.authorisation),
                        expires_at=f.entry.expires_at, enrolled_by=f.enrolled_by,
                        false_matches=false.get(f.entry.id, 0))
                for f in repo.faces()
            ],
            authorisations=[AuthorisationOut(authorisation=a.authorisation,
                                             created_by=a.created_by, ended_at=a.ended_at,
                                             ended_why=a.ended_why) for a in auths],
            faces_enabled=service.config.watchlists.faces.enabled,
            plate_logging=service.config.watchlists.plates.logging is not None,
            cameras=[CameraOut(ref=f"{g.node}/{c.name}", area=c.area,
                               signage_confirmed=c.signage_confirmed)
                     for g in service.config.gateways for c in g.cameras],
        )  # fmt: skip

    @router.post("/api/watchlist/authorisations", response_model=Authorisation, status_code=201)
    def authorise(who: supervisor, body: AuthorisationRequest) -> Authorisation:
        with refusals():
            return service.authorise(body.model_dump(), who.username)

    @router.post("/api/watchlist/authorisations/{auth_id}/end")
    def end(who: supervisor, auth_id: HexId) -> dict:
        """End an authorisation now: its face entries and photos are deleted."""
        with refusals():
            return {"faces_deleted": service.end_authorisation(auth_id, who.username)}

    @router.post("/api/watchlist/plates", response_model=PlateEntry, status_code=201)
    def add_plate(who: officer, body: PlateRequest) -> PlateEntry:
        with refusals():
            return service.add_plate(body.model_dump(), who.username)

    @router.post(
        "/api/watchlist/faces",
        status_code=201,
        openapi_extra={"requestBody": {"required": True, "content": {"image/jpeg": {}}}},
    )
    async def enrol_face(
        request: Request,
        who: supervisor,
        authorisation: Annotated[str, Query(pattern=r"^[0-9a-f]{32}$")],
        expires_at: datetime | None = None,
    ) -> dict:
        """A photo as the raw body (JPEG or PNG) under an authorisation in force."""
        declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if declared not in _IMAGE_TYPES:
            raise HTTPException(415, "send the photo as image/jpeg or image/png")
        photo = await request.body()
        with refusals():
            entry = await run_in_threadpool(
                service.enrol_face, photo, authorisation, aware(expires_at), who.username
            )
        return {"id": entry.id, "authorisation": entry.authorisation,
                "expires_at": entry.expires_at}  # fmt: skip

    @router.delete("/api/watchlist/entries/{entry_id}", status_code=204)
    def remove(who: officer, entry_id: HexId) -> Response:
        if repo.face(entry_id) is not None and not who.user.role.includes(Role.SUPERVISOR):
            raise HTTPException(403, "removing a face entry needs the supervisor role")
        with refusals():
            service.remove_entry(entry_id, who.username)
        return Response(status_code=204)

    @router.get("/api/watchlist/faces/{entry_id}/photo", response_class=Response)
    def photo(who: supervisor, entry_id: HexId) -> Response:
        """The enrolment photo, decrypted (audited)."""
        with refusals():
            data = service.photo(entry_id, who.username)
        return Response(data, media_type="image/jpeg", headers={"cache-control": "no-store"})

    @router.get("/api/watchlist/candidates", response_model=list[CandidateOut])
    def candidates(who: officer) -> list[CandidateOut]:
        ctx.audit(who.username, "watchlist.search", None, "candidates")
        return [candidate_out(v) for v in desk.all()]

    @router.get("/api/watchlist/candidates/{alert_id}/crop", response_class=Response)
    def crop(who: officer, alert_id: HexId) -> Response:
        """The match crop, decrypted (audited)."""
        with refusals():
            data = desk.crop(alert_id, who.username)
        return Response(data, media_type="image/jpeg", headers={"cache-control": "no-store"})

    @router.post("/api/watchlist/candidates/{alert_id}/confirm", response_model=CandidateOut)
    def confirm(who: officer, alert_id: HexId) -> CandidateOut:
        with refusals():
            return candidate_out(desk.confirm(alert_id, who.username))

    @router.post("/api/watchlist/candidates/{alert_id}/reject", response_model=CandidateOut)
    def reject(who: officer, alert_id: HexId) -> CandidateOut:
        with refusals():
            return candidate_out(desk.reject(alert_id, who.username))

    @router.post(
        "/api/watchlist/candidates/{alert_id}/dispatch", response_model=Assignment, status_code=201
    )
    def dispatch(who: officer, alert_id: HexId, body: DispatchRequest) -> Assignment:
        """Send a unit to a verified match (two confirmations); refused before."""
        with refusals():
            return desk.dispatch(alert_id, body.unit_id, who.username)

    @router.get("/api/watchlist/plate-hits", response_model=list[PlateHit])
    def plate_hits(who: officer, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list:
        """Recent plate alarms with their entry's reason and case reference."""
        entries = {p.entry.id: p.entry for p in repo.plates()}
        ctx.audit(who.username, "watchlist.search", None, "plate hits")
        hits = []
        for h in repo.plate_hits(limit):
            alert = ctx.storage.alerts.get(h.alert_id)
            if alert is None:
                continue
            entry = entries.get(h.entry_id)
            hits.append(PlateHit(
                alert_id=h.alert_id, received_at=alert.received_at, node=alert.node,
                camera=alert.camera, plate=h.plate, score=h.score, entry_id=h.entry_id,
                reason=entry.reason if entry else None,
                case_ref=entry.case_ref if entry else None, incident_id=alert.incident_id,
            ))  # fmt: skip
        return hits

    @router.get("/api/watchlist/plate-log.csv", response_class=Response)
    def plate_log(who: supervisor) -> Response:
        """Every logged plate read (only kept when the site logs plates): an export."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["at", "plate", "node", "camera", "area", "keep_until"])
        rows = repo.plate_log()
        for r in rows:
            writer.writerow([r.at.isoformat(), r.plate, r.node, r.camera, r.area,
                             r.keep_until.isoformat()])  # fmt: skip
        ctx.audit(who.username, "watchlist.export", None, f"plate log, {len(rows)} reads")
        return Response(out.getvalue(), media_type="text/csv")

    return router
