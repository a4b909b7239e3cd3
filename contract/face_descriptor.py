"""Face embeddings, computed the same way on both sides: the hub embeds an enrolment photo,
the gateway embeds a face it sees live, and the two vectors are compared with
:func:`similarity`. One function on both sides is the whole point: a different crop or colour
order on one side would make every comparison quietly wrong.

Two models, both committed under ``models/`` with their provenance JSON:

* **CenterFace** (``centerface.onnx``, :mod:`contract.centerface`) finds faces;
* **FaceRes** (``faceres.onnx``, from npm ``@vladmandic/human`` 3.3.6, HSE-FaceRes; built by
  ``models/build_faceres.py``) turns a face into a 1024-D descriptor. It takes a 224x224 RGB
  crop, float 0..255, NHWC (what human's ``faceres.ts`` feeds it).

The crop: a square centred on the CenterFace box, :data:`CROP_SCALE` times its longer side
(edge pixels repeated where the square leaves the image), stretched to 224x224. The descriptor
is L2-normalised, so comparing two is a dot product.

:func:`similarity` is the **cosine, clipped to 0..1**. FaceRes's descriptor is a global average
of ReLU outputs, so every component is >= 0 and the cosine cannot go negative anyway; the clip
only guards. On the carphone clip (one man, 120 frames, enrolled from frame 0) the other
frames score 0.67..0.99; the astronaut and the cameraman score at most 0.36 and 0.43
(``bench/face_accuracy.py``).

Embeddings are biometric data. This module keeps none: callers decide, and the gateway drops
every embedding that matches nobody at once (``edge/face_watch.py``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from contract.centerface import CenterFace
from contract.models import check_bgr_image, models_dir, onnx_session
from contract.watchlist import EMBEDDING_DIM

MODEL_FILE = "faceres.onnx"
INPUT_NAME = "input_1:0"
OUTPUT_NAME = "global_pooling/Mean"
INPUT_SIDE = 224
#: The square crop's side, as a multiple of the face box's longer side.
CROP_SCALE = 1.2
#: CenterFace score a face needs here. Higher than the blurring threshold (0.2): blurring
#: must not miss a face, recognition must not embed a hand or a bag.
MIN_FACE_SCORE = 0.5
#: Faces narrower than this (pixels of the image they were found in) are not embedded: the
#: descriptor of a face a few pixels wide says little about whose face it is.
MIN_FACE_PX = 24
#: The whole image is searched at most this many pixels wide or high (larger is shrunk).
MAX_SEARCH_SIDE = 640


class FaceBox(NamedTuple):
    """A face found by :meth:`FaceDescriber.faces`, in pixels of the image searched."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def area(self) -> float:
        return max(0.0, self.x2 - self.x1) * max(0.0, self.y2 - self.y1)


class FaceDescriber:
    """Finds faces (CenterFace) and describes them (FaceRes), one onnxruntime thread each.

    ``model_dir``: the folder holding ``centerface.onnx`` and ``faceres.onnx`` (default
    ``$VILLAGEWATCH_MODELS`` or the repository's ``models/``). Nothing is loaded until
    :meth:`load` or the first use. ``invocations`` counts FaceRes runs, so a test can prove a
    switched-off stage never ran the model.
    """

    def __init__(self, model_dir: Path | str | None = None, *, threads: int = 1) -> None:
        folder = Path(model_dir) if model_dir else models_dir()
        self.detector = CenterFace(folder / "centerface.onnx")
        self.path = folder / MODEL_FILE
        self.threads = threads
        self.invocations = 0
        self._session = None
        self._lock = threading.Lock()

    def load(self) -> FaceDescriber:
        """Load both models now (a gateway does at start, not on the first face)."""
        self.detector.load()
        self._descriptor()
        return self

    def _descriptor(self):
        with self._lock:
            if self._session is None:
                self._session = onnx_session(self.path, self.threads)
            return self._session

    def faces(self, image_bgr: np.ndarray, min_score: float = MIN_FACE_SCORE) -> list[FaceBox]:
        """The faces in ``image_bgr`` (uint8 BGR), highest score first."""
        check_bgr_image(image_bgr)
        h, w = image_bgr.shape[:2]
        scale = min(1.0, MAX_SEARCH_SIDE / max(h, w))
        found = self.detector.detect(image_bgr, scale, min_score)
        return [FaceBox(*(float(v) for v in row)) for row in found]

    def embed(self, image_bgr: np.ndarray, box) -> np.ndarray:
        """The L2-normalised float32[1024] descriptor of the face in ``box`` (x1, y1, x2, y2
        in ``image_bgr`` pixels; a :class:`FaceBox` will do)."""
        check_bgr_image(image_bgr)
        crop = face_crop(image_bgr, box)
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)[None]
        session = self._descriptor()
        self.invocations += 1
        vector = session.run([OUTPUT_NAME], {INPUT_NAME: rgb})[0].reshape(-1)
        if vector.shape != (EMBEDDING_DIM,):
            raise ValueError(f"{self.path} gave {vector.size} values, not {EMBEDDING_DIM}")
        norm = float(np.linalg.norm(vector))
        return (vector / norm if norm > 0 else vector).astype(np.float32)

    def embed_photo(self, image_bgr: np.ndarray) -> np.ndarray | None:
        """The descriptor of the largest face in an enrolment photo; None when it has none
        (or only faces narrower than :data:`MIN_FACE_PX`)."""
        faces = [f for f in self.faces(image_bgr) if f.width >= MIN_FACE_PX]
        if not faces:
            return None
        return self.embed(image_bgr, max(faces, key=lambda f: f.area))


def face_crop(image_bgr: np.ndarray, box) -> np.ndarray:
    """The 224x224 BGR square FaceRes sees for ``box``: centred on it, :data:`CROP_SCALE`
    times its longer side, edge pixels repeated where it leaves the image."""
    x1, y1, x2, y2 = (float(v) for v in list(box)[:4])
    side = CROP_SCALE * max(x2 - x1, y2 - y1, 1.0)
    k = INPUT_SIDE / side
    if k < 0.5:
        # A big face (a high-resolution enrolment photo): shrink by area averaging first, as
        # bilinear sampling alone would skip pixels and alias fine detail.
        pre = 2 * k
        image_bgr = cv2.resize(image_bgr, None, fx=pre, fy=pre, interpolation=cv2.INTER_AREA)
        x1, y1, x2, y2, k = x1 * pre, y1 * pre, x2 * pre, y2 * pre, k / pre
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    warp = np.float32([[k, 0, INPUT_SIDE / 2 - cx * k], [0, k, INPUT_SIDE / 2 - cy * k]])
    return cv2.warpAffine(
        image_bgr,
        warp,
        (INPUT_SIDE, INPUT_SIDE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two descriptors, clipped to 0..1 (1 = the same face crop)."""
    a = np.asarray(a, dtype=np.float32).reshape(-1)
    b = np.asarray(b, dtype=np.float32).reshape(-1)
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    if denom == 0.0:
        return 0.0
    return float(np.clip(np.dot(a, b) / denom, 0.0, 1.0))
