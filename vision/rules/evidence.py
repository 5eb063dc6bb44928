"""The evidence a verification produces, and the verdicts (the profile's numbers are in :mod:`vision.profile`).

The split matters for speed:

* expensive, cacheable: :func:`match_features` (kNN search, once per pair);
* cheap, rerun on every slider move: :func:`evaluate_match` (ratio test,
  homography, plausibility) and the rules' decisions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vision.core import verdict as v
from vision.matchers.akaze import Features
from vision.matchers.descriptor import cosine_similarity
from vision.matchers.geometry import fit_homography, homography_problems, project_outline, visible_fraction
from vision.matchers.knn import CandidateMatches, knn_match, matched_points, ratio_mask
from vision.profile import Profile


@dataclass(frozen=True)
class MatchEvidence:
    """What the cheap step found for one pair (everything the decision needs).

    Attributes
    ----------
    n_ref_keypoints, n_query_keypoints : int
        Keypoints detected on each side.
    n_candidates : int
        kNN candidate matches (one per reference descriptor).
    tentative : np.ndarray
        ``(M,)`` bool mask over the candidates that passed the ratio test.
    inliers : np.ndarray
        ``(M,)`` bool mask over the candidates that are homography inliers.
    H : np.ndarray or None
        Reference -> query homography at working resolution.
    outline : np.ndarray or None
        ``(4, 2)`` reference frame projected into the query.
    area_fraction : float
        The share of the query frame inside the projected outline, clipped to
        the frame (in ``[0, 1]``; 0 without ``H`` or for a mirrored outline).
    problems : list[str]
        Why ``H`` is implausible (empty when it is fine).
    """

    n_ref_keypoints: int
    n_query_keypoints: int
    n_candidates: int
    tentative: np.ndarray
    inliers: np.ndarray
    H: np.ndarray | None
    outline: np.ndarray | None
    area_fraction: float
    problems: list[str]

    @property
    def n_tentative(self) -> int:
        return int(self.tentative.sum())

    @property
    def n_inliers(self) -> int:
        return int(self.inliers.sum())

    @property
    def inlier_ratio(self) -> float:
        return self.n_inliers / self.n_tentative if self.n_tentative else 0.0

    @property
    def score(self) -> float:
        """Inliers of a plausible homography, else 0 (the ROC score of ``robust``)."""
        return float(self.n_inliers) if self.H is not None and not self.problems else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "ref_keypoints": self.n_ref_keypoints,
            "query_keypoints": self.n_query_keypoints,
            "tentative_matches": self.n_tentative,
            "inliers": self.n_inliers,
            "inlier_ratio": round(self.inlier_ratio, 4),
            "area_fraction": round(self.area_fraction, 4),
            "homography_problems": list(self.problems),
        }


@dataclass(frozen=True)
class PairMatch:
    """The expensive half of a verification: both feature sets and their kNN matches."""

    ref: Features
    query: Features
    candidates: CandidateMatches
    match_ms: float = 0.0


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)


def match_features(ref: Features, query: Features) -> PairMatch:
    """kNN-match two feature sets (cache the result; see :func:`evaluate_match`)."""
    start = time.perf_counter()
    candidates = knn_match(ref, query)
    return PairMatch(ref, query, candidates, _ms(start))


def pair_similarity(pair: PairMatch) -> float | None:
    """Cosine similarity of the pair's global descriptors; None when either lacks one."""
    if pair.ref.embedding is None or pair.query.embedding is None:
        return None
    return cosine_similarity(pair.ref.embedding, pair.query.embedding)


def evaluate_match(pair: PairMatch, thresholds: Profile) -> MatchEvidence:
    """Ratio test, homography and plausibility checks on cached matches (the cheap step)."""
    tentative = ratio_mask(pair.candidates, thresholds.ratio) if len(pair.candidates) else np.zeros(0, bool)
    src, dst = matched_points(pair.ref, pair.query, pair.candidates, tentative)
    fit = fit_homography(src, dst, thresholds.ransac_method, thresholds.ransac_reproj_px)
    inliers = np.zeros_like(tentative)
    inliers[np.flatnonzero(tentative)] = fit.inliers
    outline, area_fraction, problems = None, 0.0, []
    if fit.H is not None:
        problems = homography_problems(fit.H, pair.ref.image_size, pair.query.image_size)
        outline = project_outline(fit.H, pair.ref.image_size)
        area_fraction = visible_fraction(outline, pair.query.image_size)
    return MatchEvidence(
        n_ref_keypoints=pair.ref.n_detected,
        n_query_keypoints=pair.query.n_detected,
        n_candidates=len(pair.candidates),
        tentative=tentative,
        inliers=inliers,
        H=fit.H,
        outline=outline,
        area_fraction=area_fraction,
        problems=problems,
    )


