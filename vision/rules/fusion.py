"""The fused rule: local evidence (homography inliers) and global evidence (image similarity).

One homography's inlier count is a brittle judge of "same object or scene":
wide viewpoint changes leave a handful of inliers, and a different scene can
produce a few spurious ones.  A global image descriptor (the pooled
1280-value feature of the offline tagger's EfficientNet-Lite0) is robust to
exactly those changes, but two different objects of the same kind (two
buildings, two toys) can look alike globally.  The fused rule therefore
combines both, with a minimum of geometric evidence:

    accept  <=>  plausible homography
                 and inliers >= fused_min_inliers          (geometric minimum)
                 and outline area >= min_area_fraction
                 and (   inliers >= min_inliers                      (geometry alone, as robust)
                      or log(1 + inliers) + fused_weight * similarity >= fused_threshold)

In the (inliers, similarity) plane the boundary is the vertical line
``inliers = fused_min_inliers`` and the curve
``similarity = (fused_threshold - log(1 + inliers)) / fused_weight``: few
inliers need a high similarity, many inliers carry the decision alone
(``geometry``), and in between the similarity lifts the pair over
(``similarity``).

Everything here is pure (numpy); the descriptor itself comes from
:mod:`vision.matchers.descriptor`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vision.core import verdict as v
from vision.profile import Profile
from vision.rules.evidence import MatchEvidence, robust_accepts

FUSED_FIELDS = ("fused_min_inliers", "fused_weight", "fused_threshold")
"""The :class:`Profile` fields of the fused rule (what :func:`recommend_fused` picks)."""

DEFAULT_WEIGHTS = (2.0, 2.5, 3.0, 4.0, 5.0)
DEFAULT_MIN_INLIERS = (6, 8, 10)


# -- the score and the decision ------------------------------------------------------


def fused_score(inliers: float | np.ndarray, similarity: float | np.ndarray, weight: float) -> Any:
    """``log(1 + inliers) + weight * similarity`` (scalar or elementwise)."""
    return np.log1p(np.maximum(inliers, 0)) + weight * np.asarray(similarity, np.float64)


def required_similarity(inliers: float | np.ndarray, thresholds: Profile) -> Any:
    """The similarity a pair with ``inliers`` needs to reach the fused threshold (may be <= 0)."""
    return (thresholds.fused_threshold - np.log1p(np.maximum(inliers, 0))) / thresholds.fused_weight


def geometry_alone_inliers(thresholds: Profile) -> int:
    """The fewest inliers that accept whatever the similarity.

    The smaller of the robust rule's ``min_inliers`` (so the fused rule
    accepts every pair the robust rule accepts) and the inliers whose
    ``log(1 + inliers)`` alone reaches the fused threshold; never below the
    geometric minimum.
    """
    n = math.ceil(math.expm1(thresholds.fused_threshold) - 1e-9)
    while math.log1p(n) < thresholds.fused_threshold:  # float rounding
        n += 1
    return max(thresholds.fused_min_inliers, min(n, thresholds.min_inliers))


@dataclass(frozen=True)
class FusedEvidence:
    """The two numbers the fused rule weighs, and its verdict's parts.

    Attributes
    ----------
    inliers : int
        Inliers of a plausible homography (0 without one: :attr:`MatchEvidence.score`).
    similarity : float
        Cosine similarity of the two photos' global descriptors.
    score : float
        ``log(1 + inliers) + fused_weight * similarity``.
    required_similarity : float
        What ``similarity`` had to reach with these inliers.
    decided_by : str
        ``geometry`` (inliers alone pass the threshold), ``similarity`` (the
        similarity lifted the pair over), or the failing check:
        ``no_homography``, ``implausible_homography``, ``geometric_minimum``,
        ``outline_area``, ``fused_score``.
    accepted : bool
    reason : str
    """

    inliers: int
    similarity: float
    score: float
    required_similarity: float
    decided_by: str
    accepted: bool
    reason: str

    def summary(self) -> dict[str, Any]:
        return {
            "similarity": round(self.similarity, 4),
            "fused_score": round(self.score, 4),
            "required_similarity": round(float(self.required_similarity), 4)
            if math.isfinite(self.required_similarity)
            else None,
            "decided_by": self.decided_by,
        }


def fused_evidence(evidence: MatchEvidence, similarity: float, thresholds: Profile) -> FusedEvidence:
    """Weigh a pair's local and global evidence (see the module docstring)."""
    t = thresholds
    sim = float(similarity) if math.isfinite(similarity) else 0.0
    inliers = int(evidence.score)  # 0 unless the homography is plausible
    score = float(fused_score(inliers, sim, t.fused_weight))
    need = float(required_similarity(inliers, t))

    # The verdict is fused_accepts' (the lab's too); the checks below only find the words for it.
    accepted_by_rule = bool(fused_accepts([inliers], [sim], t, [evidence.area_fraction])[0])

    def out(decided_by: str, accepted: bool, reason: str) -> FusedEvidence:
        return FusedEvidence(inliers, sim, score, need, decided_by, accepted_by_rule, reason)

    if evidence.H is None:
        return out(
            "no_homography",
            False,
            f"no homography: {evidence.n_tentative} tentative matches (at least 4 needed, "
            f"{t.fused_min_inliers} inliers required by the fused rule; similarity {sim:.2f})",
        )
    if evidence.problems:
        return out(
            "implausible_homography",
            False,
            "implausible homography: " + "; ".join(evidence.problems) + f" (similarity {sim:.2f})",
        )
    if inliers < t.fused_min_inliers:
        return out(
            "geometric_minimum",
            False,
            f"{inliers} inliers < {t.fused_min_inliers} required (the fused rule's geometric minimum; "
            f"similarity {sim:.2f} cannot make up for it)",
        )
    if evidence.area_fraction < t.min_area_fraction:
        return out(
            "outline_area",
            False,
            f"outline covers {evidence.area_fraction:.2%} of the frame < {t.min_area_fraction:.2%} required",
        )
    formula = f"log(1+{inliers}) + {t.fused_weight:g} x {sim:.2f} = {score:.2f}"
    if inliers >= geometry_alone_inliers(t):
        return out(
            "geometry",
            True,
            f"geometry: {inliers} inliers >= {geometry_alone_inliers(t)} carry it alone (similarity {sim:.2f})",
        )
    if score < t.fused_threshold:
        return out(
            "fused_score",
            False,
            f"fused score {formula} < {t.fused_threshold:g}: similarity {sim:.2f} < {need:.2f} "
            f"needed with {inliers} inliers",
        )
    return out(
        "similarity",
        True,
        f"similarity: {sim:.2f} >= {need:.2f} needed with {inliers} inliers "
        f"(fused score {formula} >= {t.fused_threshold:g})",
    )


