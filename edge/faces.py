"""Faces out of snapshots: CenterFace on onnxruntime, and an irreversible blur.

The network runner is :class:`contract.centerface.CenterFace` (the hub finds faces in
enrolment photos with the same code); this module decides *where* to look and blurs.

Surveillance faces are tiny: on the 768x576 excerpt a head is 8-12 px wide, and CenterFace
(trained on larger faces) finds few of them in the whole frame. So when the caller passes the
person boxes, :class:`FaceBlurrer` also searches an upscaled crop of the upper part of every
person box, where that person's face must be. On 10 excerpt frames with 54 people, the whole
frame alone gave a face for 23 people, the crops alone for 41, both together for 45 (plus a
few faces of people the person detector missed, which only the whole-frame pass sees). The
crops cost ~4 ms per person; the whole 768x576 frame ~90 ms, a 320x240 snapshot ~20 ms.

Privacy by default: the detector still misses faces (backs of heads, profiles, motion blur).
So every person box without a face in its head zone gets its *head region* (the top 18% of
the box, full width) blurred too. A rule that needs faces (none does today) can turn this
off with ``PrivacySettings.blur_heads_fallback``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from contract.centerface import DEFAULT_THRESHOLD, MODEL_FILE, CenterFace
from contract.centerface import nms as _nms
from contract.models import check_bgr_image, models_dir
from edge.detections import Detections

#: Face and head boxes are enlarged by this factor, then blurred (corners rounded).
ENLARGE = 1.3
#: The head of a standing person is the top ~18% of the box (the box's full width).
HEAD_FRACTION = 0.18
#: A face found with its centre in the top 30% of a person box counts as that person's face.
HEAD_ZONE = 0.3


def _as_boxes(boxes: Detections | np.ndarray | None) -> np.ndarray:
    if boxes is None:
        return np.zeros((0, 4), dtype=np.float32)
    if isinstance(boxes, Detections):
        return boxes.xyxy.astype(np.float32)
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def obscure(image: np.ndarray, box: np.ndarray, enlarge: float = ENLARGE) -> bool:
    """Irreversibly blur, in place, ``box`` enlarged by ``enlarge``, with rounded corners.

    The corners are rounded with a radius of 35% of the shorter side: it looks like a blurred
    head, not a box, yet still covers every pixel of ``box`` itself (an ellipse inscribed in
    the enlarged box, as deface draws it, would leave the box's corners sharp).

    The region is shrunk to at most 5 samples across its shorter side and stretched back
    smoothly: everything finer than a fifth of a face is gone, so no deblurring can bring it
    back (a plain Gaussian blur can be partly inverted). ``box`` may stick out of the image.
    Returns False when the region lies wholly outside the image (nothing to blur).
    """
    h_img, w_img = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w, half_h = (x2 - x1) * enlarge / 2, (y2 - y1) * enlarge / 2
    if half_w <= 0 or half_h <= 0:
        return False
    rx1, ry1 = max(0, math.floor(cx - half_w)), max(0, math.floor(cy - half_h))
    rx2, ry2 = min(w_img, math.ceil(cx + half_w)), min(h_img, math.ceil(cy + half_h))
    if rx2 <= rx1 or ry2 <= ry1:
        return False
    roi = image[ry1:ry2, rx1:rx2]
    h, w = roi.shape[:2]
    cell = max(2.0, min(half_w, half_h) * 2 / 5)
    small = cv2.resize(
        roi, (max(1, round(w / cell)), max(1, round(h / cell))), interpolation=cv2.INTER_AREA
    )
    smooth = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    k = int(cell) | 1  # odd kernel about one cell wide: removes the grid of the upscale
    smooth = cv2.GaussianBlur(smooth, (k, k), 0)
    mask = _rounded_rect(h, w, cx - rx1, cy - ry1, half_w, half_h)
    roi[mask] = smooth[mask]
    return True


def _rounded_rect(h: int, w: int, cx: float, cy: float, half_w: float, half_h: float) -> np.ndarray:
    """Boolean [h, w]: a rectangle centred at (cx, cy) with corners rounded (35% of the
    shorter side), drawn at 1/16-px precision; it may stick out of the mask."""
    mask = np.zeros((h, w), dtype=np.uint8)
    r = 0.35 * 2 * min(half_w, half_h)

    def fx(v: float) -> int:  # fixed point, 4 fractional bits (shift=4 below)
        return round(v * 16)

    x1, y1, x2, y2 = cx - half_w, cy - half_h, cx + half_w, cy + half_h
    for ax, ay, bx, by in ((x1 + r, y1, x2 - r, y2), (x1, y1 + r, x2, y2 - r)):
        pts = np.array([[fx(ax), fx(ay)], [fx(bx), fx(ay)], [fx(bx), fx(by)], [fx(ax), fx(by)]])
        cv2.fillPoly(mask, [pts.astype(np.int32)], 255, cv2.LINE_8, shift=4)
    for ox, oy in ((x1 + r, y1 + r), (x2 - r, y1 + r), (x1 + r, y2 - r), (x2 - r, y2 - r)):
        cv2.circle(mask, (fx(ox), fx(oy)), fx(r), 255, cv2.FILLED, cv2.LINE_8, shift=4)
    return mask > 0


def head_regions(person_boxes: np.ndarray, fraction: float = HEAD_FRACTION) -> np.ndarray:
    """[N, 4] head regions of person boxes: the top ``fraction`` of each box, full width."""
    boxes = _as_boxes(person_boxes).copy()
    boxes[:, 3] = boxes[:, 1] + (boxes[:, 3] - boxes[:, 1]) * fraction
    return boxes


class FaceBlurrer:
    """Finds faces with CenterFace and blurs them (and, as a fallback, heads of people).

    The onnxruntime session (1 thread: snapshots are rare, the detector needs the other core)
    is built on first use, so a gateway with blurring off never loads the model. One instance
    may be shared between threads; a lock serialises the network.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        heads_fallback: bool = True,
        full_frame_side: int = 768,
        crop_face_px: float = 40.0,
    ) -> None:
        """``full_frame_side``: the whole image is searched at most this wide/high (0 = not
        at all, person crops only). ``crop_face_px``: person crops are scaled so that a face
        of the expected size (1/8 of the person's height) becomes about this many pixels.
        """
        self.path = Path(path) if path else models_dir() / MODEL_FILE
        self.threshold = threshold
        self.heads_fallback = heads_fallback
        self.full_frame_side = full_frame_side
        self.crop_face_px = crop_face_px
        self._net = CenterFace(self.path)
        self._lock = threading.Lock()

    # --- the network ----------------------------------------------------------------------

    def load(self) -> None:
        """Load the model now (a gateway does at start), not on the first snapshot."""
        with self._lock:
            self._load()

    def _load(self):
        return self._net.load()

    @property
    def _session(self):
        """The network's onnxruntime session, None until loaded (tests check start loads it)."""
        return self._net._session

    def _detect(self, image: np.ndarray, scale: float) -> np.ndarray:
        """[N, 5] faces (x1, y1, x2, y2, score) in ``image`` pixels, seen at ``scale``."""
        return self._net.detect(image, scale, self.threshold)

    # --- finding faces --------------------------------------------------------------------

    def _person_crop(self, image: np.ndarray, box: np.ndarray) -> tuple[int, int, int, int, float]:
        """Corners and scale of the crop around a person's head and shoulders."""
        h_img, w_img = image.shape[:2]
        x1, y1, x2, y2 = (float(v) for v in box)
        bw, bh = x2 - x1, y2 - y1
        cx1, cy1 = max(0, math.floor(x1 - 0.15 * bw)), max(0, math.floor(y1 - 0.1 * bh))
        cx2, cy2 = min(w_img, math.ceil(x2 + 0.15 * bw)), min(h_img, math.ceil(y1 + 0.45 * bh))
        scale = float(np.clip(self.crop_face_px / max(bh / 8, 1.0), 0.25, 4.0))
        return cx1, cy1, cx2, cy2, scale

    def find_faces(
        self, image: np.ndarray, person_boxes: Detections | np.ndarray | None = None
    ) -> np.ndarray:
        """[N, 5] faces (x1, y1, x2, y2, score) in ``image`` pixels, highest score first.

        Searches the whole image (at most ``full_frame_side`` px) and an upscaled crop of the
        upper part of every person box, then merges the two with NMS.
        """
        check_bgr_image(image)
        found = []
        h, w = image.shape[:2]
        with self._lock:
            if self.full_frame_side > 0:
                found.append(self._detect(image, min(1.0, self.full_frame_side / max(h, w))))
            for box in _as_boxes(person_boxes):
                cx1, cy1, cx2, cy2, scale = self._person_crop(image, box)
                if cx2 - cx1 < 2 or cy2 - cy1 < 2:
                    continue
                faces = self._detect(image[cy1:cy2, cx1:cx2], scale)
                faces[:, [0, 2]] += cx1
                faces[:, [1, 3]] += cy1
                found.append(faces)
        if not found:
            return np.zeros((0, 5), dtype=np.float32)
        return _nms(np.concatenate(found))

    # --- blurring -------------------------------------------------------------------------

    def protect(
        self,
        image_bgr: np.ndarray,
        person_boxes: Detections | np.ndarray | None = None,
        *,
        heads_fallback: bool | None = None,
    ) -> Blurred:
        """Like :meth:`blur`, with the details: the faces found and the heads blurred.

        ``heads_fallback`` overrides the instance's setting for this call (per camera).
        """
        t0 = time.perf_counter()
        fallback = self.heads_fallback if heads_fallback is None else heads_fallback
        faces = self.find_faces(image_bgr, person_boxes)
        out = image_bgr.copy()
        for face in faces:
            obscure(out, face[:4])
        heads = 0
        if fallback:
            people = _as_boxes(person_boxes)
            for person, head in zip(people, head_regions(people), strict=True):
                if not _has_face(person, faces) and obscure(out, head):
                    heads += 1
        return Blurred(out, faces, heads, (time.perf_counter() - t0) * 1000.0)

    def blur(
        self, image_bgr: np.ndarray, person_boxes: Detections | np.ndarray | None = None
    ) -> tuple[np.ndarray, int]:
        """A copy of ``image_bgr`` with every face found blurred, and the number of faces.

        ``person_boxes`` (pixels of this image; they may stick out of it) make the search
        much better on small faces, and each box with no face in its head zone (top 30%)
        gets its head region blurred when ``heads_fallback`` is on.
        """
        done = self.protect(image_bgr, person_boxes)
        return done.image, len(done.faces)


@dataclass(frozen=True)
class Blurred:
    """The result of :meth:`FaceBlurrer.protect`."""

    image: np.ndarray  # a new image; the input is never modified
    faces: np.ndarray  # [N, 5] x1, y1, x2, y2, score of the faces blurred
    heads: int  # person boxes whose head region was blurred because no face was found
    ms: float  # wall time of the call


def _has_face(person: np.ndarray, faces: np.ndarray) -> bool:
    """Does a face centre lie where this person's head can be (the box's top ~30%)?

    Deliberately tight: a false face on a hand or a bag lower down must not spare the head.
    """
    if len(faces) == 0:
        return False
    x1, y1, x2, y2 = person
    h = y2 - y1
    fx = (faces[:, 0] + faces[:, 2]) / 2
    fy = (faces[:, 1] + faces[:, 3]) / 2
    inside = (fx >= x1) & (fx <= x2) & (fy >= y1 - 0.1 * h) & (fy <= y1 + HEAD_ZONE * h)
    return bool(inside.any())
