"""Alert snapshots: the part of the frame that raised an alert, as a JPEG safe to publish.

Privacy first (:func:`edge.privacy.prepare_snapshot`, per ``Camera.privacy``): the camera's
privacy masks are blanked, the image is cropped to the triggering objects plus context, and
every face CenterFace finds — plus, as a fallback, the head of every person in whom it found
none — is irreversibly blurred. Only then are the triggering boxes and the rule's outline
drawn in, and the image shrunk to at most ``max_width`` pixels wide at JPEG quality 80.

This is the only image that ever leaves the gateway, and the one a replay stores. When the
blurring fails (model missing, onnxruntime error), :func:`make_snapshot` returns None: the
alert then goes out with ``has_snapshot=False`` and no image — never an unblurred face.

The one exception is :func:`match_snapshot`: the face crop of a watchlist face match (only
where recognition is lawfully authorised), sent unblurred because officers must compare it
with the enrolled photo before anyone acts on it.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from contract.camera_settings import PrivacySettings
from contract.protocol import MAX_SNAPSHOT_BYTES
from edge.detections import Detections
from edge.faces import FaceBlurrer
from edge.privacy import PrivacyMask, prepare_snapshot, shifted

log = logging.getLogger(__name__)

_BOX = (0, 0, 255)  # red, BGR
_ZONE = (0, 215, 255)  # amber


def make_snapshot(
    frame: np.ndarray,
    objects: Detections,
    people: Detections | None,
    settings: PrivacySettings,
    *,
    mask: PrivacyMask | None = None,
    blurrer: FaceBlurrer | None = None,
    outline: np.ndarray | None = None,
) -> bytes | None:
    """The JPEG of an alert raised by ``objects`` on ``frame`` (BGR, frame pixels), privacy
    filtered, or None when it cannot be made safe.

    ``people``: every person box in the frame, so bystanders' faces are blurred too.
    ``outline``: the rule's pixel geometry (a polygon, or a line's two points) to draw in.
    ``frame`` is not modified.
    """
    try:
        prepared = prepare_snapshot(frame, objects, people, settings, mask=mask, blurrer=blurrer)
    except Exception:
        log.exception("snapshot privacy filter failed; the alert goes out without an image")
        return None
    dx, dy = prepared.offset
    if outline is not None:
        outline = np.asarray(outline, dtype=np.float32).reshape(-1, 2) - np.float32([dx, dy])
    return render_snapshot(prepared.image, shifted(objects, (dx, dy)), zone=outline)


def match_snapshot(crop: np.ndarray) -> bytes:
    """The JPEG of a watchlist face match's crop (edge/face_watch.py), **not blurred**, with
    nothing drawn on it."""
    return render_snapshot(crop, Detections.empty())


def render_snapshot(
    image: np.ndarray,
    objects: Detections,
    *,
    zone: np.ndarray | None = None,
    quality: int = 80,
    max_width: int = 1280,
) -> bytes:
    """JPEG bytes of ``image`` with ``objects`` boxed and labelled and ``zone`` outlined.

    ``image`` must already be fit to publish (see :func:`make_snapshot`); it is not modified.
    ``zone`` is a pixel polygon ([N,1,2] or [N,2]; two points draw a line). Raises
    ``ValueError`` when the result would exceed the protocol's snapshot limit even at low
    quality (it never does for sane frames).
    """
    frame = image.copy()
    h, w = frame.shape[:2]
    thick = max(1, round(w / 400))
    if zone is not None:
        pts = np.round(np.asarray(zone, dtype=np.float32).reshape(-1, 1, 2)).astype(np.int32)
        cv2.polylines(frame, [pts], isClosed=len(pts) > 2, color=_ZONE, thickness=thick)
    for box, label, score, track in zip(
        objects.xyxy, objects.label, objects.score, objects.track_id, strict=True
    ):
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        cv2.rectangle(frame, (x1, y1), (x2, y2), _BOX, thick)
        text = f"{label} {score:.0%}" + (f" #{track}" if track >= 0 else "")
        scale = 0.4 * thick
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = y1 - 2 if y1 - th - base - 2 >= 0 else y2 + th + 2
        cv2.rectangle(frame, (x1, ty - th - base), (x1 + tw, ty + base // 2), _BOX, cv2.FILLED)
        cv2.putText(
            frame,
            text,
            (x1, ty - base // 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    if w > max_width:
        frame = cv2.resize(
            frame, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA
        )
    for q in (quality, 60, 40):
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok and len(buf) <= MAX_SNAPSHOT_BYTES:
            return buf.tobytes()
    raise ValueError(f"snapshot of a {w}x{h} frame exceeds {MAX_SNAPSHOT_BYTES} bytes")
