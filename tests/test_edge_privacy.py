"""Privacy of snapshots on real images with the real CenterFace model (onnxruntime).

Images: ``tests/data/basketball1.jpg`` (OpenCV's sample, see its SOURCE note: a man facing the
camera and a man in profile) and frames of the committed vtest excerpt, whose people are
found by the real CenterNet detector. Hand labels below were read off the images.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import EXCERPT
from pydantic import ValidationError

from edge.detections import Detections, box_iou
from edge.detectors import CenterNetDetector
from edge.faces import ENLARGE, HEAD_ZONE, FaceBlurrer, head_regions, obscure
from edge.privacy import (
    PrivacyMask,
    PrivacySettings,
    alert_crop,
    crop_for_alert,
    prepare_snapshot,
    shifted,
)
from tests.footage import read_frames

PHOTO = Path(__file__).parent / "data" / "basketball1.jpg"
#: The face of the man on the left, who looks at the camera (x1, y1, x2, y2).
FRONTAL_FACE = (70.0, 93.0, 103.0, 134.0)
#: The two men, whole bodies.
PHOTO_PEOPLE = [(34.0, 80.0, 168.0, 475.0), (450.0, 20.0, 640.0, 473.0)]
#: The woman on the lawn in excerpt frame 150 (same label as tests/test_edge_detector.py).
LAWN_WOMAN_150 = (330.0, 372.0, 384.0, 514.0)
EXCERPT_FRAMES = (0, 100, 150, 199)


def sharpness(image: np.ndarray, box) -> float:
    """Variance of the Laplacian inside ``box``: the high-frequency content (detail)."""
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    grey = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def grown(box, factor: float = ENLARGE, pad: float = 2.0) -> np.ndarray:
    x1, y1, x2, y2 = box[:4]
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * factor / 2, (y2 - y1) * factor / 2
    return np.array([cx - hw - pad, cy - hh - pad, cx + hw + pad, cy + hh + pad])


def in_head_zone(person, face) -> bool:
    """The face's centre is where the person's head can be (top HEAD_ZONE of the box)."""
    x1, y1, x2, y2 = person
    fx, fy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    return x1 <= fx <= x2 and y1 - 0.1 * (y2 - y1) <= fy <= y1 + HEAD_ZONE * (y2 - y1)


def outside(shape, boxes) -> np.ndarray:
    """Boolean [H, W], True away from every box."""
    keep = np.ones(shape[:2], dtype=bool)
    for b in boxes:
        x1, y1, x2, y2 = (
            int(np.clip(v, 0, s)) for v, s in zip(b, [shape[1], shape[0]] * 2, strict=True)
        )
        keep[y1:y2, x1:x2] = False
    return keep


@pytest.fixture(scope="module")
def blurrer() -> FaceBlurrer:
    return FaceBlurrer()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    image = cv2.imread(str(PHOTO))
    assert image is not None, PHOTO
    return image


@pytest.fixture(scope="module")
def frames() -> dict[int, np.ndarray]:
    return read_frames(EXCERPT, set(EXCERPT_FRAMES))


@pytest.fixture(scope="module")
def people(frames) -> dict[int, Detections]:
    detector = CenterNetDetector()
    return {i: detector.detect(f).with_labels(["person"]) for i, f in frames.items()}


# --- faces ---------------------------------------------------------------------------------


def test_finds_the_frontal_face_in_a_real_photo(blurrer, photo):
    faces = blurrer.find_faces(photo)
    iou = box_iou(faces[:, :4], np.array([FRONTAL_FACE]))[:, 0]
    assert iou.max() > 0.6, faces
    assert faces[iou.argmax(), 4] > 0.5


def test_blurring_wipes_the_face_detail_and_leaves_the_rest_untouched(blurrer, photo):
    before = photo.copy()
    out, n = blurrer.blur(photo)
    assert n >= 1
    assert np.array_equal(photo, before), "the input must not be modified"
    assert sharpness(photo, FRONTAL_FACE) > 20 * sharpness(out, FRONTAL_FACE)
    # (CenterFace still sees a face-shaped blob there, at a lower score: that is expected.)
    # Outside the (enlarged) faces every pixel is exactly as it was.
    faces = blurrer.find_faces(photo)
    keep = outside(photo.shape, [grown(f) for f in faces])
    assert np.array_equal(out[keep], photo[keep])
    assert keep.mean() > 0.9


def test_face_at_the_image_edge_is_blurred_too(blurrer, photo):
    # Cut through the middle of the frontal face: half a face is still a face to hide.
    cut = photo[:, 86:].copy()
    face = np.array(FRONTAL_FACE) - [86, 0, 86, 0]
    out, _ = blurrer.blur(cut, np.array(PHOTO_PEOPLE) - [86, 0, 86, 0])
    face[0] = 0
    assert sharpness(cut, face) > 10 * sharpness(out, face)


def test_every_pixel_of_a_blurred_box_is_replaced_even_at_the_image_edge():
    noise = np.random.default_rng(7).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    for box in [(40.0, 30.0, 70.0, 70.0), (-10.0, 90.0, 20.0, 130.0), (150.0, -5.0, 175.0, 20.0)]:
        out = noise.copy()
        assert obscure(out, np.array(box))
        x1, y1, x2, y2 = (int(np.clip(v, 0, s)) for v, s in zip(box, (160, 120) * 2, strict=True))
        assert np.all(np.any(out[y1:y2, x1:x2] != noise[y1:y2, x1:x2], axis=2)), box
        # Never more than the enlarged box.
        keep = outside(noise.shape, [grown(box)])
        assert np.array_equal(out[keep], noise[keep])
    assert not obscure(noise.copy(), np.array([200.0, 10.0, 230.0, 40.0]))  # off the image


def test_heads_of_people_without_a_found_face_are_blurred(people, frames):
    # A threshold no face can reach: every person must be covered by the head fallback.
    blind = FaceBlurrer(threshold=1.01)
    frame, persons = frames[150], people[150]
    assert len(persons) >= 4
    done = blind.protect(frame, persons)
    assert len(done.faces) == 0
    assert done.heads == len(persons)
    for head in head_regions(persons.xyxy):
        assert sharpness(frame, head) > 4 * sharpness(done.image, head), head
    # Below the heads (bodies, background) nothing changed.
    keep = outside(frame.shape, [grown(h) for h in head_regions(persons.xyxy)])
    assert np.array_equal(done.image[keep], frame[keep])


def test_a_face_low_in_a_person_box_does_not_spare_the_head(blurrer, photo):
    # A box whose top lies well above the real face, as for a face on a T-shirt print or a
    # poster behind someone: the face is blurred, and the head region at the top too.
    box = np.array([(40.0, 20.0, 130.0, 160.0)])  # the face centre sits at 67% of its height
    done = blurrer.protect(photo, box)
    assert any(box_iou(done.faces[:, :4], np.array([FRONTAL_FACE]))[:, 0] > 0.6)
    assert done.heads == 1
    head = head_regions(box)[0]
    assert sharpness(photo, head) > 4 * sharpness(done.image, head)


def test_head_fallback_can_be_turned_off(people, frames):
    blind = FaceBlurrer(threshold=1.01)
    done = blind.protect(frames[150], people[150], heads_fallback=False)
    assert done.heads == 0
    assert np.array_equal(done.image, frames[150])


@pytest.mark.parametrize("index", EXCERPT_FRAMES)
def test_nobody_on_the_excerpt_leaves_with_a_sharp_face(blurrer, people, frames, index):
    frame, persons = frames[index], people[index]
    done = blurrer.protect(frame, persons)
    # Every face found was actually changed...
    for face in done.faces:
        x1, y1, x2, y2 = (round(float(v)) for v in face[:4])
        changed = np.any(done.image[y1:y2, x1:x2] != frame[y1:y2, x1:x2], axis=2)
        assert changed.mean() > 0.8, face
    # ...and every person without a face in the head zone had the head region blurred.
    for person, head in zip(persons.xyxy, head_regions(persons.xyxy), strict=True):
        if any(in_head_zone(person, f) for f in done.faces):
            continue
        hx1, hy1, hx2, hy2 = (round(float(v)) for v in head)
        changed = np.any(done.image[hy1:hy2, hx1:hx2] != frame[hy1:hy2, hx1:hx2], axis=2)
        assert changed.mean() > 0.5, head
    assert len(done.faces) + done.heads >= len(persons)


def test_person_crops_find_faces_the_full_frame_misses(people, frames):
    full_only = FaceBlurrer()
    found_full = sum(len(full_only.find_faces(f)) for f in frames.values())
    found_both = sum(len(full_only.find_faces(f, people[i])) for i, f in frames.items())
    assert found_both > found_full


def test_bad_images_get_a_clear_error(blurrer):
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        blurrer.blur(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        blurrer.blur(np.zeros((10, 10, 3), np.float32))


def test_a_missing_model_fails_on_first_use_not_on_construction(tmp_path, photo):
    blurrer = FaceBlurrer(tmp_path / "nope.onnx")
    with pytest.raises(FileNotFoundError, match=r"nope\.onnx"):
        blurrer.blur(photo)


# --- privacy masks -------------------------------------------------------------------------

WINDOW = [(0.6, 0.05), (0.9, 0.05), (0.9, 0.3), (0.6, 0.3)]
TRIANGLE = [(0.05, 0.6), (0.35, 0.95), (0.05, 0.95)]


def convex_depth(poly: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Signed distance into a convex polygon: > d means at least d px inside it, < -d means
    at least d px outside it (the distance to the most violated edge line)."""
    if cv2.contourArea(poly.astype(np.float32), oriented=True) < 0:
        poly = poly[::-1]
    depth = np.full(xs.shape, np.inf)
    for (ax, ay), (bx, by) in zip(poly, np.roll(poly, -1, axis=0), strict=True):
        ex, ey = bx - ax, by - ay
        # Inward normal of an edge of a polygon that is counter-clockwise in image coords.
        depth = np.minimum(depth, (ex * (ys - ay) - ey * (xs - ax)) / np.hypot(ex, ey))
    return depth


