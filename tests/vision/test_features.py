"""vision.matchers.akaze: AKAZE at working resolution, keypoint cap, serialisation, settings."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest

from vision.image.imageio import decode_image
from vision.matchers.akaze import (
    DESCRIPTOR_BYTES,
    FEATURES_FORMAT_VERSION,
    Features,
    FeatureSettings,
    empty_features,
    extract_features,
    features_from_bytes,
    features_to_bytes,
    to_gray,
    working_image,
)

SMALL = FeatureSettings(working_side=640, max_keypoints=3000)


@pytest.fixture(scope="module")
def photo(pair_same) -> np.ndarray:
    """A real textured photo at working resolution (BGR)."""
    return working_image(decode_image(pair_same[0]).bgr, SMALL.working_side)


@pytest.fixture(scope="module")
def features(photo) -> Features:
    return extract_features(photo, SMALL)


def assert_same_features(a: Features, b: Features) -> None:
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.attributes, b.attributes)
    np.testing.assert_array_equal(a.descriptors, b.descriptors)
    assert a.image_size == b.image_size
    assert a.n_detected == b.n_detected
    assert a.settings == b.settings


# -- extraction ------------------------------------------------------------


def test_keypoints_on_textured_photo(photo, features):
    h, w = photo.shape[:2]
    assert features.image_size == (w, h)
    assert len(features) > 300
    assert features.n_detected >= len(features)
    assert features.points.shape == (len(features), 2) and features.points.dtype == np.float32
    assert features.attributes.shape == (len(features), 4)
    assert features.descriptors.shape == (len(features), DESCRIPTOR_BYTES)
    assert features.descriptors.dtype == np.uint8
    assert (features.points >= 0).all()
    assert (features.points[:, 0] < w).all() and (features.points[:, 1] < h).all()
    assert features.settings == SMALL
    assert features.embedding is None
    kps = features.keypoints()
    assert len(kps) == len(features) and isinstance(kps[0], cv2.KeyPoint)
    assert kps[0].pt == pytest.approx(tuple(features.points[0]))


def test_gray_and_bgr_give_same_features(photo, features):
    from_gray = extract_features(to_gray(photo), SMALL)
    assert_same_features(from_gray, features)


def test_blank_image_gives_explicit_empty_result():
    result = extract_features(np.full((400, 600, 3), 128, np.uint8))
    assert len(result) == 0 and result.n_detected == 0
    assert result.points.shape == (0, 2)
    assert result.attributes.shape == (0, 4)
    assert result.descriptors.shape == (0, DESCRIPTOR_BYTES) and result.descriptors.dtype == np.uint8
    assert result.image_size == (600, 400)
    assert result.keypoints() == []


def test_empty_features_helper():
    empty = empty_features((10, 20), SMALL)
    assert len(empty) == 0 and empty.descriptors.shape == (0, 61) and empty.image_size == (10, 20)


@pytest.mark.parametrize("bad", [np.zeros((50, 50), np.float32), np.zeros((2, 50, 50, 3), np.uint8)])
def test_extract_rejects_bad_arrays(bad):
    with pytest.raises(ValueError):
        extract_features(bad)


def test_max_keypoints_caps_the_strongest(photo, features):
    capped = extract_features(photo, FeatureSettings(working_side=640, max_keypoints=50))
    assert len(capped) == 50
    # AKAZE stops at max_points before computing descriptors: the count is capped too
    assert capped.n_detected == 50 < features.n_detected
    assert capped.descriptors.shape == (50, DESCRIPTOR_BYTES)
    # the strongest are kept, strongest first
    responses = capped.attributes[:, 2]
    assert (np.diff(responses) <= 0).all()
    all_responses = np.sort(features.attributes[:, 2])[::-1]
    assert responses.min() >= all_responses[49] - 1e-9


def test_higher_threshold_fewer_keypoints(photo, features):
    strict = extract_features(photo, FeatureSettings(working_side=640, akaze_threshold=0.01))
    assert 0 < strict.n_detected < features.n_detected


# -- working resolution ----------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "side", "expected"),
    [
        ((3024, 4032, 3), 1000, (750, 1000, 3)),  # landscape, downscaled
        ((4032, 3024, 3), 1000, (1000, 750, 3)),  # portrait
        ((100, 200), 1000, (100, 200)),  # small gray: never upscaled
        ((480, 640, 3), 640, (480, 640, 3)),  # already there
    ],
)
def test_working_image_long_side(shape, side, expected):
    out = working_image(np.zeros(shape, np.uint8), side)
    assert out.shape == expected
    assert max(out.shape[:2]) == min(side, max(shape[:2]))


def test_working_image_unchanged_is_same_object():
    img = np.zeros((480, 640, 3), np.uint8)
    assert working_image(img, 640) is img


def test_working_image_keeps_content():
    img = np.zeros((400, 800), np.uint8)
    img[:, 400:] = 255  # right half white
    out = working_image(img, 200)
    assert out.shape == (100, 200)
    assert out[:, :95].max() == 0 and out[:, 105:].min() == 255


# -- serialisation ---------------------------------------------------------


def test_bytes_round_trip(features):
    blob = features_to_bytes(features)
    assert isinstance(blob, bytes) and blob
    back = features_from_bytes(blob)
    assert_same_features(back, features)
    assert back.embedding is None


def test_bytes_round_trip_with_embedding(features):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=128).astype(np.float32)
    emb /= np.linalg.norm(emb)
    with_emb = Features(
        features.points,
        features.attributes,
        features.descriptors,
        features.image_size,
        features.n_detected,
        features.settings,
        emb,
    )
    back = features_from_bytes(features_to_bytes(with_emb))
    assert_same_features(back, features)
    assert back.embedding is not None and back.embedding.dtype == np.float32
    np.testing.assert_array_equal(back.embedding, emb)


def test_bytes_round_trip_empty_and_settings():
    settings = FeatureSettings(working_side=512, max_keypoints=123, akaze_threshold=0.0005)
    empty = empty_features((512, 300), settings)
    back = features_from_bytes(features_to_bytes(empty))
    assert_same_features(back, empty)
    assert back.settings == settings


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"garbage",
        b"PK\x03\x04 truncated zip",
        _npz(points=np.zeros((1, 2))),  # missing arrays
        _npz(  # settings out of range
            points=np.zeros((0, 2)),
            attributes=np.zeros((0, 4)),
            descriptors=np.zeros((0, 61)),
            header=np.array([FEATURES_FORMAT_VERSION, 10, 10, 0]),
            settings=np.array([1.0, 1.0, 5.0]),
        ),
    ],
    ids=["empty", "garbage", "truncated-zip", "missing-arrays", "bad-settings"],
)
def test_garbage_blob_is_value_error(blob):
    with pytest.raises(ValueError):
        features_from_bytes(blob)


def test_other_version_is_value_error(features):
    blob = _npz(
        points=features.points,
        attributes=features.attributes,
        descriptors=features.descriptors,
        header=np.array([FEATURES_FORMAT_VERSION + 1, *features.image_size, features.n_detected]),
        settings=np.array([1000.0, 2000.0, 0.001]),
    )
    with pytest.raises(ValueError, match="version"):
        features_from_bytes(blob)


def test_pickled_object_arrays_are_refused():
    blob = _npz(
        points=np.array([object()], dtype=object),
        attributes=np.zeros((0, 4)),
        descriptors=np.zeros((0, 61)),
        header=np.array([FEATURES_FORMAT_VERSION, 10, 10, 0]),
        settings=np.array([1000.0, 2000.0, 0.001]),
    )
    with pytest.raises(ValueError):
        features_from_bytes(blob)


# -- settings --------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"working_side": 63},
        {"working_side": 8193},
        {"max_keypoints": 9},
        {"akaze_threshold": 0.0},
        {"akaze_threshold": 1.0},
        {"akaze_threshold": -0.001},
    ],
)
def test_settings_validation(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        FeatureSettings(**kwargs)


def test_settings_bounds_accepted():
    assert FeatureSettings(working_side=64, max_keypoints=10).working_side == 64
    assert FeatureSettings(working_side=8192).working_side == 8192
    assert FeatureSettings() == FeatureSettings(1000, 2000, 0.001)
