"""What the privacy page says, and the plain-language notice a site prints for its signs.

Both are generated from the site file (and the watchlist's authorisations in force), never
written by hand, so they cannot drift from what the system really does: a camera that reads
plates is said to read plates; face recognition is said to run only where it is switched on,
the camera's sign is confirmed *and* an authorisation covers it now.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

from contract.siteconfig import SiteConfig
from contract.watchlist import Authorisation
from hub.retention import Lifetimes


class CameraPrivacy(BaseModel):
    node: str
    camera: str
    area: str
    blur_faces: bool
    plates: bool
    signage_confirmed: bool
    faces: str  # "off" | "no sign confirmed" | "no authorisation in force" | "authorised: ids"


class RetentionKind(BaseModel):
    kind: str
    what: str
    where: str
    days: float | None  # None: not kept at all
    note: str = ""


class PrivacySummary(BaseModel):
    site: str
    operator: str | None
    contact: str | None
    purpose: str
    cameras: list[CameraPrivacy]
    sensors: list[dict[str, str]]
    plate_logging: str | None  # its purpose, or None: reads off every list are not kept
    face_recognition: bool  # watchlists.faces.enabled
    where: list[str]
    retention: list[RetentionKind]
    authorisations: list[Authorisation]


def privacy_summary(
    config: SiteConfig, lifetimes: Lifetimes, authorisations: Sequence[Authorisation], now: datetime
) -> PrivacySummary:
    """The privacy page's content; ``authorisations`` are those in force at ``now``."""
    live = [a for a in authorisations if a.in_force(now)]
    hub = config.hub
    cameras = [
        CameraPrivacy(
            node=g.node,
            camera=c.name,
            area=c.area,
            blur_faces=c.privacy.blur_faces,
            plates=c.plates,
            signage_confirmed=c.signage_confirmed,
            faces=_faces(config, g.node, c, live),
        )
        for g in config.gateways
        for c in g.cameras
    ]
    logging = config.watchlists.plates.logging
    outboxes = [
        f"gateway {g.node}: its outbox in {g.data_dir} until the hub confirms receipt"
        for g in config.gateways
    ]
    return PrivacySummary(
        site=config.site.name,
        operator=hub.privacy.operator,
        contact=hub.privacy.contact,
        purpose=hub.privacy.purpose,
        cameras=cameras,
        sensors=[{"node": s.node, "area": s.area, "kind": s.kind} for s in config.sensors],
        plate_logging=logging.purpose if logging else None,
        face_recognition=config.watchlists.faces.enabled,
        where=[
            f"the hub's data folder {hub.data_dir} (database, snapshots, encrypted watchlist "
            "photos and match crops; owner-only)",
            *outboxes,
        ],
        retention=retention_kinds(config, lifetimes, live),
        authorisations=live,
    )


def _faces(config: SiteConfig, node: str, camera, live: Sequence[Authorisation]) -> str:
    if not config.watchlists.faces.enabled:
        return "off"
    if not camera.signage_confirmed:
        return "no sign confirmed"
    ids = [a.id for a in live if a.covers(node, camera.name, camera.area)]
    return f"authorised: {', '.join(ids)}" if ids else "no authorisation in force"


def retention_kinds(
    config: SiteConfig, lifetimes: Lifetimes, live: Sequence[Authorisation]
) -> list[RetentionKind]:
    """Every kind of personal record, where it is and how long it is kept."""
    db = "hub database"
    logging = config.watchlists.plates.logging
    crops = sorted({a.retention_days for a in live})
    rows = [
        RetentionKind(kind="alerts", what="alerts (what, where, when; plates read)", where=db,
                      days=lifetimes.alerts),
        RetentionKind(kind="snapshots", what="alert photos, faces blurred", where="hub snapshots/",
                      days=lifetimes.snapshot_days),
        RetentionKind(kind="plate_log", what="plates read that are on no list", where=db,
                      days=logging.retention_days if logging else None,
                      note=f"purpose: {logging.purpose}" if logging else "not kept"),
        RetentionKind(kind="match_crops", what="verified watchlist match crops (not blurred)",
                      where="hub watchlist/ (encrypted)", days=max(crops) if crops else None,
                      note="each kept its authorisation's retention_days"),
        RetentionKind(kind="audit", what="who saw or did what", where=db, days=lifetimes.audit),
        RetentionKind(kind="notifications", what="messages sent to officers", where=db,
                      days=lifetimes.notifications),
        RetentionKind(kind="positions", what="patrol units' tracks", where=db,
                      days=lifetimes.positions),
        RetentionKind(kind="quarantine", what="refused messages", where=db,
                      days=lifetimes.quarantine),
    ]  # fmt: skip
    return rows


def sign_notice(summary: PrivacySummary) -> str:
    """The notice in plain words, one paragraph per fact, for a printed sign."""
    plates = [c.camera for c in summary.cameras if c.plates]
    faces = [c.camera for c in summary.cameras if c.faces.startswith("authorised")]
    alerts = next(r.days for r in summary.retention if r.kind == "alerts")
    lines = [
        "CCTV — community security cameras",
        f"{summary.site}: cameras and sensors here are run by "
        f"{summary.operator or '(operator not set: hub.privacy.operator)'} "
        f"for {summary.purpose} only.",
        "The cameras detect people and vehicles entering watched areas and alert local "
        "officers. Faces in stored pictures are blurred.",
        f"Vehicle number plates are read by these cameras: {', '.join(plates)}."
        if plates
        else "Vehicle number plates are not read.",
        f"Face recognition is authorised for a specific case on: {', '.join(faces)}."
        if faces
        else "Face recognition is not in use.",
        f"Alerts and their pictures are deleted after {alerts:g} days at most.",
        "To see or delete what is stored about you, contact "
        f"{summary.contact or '(contact not set: hub.privacy.contact)'}.",
    ]
    return "\n\n".join(lines) + "\n"


def sign_notice_html(summary: PrivacySummary) -> str:
    """The notice as a printable page: nothing but the text."""
    paragraphs = sign_notice(summary).strip().split("\n\n")
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs[1:])
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(paragraphs[0])}</title></head>"
        "<body>"  # the hub's CSP forbids inline styles: printed with the browser's own
        f"<h1>{html.escape(paragraphs[0])}</h1>\n{body}\n</body></html>\n"
    )