@pytest.mark.parametrize("size", [(768, 576), (384, 288), (1280, 720)])
def test_mask_is_exactly_black_inside_and_untouched_outside(frames, size):
    frame = cv2.resize(frames[100], size)
    masks = [WINDOW, TRIANGLE]
    mask = PrivacyMask(masks)
    out = mask.apply(frame)
    assert not np.array_equal(out, frame)
    w, h = size
    # Pixel centres more than a pixel inside a polygon are black; more than a pixel
    # outside every polygon are untouched. (The one-pixel rim may go either way.)
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    depth = np.max([convex_depth(np.array(p) * [w, h], xs, ys) for p in (WINDOW, TRIANGLE)], 0)
    assert np.all(out[depth > 1] == 0)
    assert np.array_equal(out[depth < -1], frame[depth < -1])
    # The blanked area is the polygons' plus at most a one-pixel rim (edge pixels are blanked).
    area = (0.3 * 0.25 + 0.3 * 0.35 / 2) * w * h
    rim = sum(cv2.arcLength((np.array(p) * [w, h]).astype(np.float32), True) for p in masks)
    assert area <= mask.pixels(w, h).sum() <= area + rim + 8


def test_masked_people_are_not_even_detected(frames):
    detector = CenterNetDetector()
    frame = frames[150]
    x1, y1, x2, y2 = LAWN_WOMAN_150
    found = detector.detect(frame).with_labels(["person"])
    assert box_iou(found.xyxy, np.array([LAWN_WOMAN_150])).max() > 0.5
    h, w = frame.shape[:2]
    lawn = [(x1 / w - 0.02, y1 / h - 0.02), (x2 / w + 0.02, y1 / h - 0.02),
            (x2 / w + 0.02, y2 / h + 0.02), (x1 / w - 0.02, y2 / h + 0.02)]  # fmt: skip
    masked = detector.detect(PrivacyMask([lawn]).apply(frame)).with_labels(["person"])
    assert len(masked) == 0 or box_iou(masked.xyxy, np.array([LAWN_WOMAN_150])).max() < 0.1
    assert len(masked) >= len(found) - 1  # everyone else is still seen


