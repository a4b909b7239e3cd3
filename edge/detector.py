"""Compatibility name: the detectors moved to :mod:`edge.detectors` (two models, filters)."""

from edge.detectors import (
    COCO_IDS,
    MODEL_FILES,
    CenterNetDetector,
    Detector,
    Region,
    SsdLiteDetector,
    make_detector,
    model_path,
    models_dir,
)

__all__ = [
    "COCO_IDS",
    "MODEL_FILES",
    "CenterNetDetector",
    "Detector",
    "Region",
    "SsdLiteDetector",
    "make_detector",
    "model_path",
    "models_dir",
]