def visible_inliers(
    inliers: Sequence[float] | np.ndarray, area_fraction: Sequence[float] | np.ndarray, thresholds: Profile
) -> np.ndarray:
    """``(N,)`` float: plausible-homography inliers where the outline covers ``min_area_fraction``, else 0.

    ``inliers`` are :attr:`MatchEvidence.score` values (0 without a plausible
    homography).  The robust rule accepts iff this reaches ``min_inliers``;
    the learned rule counts it as AKAZE's evidence.
    """
    inl = np.asarray(inliers, np.float64)
    return np.where(np.asarray(area_fraction, np.float64) >= thresholds.min_area_fraction, inl, 0.0)


def robust_accepts(
    inliers: Sequence[float] | np.ndarray, area_fraction: Sequence[float] | np.ndarray, thresholds: Profile
) -> np.ndarray:
    """``(N,)`` bool: the robust rule's verdicts (the one acceptance of :func:`decide_verification` and the lab)."""
    return visible_inliers(inliers, area_fraction, thresholds) >= thresholds.min_inliers


def decide_registration(n_keypoints: int, thresholds: Profile) -> v.Verdict:
    """``Good Picture`` when the photo has enough keypoints to verify against later."""
    extra = {"keypoints": int(n_keypoints)}
    if n_keypoints < thresholds.min_keypoints:
        reason = f"{n_keypoints} keypoints < {thresholds.min_keypoints} required: too plain to verify against"
        if thresholds.min_keypoints > thresholds.max_keypoints:
            reason += f" (keypoints are counted up to max_keypoints = {thresholds.max_keypoints})"
        return v.Verdict(400, v.TOO_LITTLE_FEATURES, False, reason, extra)
    reason = f"{n_keypoints} keypoints >= {thresholds.min_keypoints} required"
    return v.Verdict(200, v.GOOD_PICTURE, True, reason, extra)


def decide_verification(evidence: MatchEvidence, thresholds: Profile) -> v.Verdict:
    """The robust rule: a plausible homography with enough inliers and a visible outline.

    Checks, in order (the first that fails is the reason): a homography could
    be fitted; it is geometrically plausible; inliers >= ``min_inliers``;
    outline area >= ``min_area_fraction`` of the query frame.
    """
    extra = evidence.summary()
    if not robust_accepts([evidence.score], [evidence.area_fraction], thresholds)[0]:
        return v.Verdict(200, v.WRONG_PICTURE, False, _first_failure(evidence, thresholds), extra)
    reason = (
        f"{evidence.n_inliers} inliers >= {thresholds.min_inliers}, outline {evidence.area_fraction:.1%} of the frame"
    )
    return v.Verdict(200, v.COMPLETE, True, reason, extra)


def _first_failure(e: MatchEvidence, t: Profile) -> str:
    if e.H is None:
        return f"no homography: {e.n_tentative} tentative matches (at least 4 needed, {t.min_inliers} inliers required)"
    if e.problems:
        return "implausible homography: " + "; ".join(e.problems)
    if e.n_inliers < t.min_inliers:
        return f"{e.n_inliers} inliers < {t.min_inliers} required (short by {t.min_inliers - e.n_inliers})"
    if e.area_fraction < t.min_area_fraction:
        return f"outline covers {e.area_fraction:.2%} of the frame < {t.min_area_fraction:.2%} required"
    return ""


@dataclass(frozen=True)
class OriginalEvidence:
    """What the original note's pipeline computes for a pair.

    ``area_px`` is the shoelace area of the projected outline (the note's
    only decision value); ``None`` where the note's code would have crashed
    (no descriptors, no homography), which ``problem`` then explains.
    """

    n_ref_keypoints: int
    n_query_keypoints: int
    n_matches: int
    area_px: float | None
    problem: str = ""
    # What the note's rule looked at, for drawing (full-resolution pixels):
    # its best matches' ``(N, 2)`` positions, the ``(4, 2)`` outline, and the
    # photos' ``(width, height)``.
    ref_points: np.ndarray | None = None
    query_points: np.ndarray | None = None
    outline: np.ndarray | None = None
    ref_size: tuple[int, int] = (0, 0)
    query_size: tuple[int, int] = (0, 0)

    @property
    def score(self) -> float:
        return float(self.area_px) if self.area_px is not None else 0.0


def decide_original(evidence: OriginalEvidence, thresholds: Profile) -> v.Verdict:
    """The note's decision: accept when the outline's shoelace area exceeds 30 px²."""
    extra = {
        "ref_keypoints": evidence.n_ref_keypoints,
        "query_keypoints": evidence.n_query_keypoints,
        "matches": evidence.n_matches,
        "area_px": evidence.area_px,
    }
    if evidence.area_px is None:
        return v.Verdict(200, v.WRONG_PICTURE, False, f"original rule: {evidence.problem}", extra)
    if evidence.area_px <= thresholds.original_min_area_px:
        reason = f"original rule: area {evidence.area_px:.0f} px² <= {thresholds.original_min_area_px:g}"
        return v.Verdict(200, v.WRONG_PICTURE, False, reason, extra)
    reason = f"original rule: area {evidence.area_px:.0f} px² > {thresholds.original_min_area_px:g}"
    return v.Verdict(200, v.COMPLETE, True, reason, extra)
