"""What a camera's object detector runs and which of its detections count (``Camera.detect``).

Two models are available (see :mod:`edge.detectors`):

``centernet``
    CenterNet-MobileNetV3 (COCO): person, bicycle, car, motorcycle, bus, truck. ~65 ms per
    run on one core of the reference gateway.
``ssdlite``
    SSDLite-MobileNetV2 trained on people only. ~20-25 ms per run: the cheap choice for a
    camera whose rules only watch people.
``auto`` (default)
    ``ssdlite`` when every rule of the camera watches only people, else ``centernet``.

Where and at which precision the model runs:

``backend: auto | onnxruntime | openvino`` (default ``auto``)
    ``auto`` takes OpenVINO when it is installed (``pip install villagewatch[openvino]``), the
    precision is fp32 (same results as onnxruntime) and a start-up race finds it faster on
    this machine; else onnxruntime (:mod:`edge.detectors.sessions`).
``precision: fp32 | bf16 | int8`` (default ``fp32``)
    ``bf16`` runs the fp32 model with OpenVINO computing in bfloat16, on CPUs that do bf16
    natively (AVX-512 BF16 or AMX; elsewhere it computes in fp32 and says so): ~0.7x the time,
    and it counted people as well as fp32 on our hand-labelled vtest frames. ``int8`` runs the
    statically quantized model (``models/*.int8.onnx``): cheaper, but it counted people worse
    than fp32 (``bench/detector_accuracy.py``), so fp32 stays the default.

Per-label **filters** follow Frigate's ``objects.filters`` shape::

    detect:
      filters:
        person: {min_score: 0.45, threshold: 0.6, min_area: 0.001, max_ratio: 1.2}
      object_masks:                       # e.g. a statue that looks like a person
        - [[0.1, 0.5], [0.2, 0.5], [0.2, 0.7], [0.1, 0.7]]

* ``min_score``: a detection this strong may start a track or lead one; weaker ones, down to
  0.1, only continue a track that exists (ByteTrack's second stage);
* ``threshold``: rules only see a track whose *median* score over its life reaches this, so a
  shadow that scores high on one frame never raises an alert;
* ``min_area``/``max_area``: box area as a share of the frame; ``min_ratio``/``max_ratio``:
  box width / height (a standing person is about 0.4);
* ``masks`` (per label) and ``object_masks`` (every label): polygons in frame fractions; a
  detection whose feet (box bottom centre) fall inside is dropped.

A score means different things to different models (CenterNet rarely scores a person above
0.7, SSDLite often above 0.9), so ``min_score`` and ``threshold`` left unset take the model's
own defaults (:data:`MODEL_SCORE_DEFAULTS`). The older shorthand ``min_score: {person: 0.5}``
is still accepted and sets ``filters.<label>.min_score``.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from contract.camera_settings import Polygon
from contract.rule_settings import KNOWN_LABELS

DetectorModel = Literal["auto", "centernet", "ssdlite"]
DetectorBackend = Literal["auto", "onnxruntime", "openvino"]
DetectorPrecision = Literal["fp32", "bf16", "int8"]
#: Spellings people reach for, and what they most likely meant.
_BACKEND_HINTS = {"ort": "onnxruntime", "onnx": "onnxruntime", "ov": "openvino"}
_PRECISION_HINTS = {
    "float32": "fp32",
    "float": "fp32",
    "fp16": "bf16",
    "bfloat16": "bf16",
    "uint8": "int8",
}
#: field -> (its choices, the hints above): one check for both (DetectSettings._known_choice).
_CHOICES = {
    "backend": (get_args(DetectorBackend), _BACKEND_HINTS),
    "precision": (get_args(DetectorPrecision), _PRECISION_HINTS),
}
#: The labels each model reports.
MODEL_LABELS: dict[str, tuple[str, ...]] = {
    "centernet": KNOWN_LABELS,
    "ssdlite": ("person",),
}
#: (min_score, threshold) per model and label; "*" for labels not listed. Tuned on the
#: committed excerpt (``tests/test_edge_filters.py`` and the edge report).
MODEL_SCORE_DEFAULTS: dict[str, dict[str, tuple[float, float]]] = {
    "centernet": {
        "person": (0.45, 0.5),
        "car": (0.35, 0.4),
        "truck": (0.35, 0.4),
        "bus": (0.35, 0.4),
        "*": (0.45, 0.5),
    },
    "ssdlite": {"person": (0.4, 0.6), "*": (0.4, 0.6)},
}


class ObjectFilter(BaseModel):
    """Which detections of one label count. Unset scores take the model's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_score: float | None = Field(
        None, ge=0.0, le=1.0, description="score to start or lead a track (model default)"
    )
    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="median score over the track that rules need"
    )
    min_area: float = Field(0.0, ge=0.0, le=1.0, description="smallest box, share of the frame")
    max_area: float = Field(1.0, gt=0.0, le=1.0, description="largest box, share of the frame")
    min_ratio: float = Field(0.0, ge=0.0, description="narrowest box, width / height")
    max_ratio: float = Field(100.0, gt=0.0, description="widest box, width / height")
    masks: list[Polygon] = Field(
        default_factory=list, description="drop this label when its feet are inside one"
    )

    @model_validator(mode="after")
    def _ranges(self) -> ObjectFilter:
        if self.min_area >= self.max_area:
            raise ValueError(f"min_area {self.min_area} must be below max_area {self.max_area}")
        if self.min_ratio >= self.max_ratio:
            raise ValueError(f"min_ratio {self.min_ratio} must be below max_ratio {self.max_ratio}")
        return self


