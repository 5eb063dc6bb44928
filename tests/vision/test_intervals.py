"""Wilson intervals, the sample-size warnings and the A/B comparison, on constructed counts and scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vision.lab.compare import compare
from vision.lab.intervals import (
    Z95,
    edge_warnings,
    highest_rejected,
    margin_warning,
    rate_intervals,
    recommendation_warnings,
    resolution_warning,
    wilson,
)


@pytest.mark.parametrize(("k", "n"), [(1, 10), (5, 10), (3, 250), (7, 9)])
def test_wilson_bounds_solve_the_score_equation(k: int, n: int) -> None:
    # The Wilson bounds are the p where |p_hat - p| = z * sqrt(p (1 - p) / n).
    iv = wilson(k, n)
    p_hat = k / n
    for p in (iv.low, iv.high):
        assert abs(p_hat - p) == pytest.approx(Z95 * math.sqrt(p * (1 - p) / n), rel=1e-9)
    assert iv.low < p_hat < iv.high


def test_wilson_published_value_and_edges() -> None:
    iv = wilson(1, 10)  # textbook: 1.8 % - 40.4 %
    assert (round(iv.low, 4), round(iv.high, 4)) == (0.0179, 0.4042)
    zero = wilson(0, 16)
    assert zero.low == 0.0 and zero.high == pytest.approx(Z95**2 / (16 + Z95**2))  # 19.4 %
    full = wilson(16, 16)
    assert full.high == 1.0 and full.low == pytest.approx(1 - zero.high)
    assert wilson(3, 20).low == pytest.approx(1 - wilson(17, 20).high)  # symmetric


def test_wilson_without_pairs_and_bad_counts() -> None:
    empty = wilson(0, 0)
    assert (empty.low, empty.high) == (0.0, 1.0) and math.isnan(empty.rate)
    assert empty.text() == "n/a"
    for k, n in ((-1, 5), (6, 5), (0, -1)):
        with pytest.raises(ValueError, match="0 <= k <= n"):
            wilson(k, n)


def test_interval_text_and_counts() -> None:
    iv = wilson(0, 16)
    assert iv.text() == "0.0% (0.0-19.4 %)"
    assert iv.counts() == "0 / 16"
    assert iv.to_json() == {"k": 0, "n": 16, "rate": 0.0, "low": 0.0, "high": 0.1936}


def test_rate_intervals_from_counts() -> None:
    r = rate_intervals(true_accepts=30, positives=40, false_accepts=2, negatives=16)
    assert (r.tar.k, r.tar.n, r.frr.k, r.frr.n, r.far.k, r.far.n) == (30, 40, 10, 40, 2, 16)
    assert r.tar.low == pytest.approx(1 - r.frr.high)


def test_resolution_warning_when_target_is_finer_than_one_negative() -> None:
    text = resolution_warning(0.01, 16)  # 1 % of 16 negatives is impossible
    assert text is not None
    assert "one different pair out of 16 (6.2%)" in text and "19.4%" in text and "381 different pairs" in text
    assert resolution_warning(0.0625, 16) is None  # exactly one negative: measurable
    assert resolution_warning(0.01, 100) is None
    assert resolution_warning(0.01, 99) is not None
    assert "no different pairs" in resolution_warning(0.05, 0)


def test_edge_warnings_name_the_clipped_values() -> None:
    ranges = {"min_inliers": (4, 200), "fused_weight": (0.5, 10.0)}
    assert edge_warnings({"min_inliers": 15, "fused_weight": 4.0, "other": 0}, ranges) == []
    found = edge_warnings({"min_inliers": 200, "fused_weight": 0.5}, ranges)
    assert len(found) == 2
    assert found[0].startswith("min_inliers = 200 is the highest value of its slider (4-200)")
    assert found[1].startswith("fused_weight = 0.5 is the lowest value")


def test_margin_warning_within_two_inliers() -> None:
    assert margin_warning(13, 12, 16) is not None  # the next inlier accepts that pair
    assert margin_warning(12.5, 12, 16) is not None
    assert "2 more on a photo" in margin_warning(14, 12, 16)  # issue 19: "within 1-2 inliers"
    assert margin_warning(15, 12, 16) is None
    assert margin_warning(13, float("nan"), 16) is None  # no different pair below the threshold
    assert margin_warning(13, 12, 0) is None


def test_highest_rejected_negative() -> None:
    scores, labels = [0, 5, 12, 40, 3, 30], [0, 0, 0, 0, 1, 1]
    assert highest_rejected(scores, labels, 13) == 12
    assert highest_rejected(scores, labels, 41) == 40
    assert math.isnan(highest_rejected(scores, labels, 0))


def test_recommendation_warnings_in_order() -> None:
    ranges = {"min_inliers": (4, 200)}
    found = recommendation_warnings(0.01, 16, {"min_inliers": 4}, ranges, highest_negative=3)
    assert [w.split(" ")[0] for w in found] == ["A", "min_inliers", "min"]
    assert recommendation_warnings(0.05, 40, {"min_inliers": 20}, ranges, highest_negative=10) == []
    # with the rule's false accepts: 1 / 40 meets 5 % but its 95 % bound (12.9 %) does not
    found = recommendation_warnings(0.05, 40, {"min_inliers": 20}, ranges, 10, wilson(1, 40), "fused")
    assert len(found) == 1 and found[0].startswith("The fused rule accepts 1 / 40")


def test_ab_compare_rates_kinds_and_flips() -> None:
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 1])
    kinds = ["same", "same", "same", "same", "other", "other", "lookalike", "same"]
    names = [f"p{i}" for i in range(8)]
    a = np.array([1, 1, 0, 0, 1, 0, 0, 1], bool)  # one false accept (p4), two false rejects
    b = np.array([1, 1, 1, 0, 0, 0, 1, 1], bool)  # fixes p2 and p4, breaks p6
    usable = np.array([1, 1, 1, 1, 1, 1, 1, 0], bool)  # p7 is unusable: counts nowhere
    report = compare(labels, kinds, names, a, b, usable)
    assert (report.a.tar.k, report.a.tar.n, report.a.far.k, report.a.far.n) == (2, 4, 1, 3)
    assert (report.b.tar.k, report.b.far.k) == (3, 1)
    assert [(f.name, f.right, f.a_accepts) for f in report.flips] == [
        ("p6", "A", False),
        ("p2", "B", False),
        ("p4", "B", True),
    ]
    assert (report.fixed_by_b, report.broken_by_b) == (2, 1)
    rows = {r.kind: r for r in report.kinds}
    assert set(rows) == {"same", "other", "lookalike"}
    assert (rows["same"].a.counts(), rows["same"].b.counts()) == ("2 / 4", "3 / 4")
    assert (rows["lookalike"].label, rows["lookalike"].b.counts()) == (0, "1 / 1")


def test_ab_compare_same_profile_has_no_flips_and_bad_lengths_fail() -> None:
    labels, kinds, names = [1, 0], ["same", "other"], ["a", "b"]
    report = compare(labels, kinds, names, [True, False], [True, False])
    assert report.flips == () and report.a == report.b
    with pytest.raises(ValueError, match="different lengths"):
        compare(labels, kinds, names, [True], [True, False])
