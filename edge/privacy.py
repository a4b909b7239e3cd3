"""Privacy of snapshots: masks, cropping and face blurring before anything leaves the gateway.

Three independent measures, applied in this order (:func:`prepare_snapshot` does all three):

1. **Privacy masks** (:class:`PrivacyMask`) blank areas that must never be recorded, such as
   a neighbour's window, with solid black. The pipeline applies the mask to every frame
   *before detection* too, so nothing inside a mask is even analysed.
2. **Cropping** (:func:`crop_for_alert`) keeps what the alert needs: the triggering objects
   plus some context around them, never less than a phone-readable minimum.
3. **Face blurring** (:class:`edge.faces.FaceBlurrer`) blurs every face CenterFace finds and,
   as a fail-safe, the head of every person in whom it found none.

Mask polygons are fractions of the frame (0..1, origin top-left), like zones, so they stay
right when a camera's resolution changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from contract.camera_settings import PrivacySettings
from edge.detections import Detections
from edge.faces import FaceBlurrer


class PrivacyMask:
    """Polygons (frame fractions) painted solid black on frames of any size.

    Built once per camera; the pixel mask for each frame size is computed on first use and
    cached, so :meth:`apply` costs one masked assignment per frame.
    """

    def __init__(self, polygons: list[list[tuple[float, float]]] | None = None) -> None:
        self.polygons = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons or []]
        for p in self.polygons:
            if len(p) < 3 or not np.all((p >= 0) & (p <= 1)):
                raise ValueError("a mask polygon needs 3+ points with x and y in 0..1")
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._bounds: dict[tuple[int, int], tuple[int, int, int, int, np.ndarray]] = {}

    @classmethod
    def from_settings(cls, settings: PrivacySettings) -> PrivacyMask:
        return cls([list(p) for p in settings.masks])

    def __bool__(self) -> bool:
        return bool(self.polygons)

    def pixels(self, width: int, height: int) -> np.ndarray:
        """Boolean [H, W]: True where a frame of this size is blanked."""
        key = (width, height)
        if key not in self._cache:
            mask = np.zeros((height, width), dtype=np.uint8)
            # Fractions → pixels with 1/16-px precision; fillPoly also fills the edge pixels,
            # so a pixel the polygon touches is blanked (privacy errs on the safe side).
            scale = np.array([width, height]) * 16
            pts = [np.round(p * scale).astype(np.int32).reshape(-1, 1, 2) for p in self.polygons]
            cv2.fillPoly(mask, pts, 255, cv2.LINE_8, shift=4)
            self._cache[key] = mask > 0
        return self._cache[key]

    def apply(self, image: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        """``image`` with the masked areas black (a copy unless ``inplace``).

        Works on any frame size (and on greyscale frames, e.g. the motion detector's)."""
        out = image if inplace else image.copy()
        if self.polygons:
            h, w = image.shape[:2]
            if (w, h) not in self._bounds:
                mask = self.pixels(w, h)
                ys, xs = np.nonzero(mask)
                y0, y1 = (int(ys.min()), int(ys.max()) + 1) if len(ys) else (0, 0)
                x0, x1 = (int(xs.min()), int(xs.max()) + 1) if len(xs) else (0, 0)
                self._bounds[(w, h)] = (y0, y1, x0, x1, mask[y0:y1, x0:x1])
            # Only the masks' bounding box is touched: a small mask costs almost nothing.
            y0, y1, x0, x1, part = self._bounds[(w, h)]
            out[y0:y1, x0:x1][part] = 0
        return out


def alert_crop(
    frame_size: tuple[int, int],
    boxes: Detections | np.ndarray,
    context: float = 0.5,
    min_size: tuple[int, int] = (320, 240),
) -> tuple[int, int, int, int]:
    """``(left, top, width, height)`` of the part of a ``(w, h)`` frame an alert needs.

    Each box is grown by ``context`` times its own width/height on every side; the crop is
    the union of the grown boxes, widened around its centre to at least ``min_size`` (w, h)
    and to the frame's aspect ratio (so every snapshot of a camera has the same shape), then
    slid (never shrunk) to lie inside the frame. No boxes: the whole frame.
    """
    w_img, h_img = frame_size
    xyxy = boxes.xyxy if isinstance(boxes, Detections) else np.asarray(boxes, np.float32)
    xyxy = xyxy.reshape(-1, 4).astype(np.float64)
    if len(xyxy) == 0:
        return 0, 0, w_img, h_img
    size = xyxy[:, 2:] - xyxy[:, :2]
    grown = np.concatenate([xyxy[:, :2] - context * size, xyxy[:, 2:] + context * size], axis=1)
    x1, y1 = np.clip(grown[:, :2].min(axis=0), 0, [w_img, h_img])
    x2, y2 = np.clip(grown[:, 2:].max(axis=0), 0, [w_img, h_img])
    w, h = max(x2 - x1, float(min_size[0])), max(y2 - y1, float(min_size[1]))
    aspect = w_img / h_img
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    w, h = min(w_img, math.ceil(w)), min(h_img, math.ceil(h))
    # Centre on the union, then slide inside the frame; the union still fits (w, h ≥ it).
    left = int(np.clip(round((x1 + x2 - w) / 2), 0, w_img - w))
    top = int(np.clip(round((y1 + y2 - h) / 2), 0, h_img - h))
    return left, top, int(w), int(h)


def crop_for_alert(
    image: np.ndarray,
    boxes: Detections | np.ndarray,
    context: float = 0.5,
    min_size: tuple[int, int] = (320, 240),
) -> tuple[np.ndarray, tuple[int, int]]:
    """The part of ``image`` an alert needs (:func:`alert_crop`), and its top-left ``(x, y)``.

    Subtract the offset from box coordinates to draw them on the crop (:func:`shifted`).
    """
    left, top, w, h = alert_crop((image.shape[1], image.shape[0]), boxes, context, min_size)
    return image[top : top + h, left : left + w].copy(), (left, top)


def shifted(detections: Detections, offset: tuple[int, int]) -> Detections:
    """``detections`` in the coordinates of a crop whose top-left is ``offset``."""
    dx, dy = offset
    xyxy = detections.xyxy - np.array([dx, dy, dx, dy], dtype=np.float32)
    return Detections(xyxy, detections.score, detections.label, detections.track_id)


@dataclass(frozen=True)
class PreparedSnapshot:
    """A snapshot image that may leave the gateway, and what was done to it."""

    image: np.ndarray
    offset: tuple[int, int]  # top-left of the crop in the frame: shift boxes by it
    faces_blurred: int
    heads_blurred: int
    #: [N, 5] x1, y1, x2, y2, score of the faces blurred, in snapshot pixels (a face found in
    #: the search margin may lie partly or wholly outside the snapshot).
    faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), np.float32))


