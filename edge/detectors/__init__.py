"""Object detectors: the ``Detector`` interface, its two models and the filters after them.

* :class:`~edge.detectors.centernet.CenterNetDetector` — COCO, six village labels (default
  for cameras whose rules watch vehicles);
* :class:`~edge.detectors.ssdlite.SsdLiteDetector` — people only, about three times faster;
* :class:`~edge.detectors.filters.ObjectFilters` — per-label area and shape limits and
  object masks, applied to whatever a detector found.

:func:`make_detector` builds the model a camera's ``detect.model`` asks for; ``auto`` resolves
through :func:`choose_model`. A detector looks either at the whole frame or at a few square
*regions* around motion (:func:`edge.motion.detection_regions`); region boxes are mapped back
to frame pixels.
"""

from __future__ import annotations

from contract.detect_settings import MODEL_LABELS, DetectSettings
from edge.detectors.base import MODEL_FILES, Detector, Region, model_path, models_dir
from edge.detectors.centernet import COCO_IDS, CenterNetDetector
from edge.detectors.filters import ObjectFilters
from edge.detectors.sessions import SessionPool
from edge.detectors.ssdlite import SsdLiteDetector

__all__ = [
    "COCO_IDS",
    "MODEL_FILES",
    "CenterNetDetector",
    "Detector",
    "ObjectFilters",
    "Region",
    "SessionPool",
    "SsdLiteDetector",
    "choose_model",
    "make_detector",
    "model_path",
    "models_dir",
    "wanted_labels",
]


#: What carries a number plate (COCO names): a camera with ``plates: true`` must see them.
VEHICLE_LABELS = frozenset({"car", "truck", "bus", "motorcycle"})


def wanted_labels(camera: object) -> set[str]:
    """Every object label the camera's rules watch (zones, lines, loitering, crowd, ...),
    and the vehicles when it reads plates (``plates: true``, edge/plates.py)."""
    labels: set[str] = set()
    for name in type(camera).model_fields:  # type: ignore[attr-defined]
        value = getattr(camera, name)
        if isinstance(value, list):
            for rule in value:
                labels.update(getattr(rule, "objects", None) or ())
    if getattr(camera, "plates", False):
        labels |= VEHICLE_LABELS
    return labels


def choose_model(camera: object) -> str:
    """The model a camera runs: its ``detect.model``, with ``auto`` resolved.

    ``auto`` picks SSDLite when the camera has rules and all of them watch only people (it is
    ~3x cheaper), else CenterNet. Raises ``ValueError`` when the chosen model cannot see a
    label the rules need (``ssdlite`` for a no-parking rule)."""
    settings: DetectSettings = camera.detect  # type: ignore[attr-defined]
    wanted = wanted_labels(camera)
    model = settings.model
    if model == "auto":
        model = "ssdlite" if wanted and wanted <= {"person"} else "centernet"
    missing = sorted(wanted - set(MODEL_LABELS[model]))
    if missing:
        name = getattr(camera, "name", "?")
        raise ValueError(
            f"camera {name}: model {model} cannot detect {missing}, which its rules (or its "
            "plate reading) watch; use model: centernet (or auto)"
        )
    return model


def make_detector(
    settings: DetectSettings, model: str, sessions: SessionPool | None = None
) -> Detector:
    """A detector for ``model`` (``centernet`` or ``ssdlite``, not ``auto``); with
    ``sessions`` (the gateway's pool) it shares the network with other cameras on the same
    model: a detector itself is only settings and score floors, the session is the memory."""
    if model == "centernet":
        return CenterNetDetector(settings, sessions=sessions)
    if model == "ssdlite":
        return SsdLiteDetector(settings, sessions=sessions)
    raise ValueError(f"unknown detector model {model!r}; use centernet or ssdlite")