def decide_fused(evidence: MatchEvidence, similarity: float, thresholds: Profile) -> v.Verdict:
    """The fused rule's verdict; ``extra`` has the match summary, the similarity and ``decided_by``."""
    fused = fused_evidence(evidence, similarity, thresholds)
    extra = {**evidence.summary(), **fused.summary(), "rule": "fused"}
    message = v.COMPLETE if fused.accepted else v.WRONG_PICTURE
    return v.Verdict(200, message, fused.accepted, fused.reason, extra)


def fused_accepts(
    inliers: Sequence[float] | np.ndarray,
    similarity: Sequence[float] | np.ndarray,
    thresholds: Profile,
    area_fraction: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Vectorised fused decision for many pairs (same result as :func:`decide_fused`).

    ``inliers`` are those of a plausible homography (0 otherwise, as
    :attr:`MatchEvidence.score`); without ``area_fraction`` the area check is skipped.
    """
    inl = np.asarray(inliers, np.float64)
    sim = np.asarray(similarity, np.float64)
    lifted = fused_score(inl, sim, thresholds.fused_weight) >= thresholds.fused_threshold
    ok = (inl >= thresholds.fused_min_inliers) & ((inl >= geometry_alone_inliers(thresholds)) | lifted)
    if area_fraction is not None:
        ok &= np.asarray(area_fraction, np.float64) >= thresholds.min_area_fraction
    return ok


GEOMETRY_SCORE = 100.0
"""The fused score given to pairs that geometry alone accepts (above any ``log(1 + n) + w * s``)."""


def fused_lab_scores(
    inliers: np.ndarray, area_fraction: np.ndarray, similarity: np.ndarray | None, thresholds: Profile
) -> np.ndarray:
    """The fused rule as one number per pair: accepted iff it is >= ``fused_threshold``.

    ``log(1 + inliers) + w * similarity`` for pairs that pass the geometric
    gates (``inliers >= fused_min_inliers``, outline area), 0 for the others,
    and :data:`GEOMETRY_SCORE` ``+ log(1 + inliers)`` where the inliers accept
    alone (:func:`geometry_alone_inliers`).  Pairs without a similarity
    (``nan``, or ``similarity`` None) carry the robust rule's verdict on the
    same scale.  Sweeping a threshold over it moves ``fused_threshold`` with
    the gates fixed: its ROC passes through the current operating point.
    All arrays are ``(N,)``.
    """
    t = thresholds
    inl = np.asarray(inliers, np.float64)
    area = np.asarray(area_fraction, np.float64)
    sim = np.full(len(inl), np.nan) if similarity is None else np.asarray(similarity, np.float64)
    gate = (inl >= t.fused_min_inliers) & (area >= t.min_area_fraction)
    score = np.where(gate, fused_score(inl, np.nan_to_num(sim, nan=0.0), t.fused_weight), 0.0)
    alone = gate & (inl >= geometry_alone_inliers(t))
    score = np.where(alone, np.maximum(score, GEOMETRY_SCORE + np.log1p(inl)), score)
    fallback = ~np.isfinite(sim)
    if fallback.any():
        eff = np.where(area >= t.min_area_fraction, inl, 0.0)
        below = np.minimum(np.log1p(eff), np.nextafter(t.fused_threshold, 0.0))
        robust = np.where(robust_accepts(inl, area, t), GEOMETRY_SCORE + np.log1p(eff), below)
        score = np.where(fallback, robust, score)
    return score


# -- for the tuning page: boundary and recommendation ----------------------------------


def fused_boundary(
    thresholds: Profile, inliers_range: tuple[float, float] = (0, 1000), n: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """The decision boundary as a polyline in the (inliers, similarity) plane.

    Pairs up and to the right of it are accepted.  It runs down the vertical
    line ``inliers = fused_min_inliers`` from similarity 1 to the required
    similarity there, then along ``(t - log(1 + inliers)) / w`` (log-spaced
    inliers) until it reaches similarity 0 (geometry alone, at the latest at the
    robust rule's ``min_inliers``) or the range's end.
    Similarities are clipped to ``[0, 1]``.

    Returns
    -------
    inliers, similarity : np.ndarray
        float64 arrays of equal length (plot ``similarity`` against ``inliers``).
    """
    lo, hi = float(inliers_range[0]), float(inliers_range[1])
    k = float(thresholds.fused_min_inliers)
    start = max(lo, k)
    if hi <= start:
        return np.array([start, start]), np.array([1.0, 1.0])
    xs = np.unique(np.concatenate([[start], np.geomspace(max(start, 1.0), hi, n), [hi]]))
    xs = xs[(xs >= start) & (xs <= hi)]
    ys = np.clip(required_similarity(xs, thresholds), 0.0, 1.0)
    geometry = float(geometry_alone_inliers(thresholds))
    ys[xs >= geometry] = 0.0  # geometry alone accepts from there on
    if start == k:  # the geometric minimum's vertical segment is in view
        xs = np.concatenate([[k], xs])
        ys = np.concatenate([[1.0], ys])
    return xs.astype(np.float64), ys.astype(np.float64)


def _rates(accepted: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    pos, neg = labels == 1, labels == 0
    tar = float(accepted[pos].mean()) if pos.any() else float("nan")
    far = float(accepted[neg].mean()) if neg.any() else float("nan")
    return tar, far


def recommend_fused(
    inliers: Sequence[float] | np.ndarray,
    similarity: Sequence[float] | np.ndarray,
    labels: Sequence[int] | np.ndarray,
    target_far: float = 0.01,
    *,
    area_fraction: Sequence[float] | np.ndarray | None = None,
    base: Profile = Profile(),
    weights: Sequence[float] = DEFAULT_WEIGHTS,
    min_inliers: Sequence[int] = DEFAULT_MIN_INLIERS,
) -> dict[str, Any]:
    """Pick the fused rule's thresholds for a target false-accept rate, with margins.

    For every ``(weight, min_inliers)`` of the grids, the threshold is put
    midway between (a) the fused score of the negatives *as if each had at
    least ``min_inliers`` inliers* (so a different scene with a few spurious
    inliers on another data set is still rejected; the ``target_far``
    quantile of those, ignoring the geometric minimum that protects them on this
    set) and (b) the lowest score of a same pair still accepted there.  The
    pair ``(weight, min_inliers)`` with the most true accepts wins; ties go to
    the widest margin in similarity units, then to fewer required inliers.

    Parameters
    ----------
    inliers, similarity, labels : array-like
        Per pair: plausible-homography inliers (:attr:`MatchEvidence.score`),
        global similarity, 1 same / 0 different.
    target_far : float
        False-accept rate allowed on the (stressed) negatives, in ``[0, 1)``.
    area_fraction : array-like, optional
        Outline area per pair; checked against ``base.min_area_fraction``.
    base : Profile
        Supplies ``min_area_fraction``.
    weights, min_inliers : sequences
        The grids searched.

    Returns
    -------
    dict
        ``fused_min_inliers``, ``fused_weight``, ``fused_threshold`` (apply
        with :func:`apply_recommendation`), and the figures on this set:
        ``true_accept_rate``, ``false_accept_rate``, ``stressed_false_accept_rate``
        (negatives given ``fused_min_inliers`` inliers), ``similarity_margin``.
    """
    inl = np.asarray(inliers, np.float64)
    sim = np.asarray(similarity, np.float64)
    lab = np.asarray(labels).astype(int)
    if not (inl.shape == sim.shape == lab.shape) or inl.ndim != 1:
        raise ValueError("inliers, similarity and labels must be 1-D arrays of equal length")
    if not 0 <= target_far < 1:
        raise ValueError(f"target_far must be in [0, 1), got {target_far}")
    if not (lab == 0).any() or not (lab == 1).any():
        raise ValueError("need at least one same pair (label 1) and one different pair (label 0)")
    area_ok = (
        np.ones_like(inl, bool)
        if area_fraction is None
        else np.asarray(area_fraction, np.float64) >= base.min_area_fraction
    )
    neg, pos = lab == 0, lab == 1
    best: tuple | None = None
    for k in min_inliers:
        for w in weights:
            stressed = np.sort(fused_score(np.maximum(inl[neg], k), sim[neg], w))[::-1]
            allowed = math.floor(target_far * len(stressed) + 1e-9)
            lo = stressed[allowed] if allowed < len(stressed) else -np.inf
            gate = (inl >= k) & area_ok
            pos_scores = fused_score(inl[pos & gate], sim[pos & gate], w)
            above = pos_scores[pos_scores > lo]
            if not np.isfinite(lo):
                lo = (above.min() if len(above) else 0.0) - 1.0
            hi = above.min() if len(above) else lo + 1.0
            t = float((lo + hi) / 2)
            cand = replace(base, fused_min_inliers=int(k), fused_weight=float(w), fused_threshold=round(t, 3))
            acc = fused_accepts(inl, sim, cand, area_fraction)
            tar, far = _rates(acc, lab)
            margin = float((hi - lo) / 2 / w)
            key = (tar, margin, -k)
            if best is None or key > best[0]:
                stressed_far = float((fused_score(np.maximum(inl[neg], k), sim[neg], w) >= cand.fused_threshold).mean())
                best = (key, cand, tar, far, stressed_far, margin)
    assert best is not None, "the grids are not empty"
    _, cand, tar, far, stressed_far, margin = best
    return {
        "fused_min_inliers": cand.fused_min_inliers,
        "fused_weight": cand.fused_weight,
        "fused_threshold": cand.fused_threshold,
        "true_accept_rate": round(tar, 4),
        "false_accept_rate": round(far, 4),
        "stressed_false_accept_rate": round(stressed_far, 4),
        "similarity_margin": round(margin, 4),
    }


def apply_recommendation(thresholds: Profile, recommendation: dict[str, Any]) -> Profile:
    """``thresholds`` with the fused fields of a :func:`recommend_fused` result."""
    return replace(thresholds, **{name: recommendation[name] for name in FUSED_FIELDS})
