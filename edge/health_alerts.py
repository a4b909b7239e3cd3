"""Camera health events as alerts: what an officer sees when a camera stops being useful.

:class:`edge.camera_health.CameraHealth` says *what* happened (raised or cleared, with the
measure); this module turns that into a wire :class:`~contract.protocol.Alert` for the
camera's area, through the same outbox as every other alert. Which events carry a snapshot:
a *moved* or *defocused* camera still films something, and the picture shows the officer
what it sees now; a lost stream has no picture, and a covered or blinded one shows nothing.
That snapshot is the whole (privacy-masked) view with every face blurred: the detector runs
once more on the frame, weak detections included, so that each person's head can be blurred
even where the face detector finds no face (:func:`health_snapshot`).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from contract.camera_settings import PrivacySettings
from contract.protocol import Alert
from contract.siteconfig import Camera
from edge.camera_health import HealthEvent, HealthKind, alert_fields
from edge.detectors import Detector
from edge.faces import FaceBlurrer
from edge.privacy import PrivacyMask
from edge.snapshot import make_snapshot

#: Raised conditions whose alert carries a snapshot of the current view.
SNAPSHOT_KINDS = frozenset({HealthKind.CAMERA_MOVED, HealthKind.DEFOCUSED})


#: Person detections this weak still get their head blurred in a health snapshot.
PRIVACY_LOW_SCORE = 0.2


def wants_snapshot(event: HealthEvent) -> bool:
    return event.raised and event.kind in SNAPSHOT_KINDS


def health_snapshot(
    image: np.ndarray,
    detector: Detector,
    settings: PrivacySettings,
    *,
    mask: PrivacyMask | None,
    blurrer: FaceBlurrer | None,
) -> bytes | None:
    """The whole view as a publishable JPEG, or None when it cannot be made safe."""
    try:
        found = detector.detect(image, low_score=PRIVACY_LOW_SCORE)
    except Exception:  # no people boxes, no safe snapshot
        return None
    people = found[found.label == "person"]
    return make_snapshot(image, people[:0], people, settings, mask=mask, blurrer=blurrer)


def build_health_alert(
    event: HealthEvent,
    *,
    alert_id: str,
    seq: int,
    site: str,
    node: str,
    camera: Camera,
    when: datetime,
    frame_size: tuple[int, int] | None,
    has_snapshot: bool,
) -> Alert:
    """The alert for ``event`` on ``camera``; ``when`` is its wall-clock (event) time."""
    fields = alert_fields(event)
    return Alert(
        id=alert_id,
        site=site,
        node=node,
        seq=seq,
        ts=when,
        kind=fields["kind"],
        severity=fields["severity"],
        area=camera.area,
        camera=camera.name,
        message=f"{fields['message']} (camera {camera.name})"[:280],
        frame_size=frame_size if has_snapshot else None,
        has_snapshot=has_snapshot,
    )