def test_no_mask_changes_nothing(frames):
    assert np.array_equal(PrivacyMask([]).apply(frames[0]), frames[0])


def test_mask_blanks_grey_frames_in_place_too(frames):
    grey = cv2.cvtColor(frames[0], cv2.COLOR_BGR2GRAY)
    mask = PrivacyMask([WINDOW])
    assert mask.apply(grey, inplace=True) is grey
    assert np.all(grey[mask.pixels(768, 576)] == 0)
    assert grey[~mask.pixels(768, 576)].mean() > 50


@pytest.mark.parametrize(
    ("masks", "message"),
    [
        ([[(0.1, 0.1), (0.2, 0.2)]], "at least 3"),
        ([[(0.1, 0.1), (1.2, 0.2), (0.1, 0.5)]], "less than or equal to 1"),
        ([[(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)]], "no area"),
    ],
)
def test_bad_mask_polygons_are_refused_with_the_reason(masks, message):
    with pytest.raises(ValidationError, match=message):
        PrivacySettings(masks=masks)


def test_privacy_settings_refuse_unknown_keys_and_default_to_private():
    with pytest.raises(ValidationError, match="blur_face"):
        PrivacySettings(blur_face=False)
    s = PrivacySettings()
    assert s.blur_faces and s.blur_heads_fallback and s.crop and s.masks == []


