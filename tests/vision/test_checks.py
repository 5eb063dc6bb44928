"""The sample-size warnings under the learned rule: its own verdicts, its score's units, the second opinion's inliers."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from vision.lab.checks import learned_checks, learned_nearest, recommendation_checks, score_inliers_short
from vision.lab.intervals import far_bound_warning, pairs_to_show, wilson
from vision.lab.learned import LearnedScores
from vision.lab.recommend import tune
from vision.lab.scored import ScoredSet
from vision.profile import Profile
from vision.rules.second_opinion import ALIKED_EVIDENCE

P = Profile()  # the shipped learned rule; its numbers are read by name below, never written in


def _scores(akaze, xfeat, sim, labels, aliked=None) -> LearnedScores:
    n = len(labels)
    return LearnedScores(
        akaze=np.asarray(akaze, float),
        xfeat=np.asarray(xfeat, float),
        similarity=np.asarray(sim, float),
        labels=np.asarray(labels, int),
        kinds=np.array(["k"] * n),
        scenes=np.array([f"s{i}" for i in range(n)]),
        query_scenes=np.array([f"q{i}" for i in range(n)]),
        ok=np.ones(n, bool),
        aliked=None if aliked is None else np.asarray(aliked, float),
    )


def _evidence_for(score: float, sim: float, profile: Profile = P) -> float:
    """Whole inliers whose learned score reaches ``score`` at ``sim``."""
    return float(math.ceil(math.expm1(score - profile.learned_weight * sim) - 1e-9))


def test_pairs_to_show_and_the_far_bound() -> None:
    n = pairs_to_show(0.01)
    assert wilson(0, n).high <= 0.01 < wilson(0, n - 1).high
    assert far_bound_warning(wilson(0, n), 0.01, "learned") is None
    text = far_bound_warning(wilson(0, 23), 0.01, "learned")
    assert text is not None and "learned rule accepts 0 / 23" in text and "14.3%" in text and f"{n} different" in text
    assert "2 / 300" in far_bound_warning(wilson(2, 300), 0.01, "robust")  # 0.7 % measured, bound 2.4 %


def test_inliers_short_of_the_learned_score() -> None:
    sim = 0.5
    e = _evidence_for(P.learned_threshold, sim)  # the first evidence that reaches the threshold
    short = score_inliers_short(np.array([e, e - 1, e - 2, 0.0]), np.full(4, sim), P)
    assert short.tolist()[:3] == [max(P.learned_min_inliers - e, 0), 1, 2]
    # a very similar pair: the score is reached at once, the evidence minimum is what it lacks
    assert score_inliers_short(np.array([0.0]), np.array([10.0]), P).tolist() == [P.learned_min_inliers]


def test_learned_margin_fires_in_score_units_near_a_negative() -> None:
    sim = 0.5
    e = _evidence_for(P.learned_threshold, sim)
    # two same pairs far above; different pairs 2 and 20 inliers short on the learned score, AKAZE far below
    scores = _scores([0, 0, 0, 0], [300, 300, e - 2, e - 20], [0.9, 0.9, sim, sim], [1, 1, 0, 0], aliked=[np.nan] * 4)
    profile = replace(P, second_opinion_min_inliers=0)
    nearest = {n.path: n for n in learned_nearest(scores, profile, ["a", "b", "c", "d"])}
    score = nearest["learned score"]
    assert score.pair == "c" and score.short == 2 and score.units == "score"
    assert score.margin == pytest.approx(
        profile.learned_threshold - (math.log1p(e - 2) + profile.learned_weight * sim), abs=1e-3
    )
    assert "ALIKED second opinion" not in nearest  # off: nothing to measure
    checks = learned_checks(scores, profile, 0.01, ["a", "b", "c", "d"])
    assert any(w.startswith("learned score: the nearest different pair (c)") for w in checks.warnings)
    # three inliers short: no margin warning
    far = _scores([0, 0, 0], [300, 300, e - 3], [0.9, 0.9, sim], [1, 1, 0])
    assert not any("nearest different pair" in w for w in learned_checks(far, profile, 0.01).warnings)


def test_second_opinion_margin_in_aliked_inliers() -> None:
    need = P.second_opinion_min_inliers
    grey = P.second_opinion_min_similarity + 0.01  # in the grey zone: the second opinion decides
    below = P.second_opinion_min_similarity - 0.2  # out of it: its ALIKED inliers are never read
    scores = _scores(
        [0, 0, 0, 0],
        [300, 0, 0, 0],
        [0.9, grey, grey, below],
        [1, 0, 0, 0],
        aliked=[500, need - 1, need - 30, need - 1 + 0.0],
    )
    nearest = {n.path: n for n in learned_nearest(scores, P, ["a", "b", "c", "d"])}
    second = nearest["ALIKED second opinion"]
    assert (second.pair, second.units, second.short) == ("b", "ALIKED inliers", 1)
    assert second.value == need - 1 and second.threshold == need
    warning = second.warning()
    assert warning is not None and f"against the threshold {need:g}" in warning
    # a stricter second opinion moves the margin with it (read by name, not hard-coded)
    stricter = replace(P, second_opinion_min_inliers=need + 5)
    assert {n.path: n for n in learned_nearest(scores, stricter)}["ALIKED second opinion"].short == 6


def test_accepted_negatives_count_in_the_bound_not_the_margin() -> None:
    scores = _scores([P.min_inliers + 50, 0, P.min_inliers + 1], [0, 0, 0], [0.9, 0.1, 0.1], [1, 0, 0])
    checks = learned_checks(scores, P, 0.05)
    assert (checks.far.k, checks.far.n) == (1, 2)  # AKAZE alone accepts the third pair: a false accept
    assert any("learned rule accepts 1 / 2" in w for w in checks.warnings)
    akaze = {n.path: n for n in checks.nearest}["AKAZE alone"]
    assert akaze.position == 1 and akaze.short == P.min_inliers
    body = checks.to_json()
    assert body["far_upper_bound_exceeds_target"] is True and body["false_accepts"]["k"] == 1


def _learned_set(xfeat: list[float], sim: list[float], labels: list[int], aliked: list[float]) -> ScoredSet:
    base = ScoredSet.from_arrays(
        labels, [0.0] * len(labels), similarity=sim, scenes=[f"s{i % 3}" for i in range(len(labels))]
    )
    return replace(base, rule_scores={"learned": np.asarray(xfeat, float), ALIKED_EVIDENCE: np.asarray(aliked, float)})


def test_tune_under_learned_checks_the_learned_rule_and_reports_it() -> None:
    # same pairs: plenty of XFeat inliers; different pairs: a few, one of them fairly similar
    xfeat = [60, 80, 120, 40, 90, 2, 3, 0, 4, 1]
    sim = [0.7, 0.8, 0.9, 0.6, 0.75, 0.55, 0.3, 0.2, 0.35, 0.1]
    labels = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    train = _learned_set(xfeat, sim, labels, [np.nan] * 10)
    assert train.rule == "learned"
    report = tune(train, 0.01)
    body = report.to_json()["checks"]
    assert body["rule"] == "learned" and body["false_accepts"]["n"] == 5
    assert {n["path"] for n in body["nearest_negatives"]} >= {"learned score", "AKAZE alone"}
    assert any(w.startswith("A target of 1.0%") for w in body["warnings"])  # 5 different pairs cannot show 1 %
    direct = recommendation_checks(train.with_thresholds(report.recommendation.thresholds), 0.01, {})
    assert [n.to_json() for n in direct.nearest] == body["nearest_negatives"]
    learned_nearest_pair = next(n for n in body["nearest_negatives"] if n["path"] == "learned score")
    assert learned_nearest_pair["units"] == "score" and learned_nearest_pair["pair"].startswith("s2/ref5")


def test_a_fused_profile_gets_no_learned_pick_even_with_the_learned_evidence_at_hand() -> None:
    """Recommend acts on the profile's rule: the learned threshold stays where a fused profile had it."""
    xfeat = [60, 80, 120, 40, 90, 2, 3, 0, 4, 1]
    sim = [0.7, 0.8, 0.9, 0.6, 0.75, 0.55, 0.3, 0.2, 0.35, 0.1]
    labels = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    learned = _learned_set(xfeat, sim, labels, [np.nan] * 10)
    fused = learned.with_thresholds(replace(learned.thresholds, rule="fused", learned_threshold=7.5))
    assert fused.rule == "fused"
    rec = tune(fused, 0.01).recommendation
    assert rec.learned is None and rec.thresholds.learned_threshold == 7.5
    assert tune(learned, 0.01).recommendation.learned is not None
