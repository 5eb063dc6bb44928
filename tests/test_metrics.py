"""Evaluation arithmetic on constructed scores: rates, ROC, AUC with ties, thresholds for a target FAR."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vision.lab.metrics import accept_rates, roc_auc, roc_curve, threshold_for_far


def test_accept_rates_counts_each_class() -> None:
    rates = accept_rates([True, False, True, True, False], [1, 1, 0, 0, 0])
    assert (rates.n_positive, rates.n_negative, rates.true_accept, rates.false_accept) == (2, 3, 1, 2)
    assert rates.tar == 0.5 and rates.frr == 0.5
    assert rates.far == pytest.approx(2 / 3)
    assert rates.to_json()["false_accept_rate"] == pytest.approx(0.6667)


def test_accept_rates_empty_class_is_nan() -> None:
    rates = accept_rates([True, False], [1, 1])
    assert math.isnan(rates.far) and rates.tar == 0.5
    assert rates.to_json()["false_accept_rate"] is None


def test_accept_rates_length_mismatch() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        accept_rates([True], [1, 0])


def test_auc_perfect_inverted_and_random() -> None:
    assert roc_auc([3, 4, 1, 2], [1, 1, 0, 0]) == 1.0
    assert roc_auc([1, 2, 3, 4], [1, 1, 0, 0]) == 0.0
    assert roc_auc([5, 5, 5, 5], [1, 0, 1, 0]) == 0.5


def test_auc_ties_count_half() -> None:
    # positives 2, 1; negatives 1, 0: pairs (2>1), (2>0), (1=1: half), (1>0) -> 3.5 / 4
    assert roc_auc([2, 1, 1, 0], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)


def test_auc_matches_brute_force_on_random_integer_scores() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 6, 200)
    labels = rng.integers(0, 2, 200)
    pos, neg = scores[labels == 1], scores[labels == 0]
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert roc_auc(scores, labels) == pytest.approx(brute)


def test_auc_single_class_is_nan() -> None:
    assert math.isnan(roc_auc([1, 2], [1, 1]))


def test_roc_curve_points() -> None:
    curve = roc_curve([10, 8, 8, 3, 1], [1, 1, 0, 0, 1])
    assert curve.thresholds[0] == np.inf
    assert list(curve.thresholds[1:]) == [10, 8, 3, 1]
    assert list(curve.tpr) == pytest.approx([0, 1 / 3, 2 / 3, 2 / 3, 1])
    assert list(curve.fpr) == pytest.approx([0, 0, 0.5, 1, 1])
    assert np.all(np.diff(curve.tpr) >= 0) and np.all(np.diff(curve.fpr) >= 0)


def test_threshold_for_far_smallest_meeting_target() -> None:
    scores = [50, 40, 30, 12, 9, 0, 0]
    labels = [1, 1, 1, 0, 0, 0, 0]
    assert threshold_for_far(scores, labels, 0.0) == 30  # just above the highest negative
    assert threshold_for_far(scores, labels, 0.25) == 12  # one negative of four allowed
    assert threshold_for_far(scores, labels, 1.0) == 0


def test_threshold_for_far_negative_on_top_gives_inf() -> None:
    assert threshold_for_far([5, 3], [0, 1], 0.0) == np.inf


def test_threshold_for_far_ties_between_classes() -> None:
    # a positive tied with the highest negative cannot be accepted at FAR 0
    assert threshold_for_far([7, 7, 9], [1, 0, 1], 0.0) == 9


def test_threshold_for_far_rejects_bad_target() -> None:
    with pytest.raises(ValueError):
        threshold_for_far([1], [1], 1.5)
