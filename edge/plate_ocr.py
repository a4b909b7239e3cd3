"""``PlateOCR``: text detection and recognition on a vehicle crop, offline.

The engine is RapidOCR (PyPI ``rapidocr`` 3.10.0, Apache-2.0) on onnxruntime, with the
PP-OCRv6 *small* detection and recognition models that ship **inside its wheel**
(``rapidocr/models/``; provenance and sha256 in ``models/README.md``). We hand it the model
paths explicitly: RapidOCR can also fetch models and dictionaries by URL (it depends on
``requests``), and it does so whenever a path is missing, so naming the packaged files is what
keeps the gateway offline (``tests/test_edge_plates.py`` runs it with sockets blocked). The
recognition model carries its character table in its own metadata, so no dictionary is
looked for either. The angle classifier is off (plates are upright; it would cost a third
model).

Detection runs at most :data:`DET_MAX_SIDE` px on the crop's longer side (RapidOCR's default
scales the *shorter* side up to 736 px: 1.3-3.5 s on a plate crop here, against 30-40 ms).

One engine serves all cameras of a gateway; RapidOCR keeps per-call state in the engine, so
calls are serialised by a lock.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract.plates import looks_like_plate, normalise

#: The files inside the ``rapidocr`` wheel (models/README.md has their sha256).
DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
DET_MAX_SIDE = 480
#: The files' sha256 in rapidocr 3.10.0: another version's models are refused, not used
#: unmeasured (bench/plate_accuracy.py measured these).
MODEL_SHA256 = {
    DET_MODEL: "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    REC_MODEL: "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
    CLS_MODEL: "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
}


def model_dir() -> Path:
    """Where the wheel keeps its models (found without importing RapidOCR's engine)."""
    import importlib.util

    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "the plate stage needs the rapidocr package: pip install rapidocr==3.10.0"
        )
    return Path(spec.origin).parent / "models"


@dataclass(frozen=True)
class TextRead:
    """One plate-shaped text: normalised, with the recogniser's confidence (0..1)."""

    text: str
    confidence: float


class PlateOCR:
    """Lazy, thread-safe RapidOCR with the packaged models. ``threads``: onnxruntime's
    intra-op threads (1 keeps replays deterministic and leaves the detector its core)."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._engine = None
        self._lock = threading.Lock()

    def model_files(self) -> list[Path]:
        folder = model_dir()
        return [folder / DET_MODEL, folder / REC_MODEL, folder / CLS_MODEL]

    def _load(self):
        det, rec, cls = self.model_files()
        for path in (det, rec, cls):
            if not path.is_file():  # RapidOCR would try to download it: refuse instead
                raise FileNotFoundError(f"OCR model missing from the rapidocr wheel: {path}")
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != MODEL_SHA256[path.name]:
                raise ValueError(f"{path} is not the model measured here (sha256 {digest})")
        from rapidocr import RapidOCR  # here: modules that never read plates load without it

        return RapidOCR(
            params={
                "Global.log_level": "error",
                "Global.use_cls": False,
                "Global.model_root_dir": str(det.parent),
                "Det.model_path": str(det),
                "Det.limit_type": "max",
                "Det.limit_side_len": DET_MAX_SIDE,
                "Rec.model_path": str(rec),
                "Cls.model_path": str(cls),
                "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )

    def texts(self, image: np.ndarray) -> list[TextRead]:
        """Every text line found in the BGR ``image``, normalised, with its confidence; text
        boxes on one line are also offered joined (a plate's ``·`` gap often splits it)."""
        with self._lock:
            if self._engine is None:
                self._engine = self._load()
            out = self._engine(image)
        if out.txts is None or out.boxes is None:
            return []
        found = [
            (np.asarray(box, np.float32), normalise(txt), float(score))
            for box, txt, score in zip(out.boxes, out.txts, out.scores, strict=True)
        ]
        reads = [TextRead(t, s) for _, t, s in found if t]
        reads += _joined_lines(found)
        return reads

    def read_plate(self, image: np.ndarray) -> TextRead | None:
        """The most confident plate-shaped text in ``image``, if any."""
        plates = [r for r in self.texts(image) if looks_like_plate(r.text)]
        return max(plates, key=lambda r: r.confidence, default=None)


def _joined_lines(found: list[tuple[np.ndarray, str, float]]) -> list[TextRead]:
    """Neighbouring boxes whose vertical centres lie within half a box height of each other,
    joined left to right; the confidence of a join is its weakest part's."""
    if len(found) < 2:
        return []
    rows = sorted(found, key=lambda f: float(f[0][:, 0].min()))
    joined: list[TextRead] = []
    for i, (box, text, score) in enumerate(rows):
        cy, h = float(box[:, 1].mean()), float(np.ptp(box[:, 1]))
        parts, conf = [text], score
        for other, t2, s2 in rows[i + 1 :]:
            if abs(float(other[:, 1].mean()) - cy) > h / 2:
                continue
            parts.append(t2)
            conf = min(conf, s2)
            joined.append(TextRead("".join(parts), conf))
    return joined