class DetectSettings(BaseModel):
    """The detector of one camera: model, rate and per-label filters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: DetectorModel = Field(
        "centernet",
        description="centernet (default: people and vehicles, most accurate), ssdlite (people "
        "only, ~3x cheaper) or auto (ssdlite when the rules only watch people)",
    )
    backend: DetectorBackend = Field(
        "auto",
        description="onnxruntime, openvino (pip install villagewatch[openvino]) or auto "
        "(openvino for fp32 when installed and faster here, else onnxruntime)",
    )
    precision: DetectorPrecision = Field(
        "fp32",
        description="fp32 (default), bf16 (OpenVINO computing in bfloat16 where the CPU does "
        "it natively: ~0.7x the time, same counts on our labelled frames) or int8 (the "
        "quantized model: cheaper, counts people less well on our labelled frames)",
    )
    fps: float = Field(5.0, gt=0, le=30, description="detector runs per second at most")
    idle_fps: float = Field(
        1.0,
        gt=0,
        le=30,
        description="runs per second while motion goes on where the detector keeps finding "
        "nothing (a tree in the wind); new motion elsewhere still runs it at once",
    )
    barren_after: int = Field(
        3,
        ge=0,
        le=10_000,
        description="fruitless detector looks after which a cell of the 16x12 motion grid is "
        "barren (leaves, water, a flickering light): motion only in barren cells no longer runs "
        "the detector; a find resets the cells around it; 0 turns this off",
    )
    barren_recheck_s: float = Field(
        30.0,
        gt=0,
        description="motion only in barren cells still runs the detector once in this many "
        "seconds (a safety net; motion in any other cell runs it at once)",
    )
    barren_forget_s: float = Field(
        600.0,
        gt=0,
        description="a barren cell without motion for this long is learned afresh",
    )
    threads: int = Field(1, ge=1, le=8)
    filters: dict[str, ObjectFilter] = Field(
        default_factory=dict, description="per-label filters; unlisted labels use defaults"
    )
    object_masks: list[Polygon] = Field(
        default_factory=list, description="drop any detection whose feet are inside one"
    )

    @model_validator(mode="before")
    @classmethod
    def _fold_min_score(cls, data: Any) -> Any:
        # The first site files wrote ``min_score: {label: score}``; keep reading them.
        if isinstance(data, dict) and "min_score" in data:
            data = dict(data)
            legacy = data.pop("min_score")
            if not isinstance(legacy, dict):
                raise ValueError("min_score must map labels to scores, e.g. {person: 0.5}")
            filters = dict(data.get("filters") or {})
            for label, score in legacy.items():
                entry = filters.get(label) or {}
                entry = dict(entry.model_dump() if isinstance(entry, ObjectFilter) else entry)
                if entry.get("min_score") is None:
                    entry["min_score"] = score
                filters[label] = entry
            data["filters"] = filters
        return data

    @field_validator("backend", "precision", mode="before")
    @classmethod
    def _known_choice(cls, value: Any, info: ValidationInfo) -> Any:
        """An unknown backend or precision is refused naming the choices (and the likely
        one, for a common misspelling), not with pydantic's literal_error."""
        choices, hints = _CHOICES[info.field_name]
        if isinstance(value, str) and value not in choices:
            hint = hints.get(value.lower())
            raise ValueError(
                f"detect.{info.field_name} {value!r} is not one of {', '.join(choices)}"
                + (f" (did you mean {hint}?)" if hint else "")
            )
        return value

    @field_validator("filters")
    @classmethod
    def _known_labels(cls, value: dict[str, ObjectFilter]) -> dict[str, ObjectFilter]:
        unknown = sorted(set(value) - set(KNOWN_LABELS))
        if unknown:
            raise ValueError(f"filters for unknown labels {unknown}; use {list(KNOWN_LABELS)}")
        return value

    @model_validator(mode="after")
    def _bf16_on_openvino(self) -> DetectSettings:
        if self.precision == "bf16" and self.backend == "onnxruntime":
            raise ValueError(
                "detect.precision bf16 runs on OpenVINO only: set detect.backend to openvino "
                "or auto (pip install 'villagewatch[openvino]'), or precision to fp32"
            )
        return self

    def filter_for(self, label: str, model: str) -> ObjectFilter:
        """The filter of ``label`` under ``model`` with every score filled in."""
        given = self.filters.get(label) or ObjectFilter()
        defaults = MODEL_SCORE_DEFAULTS[model]
        min_score, threshold = defaults.get(label, defaults["*"])
        return given.model_copy(
            update={
                "min_score": given.min_score if given.min_score is not None else min_score,
                "threshold": given.threshold if given.threshold is not None else threshold,
            }
        )
