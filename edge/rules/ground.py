"""``GroundPlane``: from image pixels to metres on flat ground, via a homography.

A camera calibrated with four marks on the ground (``Camera.calibration`` in the site file:
their image positions and their positions in metres) defines a plane-to-plane mapping, a
3x3 homography (``cv2.getPerspectiveTransform``). Straight lines on the ground stay straight
in the image, so a polygon drawn on the image maps to a polygon on the ground vertex by
vertex, and its area in m² is the shoelace formula on the mapped vertices — which is how
the crowd rings report people per m².
"""

from __future__ import annotations

import cv2
import numpy as np

from contract.rule_settings import GroundCalibration


class GroundPlane:
    """The ground of one camera at one frame size."""

    def __init__(self, calibration: GroundCalibration, frame_size: tuple[int, int]) -> None:
        w, h = frame_size
        image = np.asarray([[x * w, y * h] for x, y in calibration.image], dtype=np.float32)
        ground = np.asarray(calibration.ground_m, dtype=np.float32)
        self.homography = cv2.getPerspectiveTransform(image, ground)

    def to_ground(self, points: np.ndarray) -> np.ndarray:
        """[N,2] image pixels → [N,2] metres on the ground."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 1, 2)
        if not len(pts):
            return np.zeros((0, 2))
        return cv2.perspectiveTransform(pts, self.homography).reshape(-1, 2)

    def area_m2(self, polygon: np.ndarray) -> float:
        """Ground area (m²) of an image polygon given in pixels ([N,2] or [N,1,2])."""
        g = self.to_ground(polygon)
        x, y = g[:, 0], g[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)