#: Faces are searched this far around a crop, so a face cut by the crop's edge is still seen.
_SEARCH_MARGIN = 0.15


def prepare_snapshot(
    frame: np.ndarray,
    triggers: Detections,
    people: Detections | None,
    settings: PrivacySettings,
    *,
    mask: PrivacyMask | None = None,
    blurrer: FaceBlurrer | None = None,
) -> PreparedSnapshot:
    """Mask, crop and blur ``frame`` for an alert raised by ``triggers``.

    ``people``: every person box in the frame (not only the triggers), in frame pixels; they
    guide the face search and the head fallback. Faces are searched in the crop plus a 15%
    margin (cheaper than the whole frame, and a face half outside the crop is still found).
    ``blurrer`` is required when ``settings.blur_faces`` is on, so a snapshot is never
    returned un-blurred by accident. If blurring raises (model missing, onnxruntime error),
    the error propagates: the caller must then publish no image, never an unprotected one.
    """
    if settings.blur_faces and blurrer is None:
        raise ValueError("blur_faces is on but no FaceBlurrer was given")
    # Work on a copy: the caller's frame goes on to detection and must stay as it was.
    mask = mask if mask is not None else PrivacyMask.from_settings(settings)
    image = mask.apply(frame)
    h_img, w_img = image.shape[:2]
    left, top, w, h = 0, 0, w_img, h_img
    if settings.crop:
        left, top, w, h = alert_crop((w_img, h_img), triggers, settings.crop_context)
    faces = np.zeros((0, 5), np.float32)
    heads = 0
    if blurrer is not None and settings.blur_faces:
        mx, my = round(w * _SEARCH_MARGIN), round(h * _SEARCH_MARGIN)
        sx, sy = max(0, left - mx), max(0, top - my)
        ex, ey = min(w_img, left + w + mx), min(h_img, top + h + my)
        boxes = shifted(people, (sx, sy)) if people is not None else None
        done = blurrer.protect(
            image[sy:ey, sx:ex], boxes, heads_fallback=settings.blur_heads_fallback
        )
        image[sy:ey, sx:ex] = done.image
        faces = done.faces - np.array([left - sx, top - sy] * 2 + [0], dtype=np.float32)
        heads = done.heads
    image = image[top : top + h, left : left + w].copy()
    return PreparedSnapshot(image, (left, top), len(faces), heads, faces)
