"""The learned rule's verification step: AKAZE first, XFeat + LighterGlue when AKAZE is not enough.

Order (cheapest first, stop as soon as the verdict is settled):

1. AKAZE's plausible inliers and the global similarity (both computed by the
   pipeline anyway): when they alone pass the rule, accept; XFeat is skipped.
2. XFeat on the query (working image, ``xfeat.XFEAT_SIDE`` px), LighterGlue
   against the reference's stored XFeat features, checked homography.
3. Only when step 2 is inconclusive (fewer than ``learned_min_inliers``
   checked inliers: XFeat is not rotation-invariant) and ``learned_rotations``
   is on: the query turned by 90, 180, 270 degrees, best kept.

The verdict's ``extra`` says which evidence decided (``decided_by``: ``akaze``
or ``xfeat``) and carries every number the rule used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from vision.core import verdict as v
from vision.matchers import lighterglue, xfeat
from vision.matchers.xfeat_geometry import LearnedGeometry, learned_geometry, rotate_image, unrotate_points
from vision.profile import Profile
from vision.rules.evidence import MatchEvidence, decide_verification
from vision.rules.learned_score import learned_accepts, learned_score


@dataclass(frozen=True)
class XFeatMatch:
    """One XFeat try: the matches, their geometry, and the matched points for drawing.

    Attributes
    ----------
    geometry : LearnedGeometry
    src, dst : np.ndarray
        ``(K, 2)`` float32 matched points: reference working pixels, query working
        pixels of the *unturned* query (whatever ``geometry.rotation`` was).
    n_query_keypoints : int
    """

    geometry: LearnedGeometry
    src: np.ndarray
    dst: np.ndarray
    n_query_keypoints: int


@dataclass(frozen=True)
class LearnedOutcome:
    """The learned rule's verdict and what produced it (``xfeat`` None when it was not needed or not available).

    ``aliked`` holds the second opinion's ALIKED + LightGlue matches when one ran
    (:mod:`vision.rules.second_opinion`).
    """

    verdict: v.Verdict
    akaze_inliers: int
    xfeat: XFeatMatch | None
    similarity: float | None
    timings: dict[str, float]
    aliked: XFeatMatch | None = None


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)


def akaze_inliers(evidence: MatchEvidence, thresholds: Profile) -> int:
    """AKAZE's plausible-homography inliers whose outline is visible enough, else 0."""
    return int(evidence.score) if evidence.area_fraction >= thresholds.min_area_fraction else 0


def xfeat_inliers(geometry: LearnedGeometry | None, thresholds: Profile) -> int:
    """XFeat's checked inliers: plausible homography whose inliers cover enough of both images, else 0."""
    if geometry is None or geometry.H is None or geometry.problems:
        return 0
    return geometry.n_inliers if geometry.coverage >= thresholds.learned_min_coverage else 0


def decide_learned(
    akaze: int,
    xfeat_geometry: LearnedGeometry | None,
    similarity: float | None,
    thresholds: Profile,
    akaze_failure: str = "",
) -> v.Verdict:
    """The rule on both matchers' evidence; a missing similarity counts as 0 (geometry must carry it).

    ``akaze_failure`` (why the robust rule rejects, if it does) leads the
    reason when neither matcher has enough inliers.
    """
    xf = xfeat_inliers(xfeat_geometry, thresholds)
    evidence = max(akaze, xf)
    sim = 0.0 if similarity is None else float(similarity)
    score = float(learned_score(evidence, sim, thresholds.learned_weight))
    # AKAZE alone (the robust rule) keeps its say: the learned rule never accepts less
    robust = akaze >= thresholds.min_inliers
    accepted = bool(learned_accepts(akaze, xf, sim, thresholds))
    decided_by = "xfeat" if xf > akaze and not robust else "akaze"
    extra = {
        "rule": "learned",
        "decided_by": decided_by,
        "akaze_inliers": int(akaze),
        "xfeat_inliers": int(xf),
        "similarity": None if similarity is None else round(sim, 4),
        "learned_score": round(score, 4),
        "learned_min_inliers": thresholds.learned_min_inliers,
        "learned_threshold": thresholds.learned_threshold,
    }
    if xfeat_geometry is not None:
        extra.update(xfeat_geometry.summary())
    name = "XFeat" if decided_by == "xfeat" else "AKAZE"
    formula = f"log(1 + {evidence}) + {thresholds.learned_weight:g} x similarity {sim:.2f} = {score:.2f}"
    if robust:
        reason = f"AKAZE: {akaze} inliers >= {thresholds.min_inliers} (geometry alone, as the robust rule)"
    elif evidence < thresholds.learned_min_inliers:
        reason = f"{evidence} {name} inliers < {thresholds.learned_min_inliers} required"
        if akaze_failure:
            xfeat_part = "not run" if xfeat_geometry is None else f"{xf} checked inliers"
            reason = f"{akaze_failure}; XFeat: {xfeat_part} (learned rule: {reason})"
    elif accepted:
        reason = f"{name}: {formula} >= {thresholds.learned_threshold:g}"
    else:
        reason = f"{name}: {formula} < {thresholds.learned_threshold:g}"
    return v.Verdict(200, v.COMPLETE if accepted else v.WRONG_PICTURE, bool(accepted), reason, extra)