# --- cropping ------------------------------------------------------------------------------


def contains(outer, inner) -> bool:
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and outer[2] >= inner[2]
        and (outer[3] >= inner[3])
    )


@pytest.mark.parametrize(
    "boxes",
    [
        [(330.0, 372.0, 384.0, 514.0)],  # one person in the middle
        [(100.0, 150.0, 130.0, 230.0), (600.0, 200.0, 640.0, 300.0)],  # two, far apart
        [(0.0, 480.0, 40.0, 576.0)],  # in the bottom-left corner
        [(700.0, 0.0, 768.0, 60.0)],  # in the top-right corner
    ],
)
def test_crop_holds_every_trigger_with_context_inside_the_frame(frames, boxes):
    frame = frames[0]
    h, w = frame.shape[:2]
    crop, (ox, oy) = crop_for_alert(frame, np.array(boxes), context=0.5)
    ch, cw = crop.shape[:2]
    assert np.array_equal(crop, frame[oy : oy + ch, ox : ox + cw])
    assert ox >= 0 and oy >= 0 and ox + cw <= w and oy + ch <= h
    assert cw >= 320 and ch >= 240
    assert abs(cw / ch - w / h) < 0.01
    for x1, y1, x2, y2 in boxes:
        bw, bh = x2 - x1, y2 - y1
        need = (max(0, x1 - bw / 2), max(0, y1 - bh / 2), min(w, x2 + bw / 2), min(h, y2 + bh / 2))
        assert contains((ox, oy, ox + cw, oy + ch), need)


def test_crop_of_a_single_small_person_is_the_minimum_size(frames):
    small = np.array([(100.0, 150.0, 130.0, 230.0)])  # 30x80 px, 60x160 with context
    crop, _ = crop_for_alert(frames[0], small, 0.5, min_size=(320, 240))
    assert crop.shape[:2] == (240, 320)


