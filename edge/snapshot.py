"""Alert snapshots: the frame that raised an alert, as a JPEG an officer can read on a phone.

The triggering boxes are drawn in, the zone outline too, and the image is shrunk to at most
``max_width`` pixels wide at JPEG quality 80 (a 768x576 frame is ~60 KB) — small enough to
travel over a village's uplink and far below the hub's ``MAX_SNAPSHOT_BYTES``.

Privacy: the snapshot is the only image that ever leaves the gateway. ``privacy_filter`` is
the hook where face blurring plugs in (a later issue); it gets the clean frame, before any
drawing, and returns the frame to publish.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from contract.protocol import MAX_SNAPSHOT_BYTES
from edge.detections import Detections

#: Takes a BGR frame, returns the frame that may leave the gateway (e.g. with faces blurred).
PrivacyFilter = Callable[[np.ndarray], np.ndarray]

_BOX = (0, 0, 255)  # red, BGR
_ZONE = (0, 215, 255)  # amber


def render_snapshot(
    image: np.ndarray,
    objects: Detections,
    *,
    zone: np.ndarray | None = None,
    privacy_filter: PrivacyFilter | None = None,
    quality: int = 80,
    max_width: int = 1280,
) -> bytes:
    """JPEG bytes of ``image`` with ``objects`` boxed and labelled and ``zone`` outlined.

    ``zone`` is a pixel polygon ([N,1,2] or [N,2]). Raises ``ValueError`` when the result would
    exceed the protocol's snapshot limit even at low quality (it never does for sane frames).
    """
    frame = privacy_filter(image.copy()) if privacy_filter else image.copy()
    h, w = frame.shape[:2]
    thick = max(1, round(w / 400))
    if zone is not None:
        pts = np.round(np.asarray(zone, dtype=np.float32).reshape(-1, 1, 2)).astype(np.int32)
        cv2.polylines(frame, [pts], isClosed=True, color=_ZONE, thickness=thick)
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
