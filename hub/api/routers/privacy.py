"""Privacy (admins): the privacy page's summary, the printable sign notice, and subject
requests — access, export and erasure — by plate or by face photo.

Every request is audited under a salted key of the subject (:mod:`hub.privacy.requests`),
never the plate itself. A face photo is embedded in memory and dropped; it is never stored.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated types of
# the dependencies, which are local to build().
import json
from typing import Annotated, Literal

import cv2
import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field

from contract.watchlist import Authorisation
from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.domain.users import Role
from hub.privacy.audit_chain import verify_chain
from hub.privacy.requests import RequestResult, SubjectRequests
from hub.privacy.sources import subject_sources
from hub.privacy.subjects import Subject
from hub.privacy.summary import PrivacySummary, privacy_summary, sign_notice, sign_notice_html
from hub.retention import Lifetimes
from hub.storage.sqlite import DATABASE_FILE

Action = Literal["access", "export", "erase"]


class PlateRequest(BaseModel):
    plate: str = Field(min_length=4, max_length=32, description="as written; matched fuzzily")


class ChainStatus(BaseModel):
    intact: bool
    rows: int
    head: str
    message: str  # what ``villagewatch audit verify`` prints


class Record(BaseModel):
    source: str
    kind: str
    id: str
    summary: str
    ts: str | None
    files: list[str]


class RequestAnswer(BaseModel):
    action: Action
    subject_key: str = Field(description="how the audit log names this subject")
    counts: dict[str, int]
    records: list[Record]
    compacted: bool = False


def _answer(action: Action, result: RequestResult) -> RequestAnswer:
    records = [
        Record(source=r.source, kind=r.kind, id=r.id, summary=r.summary,
               ts=r.ts.isoformat() if r.ts else None, files=list(r.files))
        for r in result.records
    ]  # fmt: skip
    return RequestAnswer(action=action, subject_key=result.subject_key, counts=result.counts(),
                         records=records, compacted=result.compacted)  # fmt: skip


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["privacy"])
    admin = Annotated[Principal, Depends(ctx.services["auth"].require(Role.ADMIN))]
    storage = ctx.storage
    requests = SubjectRequests(
        _sources(ctx),
        storage.audit,
        storage.alerts.database,  # type: ignore[attr-defined]
        storage.data_dir,
        ctx.clock,
    )
    faces = _FaceEmbedder()

    def summary() -> PrivacySummary:
        if ctx.config is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "this hub runs without a site file")
        lifetimes = Lifetimes.from_settings(ctx.config.hub)
        return privacy_summary(ctx.config, lifetimes, _authorisations(ctx), ctx.clock())

    def run(action: Action, subject: Subject, who: str) -> Response:
        return _run(requests, action, subject, who)

    @router.get("/api/privacy", response_model=PrivacySummary)
    def page(who: admin) -> PrivacySummary:
        """What is collected, where, for how long, under which authorisation."""
        ctx.audit(who.username, "privacy.view")
        return summary()

    @router.get("/api/privacy/audit-chain", response_model=ChainStatus)
    async def audit_chain(who: admin) -> ChainStatus:
        """``villagewatch audit verify`` from the page: walks the whole chain (read-only, on
        its own connection), so it runs when asked, not on every page load."""
        report = await run_in_threadpool(verify_chain, storage.data_dir / DATABASE_FILE)
        await ctx.audit_async(who.username, "audit.verify", None, report.describe()[:300])
        return ChainStatus(intact=report.intact, rows=report.rows, head=report.head,
                           message=report.describe())  # fmt: skip

    @router.get("/api/privacy/notice")
    def notice(
        who: admin, kind: Annotated[Literal["html", "text"], Query(alias="format")] = "html"
    ) -> Response:
        """The plain-language notice for the site's signs, from the site file."""
        found = summary()
        if kind == "text":
            return PlainTextResponse(sign_notice(found))
        return HTMLResponse(sign_notice_html(found))

    @router.post("/api/privacy/subjects/{action}", response_model=RequestAnswer)
    def by_plate(who: admin, action: Action, body: PlateRequest) -> Response:
        """Access, export (as a JSON file) or erase everything stored about a plate."""
        return run(action, Subject(plate=body.plate), who.username)

    @router.post(
        "/api/privacy/subjects/face/{action}",
        response_model=RequestAnswer,
        openapi_extra={"requestBody": {"required": True, "content": {"image/jpeg": {}}}},
    )
    async def by_face(request: Request, who: admin, action: Action) -> Response:
        """The same for a face: the photo (image/jpeg or png) as the raw body."""
        vector = await run_in_threadpool(faces.embed, await request.body())
        return await run_in_threadpool(run, action, Subject(face=vector), who.username)

    return router


def _run(requests: SubjectRequests, action: Action, subject: Subject, who: str) -> Response:
    """One request; an export is the same answer as a JSON file to save (audited as such)."""
    handle = requests.erase if action == "erase" else requests.access
    result = handle(subject, who)
    answer = _answer(action, result)
    if action != "export":
        return Response(answer.model_dump_json(), media_type="application/json")
    requests.record_export(result, who)
    body = json.dumps(answer.model_dump(), ensure_ascii=False, indent=2)
    name = f"{result.subject_key.replace(':', '-')}.json"
    download = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type="application/json", headers=download)


class _FaceEmbedder:
    """The face descriptor, loaded on the first face request (most hubs never get one)."""

    def __init__(self) -> None:
        self._describer = None

    def embed(self, data: bytes) -> np.ndarray:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "not a JPEG or PNG photo")
        if self._describer is None:
            from contract.face_descriptor import FaceDescriber

            self._describer = FaceDescriber().load()
        vector = self._describer.embed_photo(image)
        if vector is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no face in the photo")
        return vector


def _sources(ctx: ApiContext) -> list:
    """:func:`subject_sources`, with the running hub's own watchlist source where there is
    one (its erasure also republishes the gateways' lists at once)."""
    sources = subject_sources(ctx.storage, ctx.storage.data_dir, ctx.config)
    running = getattr(ctx.services.get("watchlist"), "subjects", None)
    if running is None:
        return sources
    return [running if s.name == running.name else s for s in sources]


def _authorisations(ctx: ApiContext) -> list[Authorisation]:
    """Authorisations from the watchlist store, when this hub has one."""
    try:
        from hub.storage.sqlite.watchlist import watchlist_for
    except ImportError:
        return []
    return [row.authorisation for row in watchlist_for(ctx.storage).authorisations()]