def xfeat_try(
    ref: xfeat.XFeatFeatures,
    query_image: np.ndarray | None,
    rotation: int,
    thresholds: Profile,
    query: xfeat.XFeatFeatures | None = None,
) -> XFeatMatch:
    """One XFeat try: LighterGlue against ``ref``, checked geometry.

    The query's features are ``query`` (precomputed, unturned) for rotation 0
    when given, else extracted from ``query_image`` turned by ``rotation``.
    """
    if query is None or rotation:
        if query_image is None:
            raise ValueError("an XFeat try needs the query image or (unturned) its features")
        q = xfeat.extract(rotate_image(query_image, rotation))
        size = (query_image.shape[1], query_image.shape[0])
    else:
        q, size = query, query.image_size
    m = lighterglue.match(ref, q)
    src, dst = ref.keypoints[m.idx0], q.keypoints[m.idx1]
    geometry = learned_geometry(
        src,
        dst,
        ref.image_size,
        q.image_size,
        max_anisotropy=thresholds.learned_max_stretch,
        rotation=rotation,
        outline=thresholds.learned_outline,
    )
    return XFeatMatch(geometry, src, unrotate_points(dst, rotation, size).astype(np.float32), len(q))


def verify_learned(
    akaze_evidence: MatchEvidence,
    similarity: float | None,
    ref_xfeat: xfeat.XFeatFeatures | None,
    query_image: np.ndarray | None,
    thresholds: Profile,
    query_xfeat: xfeat.XFeatFeatures | None = None,
) -> LearnedOutcome:
    """Steps 1-3 above for one pair.

    ``query_image`` is the query's working image (BGR or gray uint8);
    ``query_xfeat`` its XFeat features when already computed (an evaluation
    caches them; without the image no turned try is made).
    """
    akaze = akaze_inliers(akaze_evidence, thresholds)
    robust = decide_verification(akaze_evidence, thresholds)
    failure = "" if robust.result else robust.reason
    verdict = decide_learned(akaze, None, similarity, thresholds, failure)
    missing = "the reference has no XFeat features" if ref_xfeat is None else ""
    if not missing and query_image is None and query_xfeat is None:
        missing = "the query's XFeat features were not computed"
    if verdict.result or missing or ref_xfeat is None:
        if missing:
            verdict.extra["xfeat_unavailable"] = missing
        return LearnedOutcome(verdict, akaze, None, similarity, {})
    timings: dict[str, float] = {}
    start = time.perf_counter()
    best = xfeat_try(ref_xfeat, query_image, 0, thresholds, query_xfeat)
    timings["xfeat"] = _ms(start)
    inconclusive = xfeat_inliers(best.geometry, thresholds) < thresholds.learned_min_inliers
    if inconclusive and thresholds.learned_rotations and query_image is not None:
        start = time.perf_counter()
        for rotation in (90, 180, 270):
            other = xfeat_try(ref_xfeat, query_image, rotation, thresholds)
            if xfeat_inliers(other.geometry, thresholds) > xfeat_inliers(best.geometry, thresholds):
                best = other
            if xfeat_inliers(best.geometry, thresholds) >= thresholds.learned_min_inliers:
                break
        timings["xfeat_rotations"] = _ms(start)
    return LearnedOutcome(
        decide_learned(akaze, best.geometry, similarity, thresholds), akaze, best, similarity, timings
    )
