"""vision.matchers.knn: Hamming kNN, Lowe's ratio test with one match per query descriptor."""

from __future__ import annotations

import numpy as np
import pytest

from vision.flows.prepare import prepare_photo
from vision.matchers.akaze import Features, FeatureSettings, empty_features
from vision.matchers.knn import CandidateMatches, empty_candidates, knn_match, matched_points, ratio_mask

SETTINGS = FeatureSettings(working_side=640, max_keypoints=600)


@pytest.fixture(scope="module")
def same_features(pair_same) -> tuple[Features, Features]:
    return prepare_photo(pair_same[0], SETTINGS).features, prepare_photo(pair_same[1], SETTINGS).features


def subset(features: Features, n: int) -> Features:
    return Features(
        features.points[:n],
        features.attributes[:n],
        features.descriptors[:n],
        features.image_size,
        features.n_detected,
        features.settings,
    )


def candidates(query_idx, distance, second) -> CandidateMatches:
    n = len(query_idx)
    return CandidateMatches(
        np.arange(n, dtype=np.int32),
        np.asarray(query_idx, np.int32),
        np.asarray(distance, np.float32),
        np.asarray(second, np.float32),
    )


def test_identical_features_match_one_to_one(same_features):
    ref = same_features[0]
    found = knn_match(ref, ref)
    assert len(found) == len(ref)
    np.testing.assert_array_equal(found.ref_idx, np.arange(len(ref)))
    np.testing.assert_array_equal(found.query_idx, found.ref_idx)
    assert (found.distance == 0).all()
    assert (found.second_distance > 0).all()
    mask = ratio_mask(found, 0.8)
    assert mask.all()
    src, dst = matched_points(ref, ref, found, mask)
    np.testing.assert_array_equal(src, dst)


def test_knn_uses_hamming_distance(same_features):
    ref, query = same_features
    found = knn_match(ref, query)
    assert len(found) == len(ref)
    bits = np.unpackbits(ref.descriptors[found.ref_idx] ^ query.descriptors[found.query_idx], axis=1).sum(axis=1)
    np.testing.assert_array_equal(found.distance, bits.astype(np.float32))
    assert (found.distance <= found.second_distance).all()
    assert found.distance.max() <= 8 * 61  # a Hamming distance over 486 bits (61 bytes)


def test_ratio_mask_monotone_and_unique(same_features):
    found = knn_match(*same_features)
    counts = []
    for ratio in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        mask = ratio_mask(found, ratio)
        assert mask.dtype == bool and mask.shape == (len(found),)
        kept = found.query_idx[mask]
        assert len(np.unique(kept)) == len(kept), f"query index claimed twice at ratio {ratio}"
        assert (found.distance[mask] < ratio * found.second_distance[mask]).all()
        counts.append(int(mask.sum()))
    assert counts == sorted(counts)
    assert counts[0] > 20 and counts[-1] > counts[0]


def test_ratio_mask_keeps_the_closest_claim():
    found = candidates(query_idx=[5, 5, 7, 5], distance=[20, 10, 10, 30], second=[100, 100, 100, 100])
    np.testing.assert_array_equal(ratio_mask(found, 0.8), [False, True, True, False])


def test_ratio_mask_threshold_is_strict():
    found = candidates(query_idx=[0, 1, 2], distance=[40, 50, 60], second=[100, 100, 100])
    np.testing.assert_array_equal(ratio_mask(found, 0.5), [True, False, False])  # 50 < 50 is false
    np.testing.assert_array_equal(ratio_mask(found, 0.61), [True, True, True])


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.01])
def test_ratio_out_of_range(ratio):
    with pytest.raises(ValueError):
        ratio_mask(empty_candidates(), ratio)


def test_empty_inputs_give_empty_candidates(same_features):
    ref = same_features[0]
    empty = empty_features((640, 480), SETTINGS)
    for a, b in ((empty, ref), (ref, empty), (empty, empty)):
        found = knn_match(a, b)
        assert len(found) == 0
        assert found.ref_idx.dtype == np.int32 and found.distance.dtype == np.float32
        mask = ratio_mask(found, 0.8)
        assert mask.shape == (0,)
        src, dst = matched_points(a, b, found, mask)
        assert src.shape == (0, 2) and dst.shape == (0, 2)


def test_single_query_descriptor(same_features):
    ref, query = same_features
    found = knn_match(subset(ref, 20), subset(query, 1))
    assert len(found) == 20
    assert (found.query_idx == 0).all()
    assert np.isinf(found.second_distance).all()
    assert ratio_mask(found, 0.8).sum() == 1  # every reference claims the one query descriptor
