"""CenterNet-MobileNetV3 (COCO) on onnxruntime or OpenVINO: people and five kinds of vehicle.

The model (``models/centernet_mobilenetv3_coco.onnx``, converted from the npm package
@vladmandic/human 3.3.6 by ``models/build_models.py``; see its provenance JSON) takes one
512x512 RGB image, float32 0..255, NHWC, and returns 100 rows ``x1, y1, x2, y2, score, class``
with boxes in *input* pixels and 0-based COCO-80 classes (0 = person). We keep only the six
labels a village cares about and apply per-label NMS, as @vladmandic/human does, then a
looser cross-label NMS (a van is sometimes both "car" and "truck").
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from edge.detections import Detections
from edge.detectors.base import OnnxDetector, Region

#: COCO-80 class ids (0-based, as the model emits them) of the labels we report.
COCO_IDS = {"person": 0, "bicycle": 1, "car": 2, "motorcycle": 3, "bus": 5, "truck": 7}
_PAD_GREY = (114, 114, 114)


class CenterNetDetector(OnnxDetector):
    """CenterNet MobileNetV3 (COCO) through onnxruntime on the CPU."""

    model = "centernet"
    labels = tuple(COCO_IDS)

    def _setup(self) -> None:
        self.input_size = int(self._session.input_shape[1] or 512)
        self._output_name = next(n for n in self._session.output_names if "detections" in n)
        self._class_to_label = {cid: label for label, cid in COCO_IDS.items()}
        self._class_ids = np.array(list(self._class_to_label), dtype=np.int64)

    def _blob(self, crop: np.ndarray) -> tuple[np.ndarray, float]:
        """The network input for a crop, and the factor from input pixels back to crop pixels.

        Non-square crops are padded (right/bottom, grey) to a square first: keeping people's
        aspect ratio finds ~5% more of them on 4:3 footage than stretching does. The crop is
        resized *before* padding and colour conversion, so both touch only 512x512 pixels, and
        bilinearly: ``INTER_AREA`` costs ~3 ms more per run and found the same people.
        """
        h, w = crop.shape[:2]
        side = max(h, w)
        s = self.input_size
        scale = s / side
        rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = cv2.resize(crop, (rw, rh), interpolation=cv2.INTER_LINEAR)
        if (rw, rh) != (s, s):
            resized = cv2.copyMakeBorder(
                resized, 0, s - rh, 0, s - rw, cv2.BORDER_CONSTANT, value=_PAD_GREY
            )
        blob = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32)[None]
        return blob, side / s

    def _run(self, image: np.ndarray, region: Region, floor: float) -> Detections:
        x1, y1, x2, y2 = (round(v) for v in region)
        crop = image[y1:y2, x1:x2]
        if crop.size == 0:
            return Detections.empty()
        blob, scale = self._blob(crop)
        rows = self._session.run([self._output_name], {self._input_name: blob})[0][0]
        classes = rows[:, 5].astype(np.int64)
        keep = np.isin(classes, self._class_ids) & (rows[:, 4] >= floor)
        rows, classes = rows[keep], classes[keep]
        boxes = rows[:, :4] * scale + np.array([x1, y1, x1, y1], dtype=np.float32)
        labels = [self._class_to_label[int(c)] for c in classes]
        return Detections.from_arrays(boxes, rows[:, 4], labels)

    def _infer(self, image: np.ndarray, regions: list[Region], floor: float) -> Detections:
        t0 = time.perf_counter()
        found = Detections.concat([self._run(image, r, floor) for r in regions])
        self.last_inference_ms = (time.perf_counter() - t0) * 1000.0
        return found