def test_crop_never_exceeds_the_frame(frames):
    frame = frames[0]
    crop, offset = crop_for_alert(frame, np.array([(10.0, 10.0, 700.0, 500.0)]), context=2.0)
    assert crop.shape == frame.shape and offset == (0, 0)
    assert alert_crop((768, 576), np.zeros((0, 4))) == (0, 0, 768, 576)


def test_shifted_boxes_land_on_the_same_pixels_of_the_crop(frames, people):
    frame, persons = frames[100], people[100]
    crop, offset = crop_for_alert(frame, persons[:1])
    x1, y1, x2, y2 = (round(float(v)) for v in persons.xyxy[0])
    s = shifted(persons[:1], offset).xyxy[0]
    sx1, sy1 = round(float(s[0])), round(float(s[1]))
    assert np.array_equal(crop[sy1 : sy1 + (y2 - y1), sx1 : sx1 + (x2 - x1)], frame[y1:y2, x1:x2])


# --- all together --------------------------------------------------------------------------


def test_prepared_snapshot_is_masked_cropped_and_blurred(blurrer, frames, people):
    frame, persons = frames[100], people[100]
    trigger = persons[:1]
    tx1, ty1, tx2, ty2 = trigger.xyxy[0]
    # A mask over the right half of the area around the trigger, as fractions of the frame.
    h_img, w_img = frame.shape[:2]
    cx, cy = (tx1 + tx2) / 2 / w_img, (ty1 + ty2) / 2 / h_img
    window = [
        (cx + 0.1, cy - 0.1),
        (cx + 0.2, cy - 0.1),
        (cx + 0.2, cy + 0.1),
        (cx + 0.1, cy + 0.1),
    ]
    settings = PrivacySettings(masks=[window])
    before = frame.copy()
    snap = prepare_snapshot(frame, trigger, persons, settings, blurrer=blurrer)
    assert np.array_equal(frame, before), "the frame itself is never modified"
    ox, oy = snap.offset
    h, w = snap.image.shape[:2]
    assert (w, h) == (320, 240), "a single small person: the minimum crop"
    assert contains((ox, oy, ox + w, oy + h), trigger.xyxy[0])
    full_mask = PrivacyMask([window]).pixels(w_img, h_img)[oy : oy + h, ox : ox + w]
    assert full_mask.mean() > 0.05 and np.all(snap.image[full_mask] == 0)
    # The trigger's face, or else its head region, no longer matches the frame.
    person = shifted(trigger, (ox, oy)).xyxy[0]
    original = frame[oy : oy + h, ox : ox + w]
    faces = [f for f in snap.faces if in_head_zone(person, f)]
    for region in faces or head_regions(person[None]):
        x1, y1, x2, y2 = (round(float(v)) for v in region[:4])
        assert np.any(snap.image[y1:y2, x1:x2] != original[y1:y2, x1:x2], axis=2).mean() > 0.8
    assert snap.faces_blurred + snap.heads_blurred >= 1


def test_prepared_snapshot_of_the_photo_hides_the_frontal_face(blurrer, photo):
    everyone = Detections.from_arrays(PHOTO_PEOPLE, [0.9, 0.8], ["person", "person"])
    snap = prepare_snapshot(
        photo, everyone[:1], everyone, PrivacySettings(crop=False), blurrer=blurrer
    )
    assert snap.offset == (0, 0) and snap.faces_blurred >= 1
    assert sharpness(photo, FRONTAL_FACE) > 20 * sharpness(snap.image, FRONTAL_FACE)


def test_blurring_on_without_a_blurrer_is_refused(photo):
    boxes = Detections.from_arrays([PHOTO_PEOPLE[0]], [0.9], ["person"])
    with pytest.raises(ValueError, match="FaceBlurrer"):
        prepare_snapshot(photo, boxes, boxes, PrivacySettings())
    off = PrivacySettings(blur_faces=False, crop=False)
    assert np.array_equal(prepare_snapshot(photo, boxes, boxes, off).image, photo)
