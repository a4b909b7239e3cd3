"""Model files and how they run: where they live, one onnxruntime session recipe, and the
image check, for every model the edge and the hub run (detectors, CenterFace, the face
descriptor)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def models_dir() -> Path:
    """Where model files live: ``$VILLAGEWATCH_MODELS`` or the repository's ``models/``."""
    env = os.environ.get("VILLAGEWATCH_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "models"


def check_model_file(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(
            f"model not found: {path} (models are committed under models/, built by "
            "models/build_models.py; or set VILLAGEWATCH_MODELS to the folder holding them)"
        )


def onnx_session(path: Path, threads: int = 1):
    """An onnxruntime CPU session on ``threads`` threads (1 by default: the detector needs
    the other core). onnxruntime is imported here so modules that never run a model load
    without it."""
    import onnxruntime as ort

    check_model_file(path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def check_bgr_image(image: np.ndarray) -> None:
    """A uint8 BGR image of shape [H, W, 3], or ``ValueError`` saying what it is instead."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"expected a BGR image of shape [H, W, 3], got {shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
