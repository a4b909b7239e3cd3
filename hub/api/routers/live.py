"""Live view: an incident area's cameras, relayed through the hub as MJPEG over HTTP.

* ``GET /api/incidents/{id}/cameras`` (viewer+) — the cameras of the incident's area, each
  with its live URL and whether the caller may watch it (the officer app shows a button).
* ``GET /api/cameras/{node}/{camera}/live?incident={id}`` — the camera live, as
  ``multipart/x-mixed-replace`` JPEG parts (what an ``<img>`` plays natively). Each part
  carries ``X-Frame-Captured`` (Unix time the gateway read it) and ``X-Frame-Seq``.

Who may watch: the duty desk (officer and above) always; a ``patrol`` only while its unit
has an active assignment on that incident. Either way the camera must be in the incident's
area: the incident is the reason for watching, and it is audited with it — ``live.watch``
when a view opens (user, camera, incident), ``live.end`` when it closes (how long, frames),
``live.denied`` when refused.

MJPEG rather than WebRTC: every browser's ``<img>`` plays it with no script, it passes any
HTTP proxy, and a frame dropped for a slow phone costs nothing to the others; the relay
needs no media server or STUN. The price is bandwidth (JPEG per frame, no inter-frame
coding), capped per viewer (``hub.live.viewer_bytes_per_s``).
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated types.
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from contract.protocol import HEX_ID_PATTERN, ID_PATTERN
from contract.siteconfig import Camera
from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.api.params import HexId
from hub.domain.incidents import Incident
from hub.domain.users import Role
from hub.live import LiveRelay, TooManyViewers, Viewer

BOUNDARY = "vwframe"
#: An open view outlives no session by more than this (a stream is one long request).
SESSION_CHECK_S = 10.0
NodeId = Annotated[str, Path(pattern=ID_PATTERN)]
IncidentQuery = Annotated[str, Query(pattern=HEX_ID_PATTERN, description="the reason: 32 hex")]


class LiveCamera(BaseModel):
    node: str
    camera: str
    area: str
    area_name: str
    live_url: str
    allowed: bool


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["live"])
    viewer = Annotated[Principal, Depends(ctx.services["auth"].require(Role.VIEWER))]

    @router.get("/api/incidents/{incident_id}/cameras", response_model=list[LiveCamera])
    def incident_cameras(who: viewer, incident_id: HexId) -> list[LiveCamera]:
        """The cameras of the incident's area (none for an incident without an area)."""
        incident = _incident(ctx, incident_id)
        allowed = _may_watch(ctx, who, incident)
        names = {a.id: a.name for a in ctx.config.areas} if ctx.config else {}
        return [
            LiveCamera(
                node=node,
                camera=cam.name,
                area=cam.area,
                area_name=names.get(cam.area, cam.area),
                live_url=f"/api/cameras/{node}/{cam.name}/live?incident={incident_id}",
                allowed=allowed,
            )
            for node, cam in _cameras(ctx)
            if cam.area == incident.location.area
        ]

    @router.get(
        "/api/cameras/{node}/{camera}/live",
        response_class=StreamingResponse,
        responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}}},
    )
    def live(who: viewer, node: NodeId, camera: NodeId, incident: IncidentQuery):
        """The camera live (MJPEG) for as long as the caller keeps the response open."""
        relay: LiveRelay | None = ctx.services.get("live")
        found = next((c for n, c in _cameras(ctx) if (n, c.name) == (node, camera)), None)
        if relay is None or found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {node}/{camera}")
        reason = _incident(ctx, incident)
        target, detail = f"{node}/{camera}", f"incident {incident}"
        refusal = None
        if not _may_watch(ctx, who, reason):
            refusal = "only the duty desk, or a patrol dispatched to this incident, may watch"
        elif found.area != reason.location.area:
            refusal = f"camera {camera} is not in the incident's area"
        if refusal:
            ctx.audit(who.username, "live.denied", target, f"{detail}: {refusal}")
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)
        if relay.viewers(node, camera) >= relay.settings.max_viewers:
            ctx.audit(who.username, "live.denied", target, f"{detail}: too many viewers")
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many viewers; try later")
        return StreamingResponse(
            _stream(ctx, relay, who, node, camera, detail),
            media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    return router


def _cameras(ctx: ApiContext) -> list[tuple[str, Camera]]:
    if ctx.config is None:
        return []
    return [(g.node, c) for g in ctx.config.gateways for c in g.cameras]


def _incident(ctx: ApiContext, incident_id: str) -> Incident:
    found = ctx.storage.incidents.get(incident_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}")
    return found


def _may_watch(ctx: ApiContext, who: Principal, incident: Incident) -> bool:
    """Officer and above always; a patrol only while its unit works on this incident."""
    if who.user.role.includes(Role.OFFICER):
        return True
    if who.user.role is not Role.PATROL:
        return False
    units = ctx.storage.units
    return any(u.incident_id == incident.id for u in units.of_member(who.username))


async def _stream(
    ctx: ApiContext, relay: LiveRelay, who: Principal, node: str, camera: str, detail: str
) -> AsyncIterator[bytes]:
    """MJPEG parts until the client goes, or its session ends (signed out, expired, user
    disabled: looked at every ``SESSION_CHECK_S``); audited at both ends."""
    username = who.username
    try:
        viewer = relay.open(node, camera)
    except TooManyViewers as exc:
        # The response has started: say it in the only way left, an empty stream.
        await ctx.audit_async(username, "live.denied", f"{node}/{camera}", f"{detail}: {exc}")
        return
    started = checked = time.monotonic()
    await ctx.audit_async(username, "live.watch", f"{node}/{camera}", detail)
    accounts = ctx.services["accounts"]
    try:
        while (frame := await viewer.next_frame()) is not None:
            yield _part(frame)
            if time.monotonic() - checked >= SESSION_CHECK_S:
                checked = time.monotonic()
                if await run_in_threadpool(accounts.session_user, who.token, False) is None:
                    break
    finally:
        relay.close(viewer)
        with anyio.CancelScope(shield=True):  # the client went: the request is cancelled
            await ctx.audit_async(username, "live.end", f"{node}/{camera}", _summary(
                detail, viewer, time.monotonic() - started
            ))  # fmt: skip


def _part(frame) -> bytes:
    head = (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(frame.jpeg)}\r\n"
        f"X-Frame-Captured: {frame.header.captured:.3f}\r\nX-Frame-Seq: {frame.header.seq}\r\n\r\n"
    )
    return head.encode() + frame.jpeg + b"\r\n"


def _summary(detail: str, viewer: Viewer, seconds: float) -> str:
    return (
        f"{detail}: watched {seconds:.0f} s, {viewer.sent} frames, {viewer.bytes} bytes, "
        f"{viewer.skipped} skipped"
    )
