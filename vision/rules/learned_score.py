"""The ``learned`` rule: both matchers' inliers and the global similarity in one score.

    evidence = max(akaze_inliers, xfeat_inliers)        (each: checked inliers, else 0)
    score    = log(1 + evidence) + learned_weight * similarity
    accept  <=> evidence >= learned_min_inliers  and  score >= learned_threshold

In the grey zone the second opinion's ALIKED inliers join the evidence
(:mod:`vision.rules.second_opinion`): the same score, a better matcher.

AKAZE's inliers are the existing robust evidence (plausible homography,
rotation-invariant); XFeat's are LighterGlue matches checked as measured in
``scripts/analyse_learned.py`` (homography topology, a loose stretch bound and
the inliers' spread over both images).  The maximum keeps the better matcher's
evidence, so a rotated photo (XFeat fails) still counts on AKAZE, a night or
wide-angle photo (AKAZE fails) on XFeat.  The similarity is the fused rule's
global descriptor cosine; it lets few inliers suffice for similar-looking
photos and demands many for dissimilar ones.

Pure numpy; the thresholds live in the profile.
"""

from __future__ import annotations

import math

import numpy as np

from vision.profile import Profile


def learned_evidence(akaze_inliers: float | np.ndarray, xfeat_inliers: float | np.ndarray) -> np.ndarray:
    """The stronger matcher's checked inliers (element-wise)."""
    return np.maximum(np.asarray(akaze_inliers, np.float64), np.asarray(xfeat_inliers, np.float64))


def learned_score(evidence: float | np.ndarray, similarity: float | np.ndarray, weight: float) -> np.ndarray:
    """``log(1 + evidence) + weight * similarity`` (element-wise; evidence clipped at 0)."""
    e = np.maximum(np.asarray(evidence, np.float64), 0.0)
    return np.log1p(e) + weight * np.asarray(similarity, np.float64)


def learned_accepts(
    akaze_inliers: float | np.ndarray,
    xfeat_inliers: float | np.ndarray,
    similarity: float | np.ndarray,
    thresholds: Profile,
) -> np.ndarray:
    """The rule's verdicts, element-wise: the one acceptance of the verify path and the lab.

    AKAZE's inliers alone keep the robust rule's say (``>= min_inliers``: the
    learned rule never accepts less than robust); otherwise the stronger
    matcher's evidence must reach ``learned_min_inliers`` and the score
    ``learned_threshold``.  ``akaze_inliers`` are the visible plausible ones
    (:func:`vision.rules.evidence.visible_inliers`), ``xfeat_inliers`` the
    checked ones, ``similarity`` 0 where missing.
    """
    akaze = np.asarray(akaze_inliers, np.float64)
    by_score = score_accepts(learned_evidence(akaze, xfeat_inliers), similarity, thresholds)
    return (akaze >= thresholds.min_inliers) | by_score


def score_accepts(evidence: float | np.ndarray, similarity: float | np.ndarray, thresholds: Profile) -> np.ndarray:
    """Element-wise: ``evidence >= learned_min_inliers`` and the score ``>= learned_threshold``.

    The one test of the score, whichever matcher's inliers ``evidence`` holds
    (the first stage's, or the second opinion's ALIKED inliers where higher:
    :func:`vision.rules.second_opinion.counted_evidence`).
    """
    e = np.asarray(evidence, np.float64)
    score = learned_score(e, similarity, thresholds.learned_weight)
    return (e >= thresholds.learned_min_inliers) & (score >= thresholds.learned_threshold)


def fit_threshold(
    evidence: np.ndarray,
    similarity: np.ndarray,
    labels: np.ndarray,
    weight: float,
    min_inliers: float,
    target_far: float = 0.01,
) -> float:
    """The rule's threshold for at most ``target_far`` false accepts, with a margin.

    As for the fused rule, the negatives are *stressed*: each is scored as if
    it had at least ``min_inliers`` inliers (a stranger on another data set
    may gather a few more spurious inliers than here).  The threshold lies
    midway between the stressed negatives' ``target_far`` upper quantile and
    the lowest score of a same pair above it.

    Parameters
    ----------
    evidence, similarity, labels : np.ndarray
        ``(N,)`` per pair; labels 1 same, 0 different (both present).
    """
    e = np.asarray(evidence, np.float64)
    s = np.asarray(similarity, np.float64)
    lab = np.asarray(labels).astype(int)
    neg, pos = lab == 0, lab == 1
    if not neg.any() or not pos.any():
        raise ValueError("need at least one same pair (label 1) and one different pair (label 0)")
    stressed = np.sort(learned_score(np.maximum(e[neg], min_inliers), s[neg], weight))[::-1]
    allowed = math.floor(target_far * len(stressed) + 1e-9)
    lo = stressed[allowed] if allowed < len(stressed) else float(stressed[-1]) - 1.0
    pos_scores = learned_score(e[pos & (e >= min_inliers)], s[pos & (e >= min_inliers)], weight)
    above = pos_scores[pos_scores > lo]
    hi = float(above.min()) if len(above) else float(lo) + 1.0
    return float((lo + hi) / 2)
