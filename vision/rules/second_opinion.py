"""The learned rule's second opinion: ALIKED + LightGlue, only where the verdict is in doubt.

Why: on ``shared/data`` 49 of the genuine pairs the learned rule rejects have
fewer than 10 inliers from both AKAZE and XFeat (objects seen from around them,
rooms from the other side, day against night).  ALIKED's rotation-robust
keypoints (``aliked-n16rot``) with LightGlue find tens to hundreds of checked
inliers on many of them, while different things of one kind stay under 20.
It costs about ten times XFeat (``bench/bench_aliked.py``), so it runs only in
the *grey zone*:

    grey      <=>  the learned rule rejects  and  similarity >= second_opinion_min_similarity
    accept    <=>  learned accepts  or  (grey  and  (aliked_inliers >= second_opinion_min_inliers
                                                      or  the learned score accepts max(evidence, aliked_inliers)))

ALIKED's inliers count twice over, as the first stage's do: alone when they
are many (``second_opinion_min_inliers``, as AKAZE's ``min_inliers``), and
as the learned score's evidence (``log(1 + e) + learned_weight x similarity``
against the same ``learned_threshold`` and ``learned_min_inliers``), so a
pair that looks very alike needs fewer of them.  Why: on ``shared/data``
the score with ALIKED's inliers accepts 9 more genuine pairs (a cake and a
robot seen from around them, a tree sculpture, Kermit from the side: 10-19
ALIKED inliers at similarity 0.52-0.79) and no different pair; the nearest
one scores 4.95 (meat loaf against mashed potato, 14 inliers at 0.56).

The similarity gate is what makes it cheap: two photos of one thing look
alike to the global descriptor even when the inliers are few, while most
strangers do not (a tenth of this set's pairs are in the grey zone).  ALIKED's
inliers are checked as XFeat's are (:func:`vision.rules.learned_steps.xfeat_inliers`:
plausible homography, the same stretch bound and coverage).

The reference's ALIKED features are stored at registration
(:class:`vision.rules.base.Needs` ``aliked``); the query's are extracted here,
on the working image, only for a pair in the grey zone.  The lab scores the
same arrays (:meth:`vision.rules.learned.LearnedRule.lab_accepts`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from vision.core import verdict as v
from vision.matchers import aliked, lightglue_aliked
from vision.matchers.keypoints import LearnedKeypoints
from vision.matchers.xfeat_geometry import learned_geometry
from vision.profile import Profile
from vision.rules.learned_score import learned_evidence, learned_score, score_accepts
from vision.rules.learned_steps import LearnedOutcome, XFeatMatch, xfeat_inliers

ALIKED_EVIDENCE = "learned:aliked"
"""The lab's per-pair array of the second opinion's inliers (``LabScores.rule_scores`` key)."""


@dataclass(frozen=True)
class SecondOpinion:
    """ALIKED + LightGlue on one pair.

    Attributes
    ----------
    match : XFeatMatch
        The matches and their checked geometry (``src`` reference, ``dst``
        query working pixels; the container is XFeat's, the detector ALIKED).
    inliers : int
        Checked inliers (0 when the homography is implausible).
    ms : float
        What it cost: the query's ALIKED, LightGlue and the geometry.
    """

    match: XFeatMatch
    inliers: int
    ms: float


def enabled(thresholds: Profile) -> bool:
    """Whether the profile runs the second opinion at all (``second_opinion_min_inliers`` 0 turns it off)."""
    return thresholds.second_opinion_min_inliers > 0


def _similarity(similarity: float | np.ndarray | None) -> np.ndarray:
    """The similarity as float64, 0 where missing (``None`` or ``nan``: geometry must carry the pair)."""
    return np.nan_to_num(np.asarray(0.0 if similarity is None else similarity, np.float64), nan=0.0)


def in_grey_zone(accepted: bool | np.ndarray, similarity: float | np.ndarray | None, thresholds: Profile) -> np.ndarray:
    """Element-wise: rejected, similar enough to be in doubt, and the second opinion on."""
    sim = _similarity(similarity)
    return (~np.asarray(accepted, bool)) & (sim >= thresholds.second_opinion_min_similarity) & enabled(thresholds)


def counted_evidence(
    evidence: float | np.ndarray,
    similarity: float | np.ndarray | None,
    aliked_inliers: float | np.ndarray,
    thresholds: Profile,
) -> np.ndarray:
    """Element-wise: the inliers the learned score counts once the second opinion has looked.

    ``evidence`` is the first stage's (``max(AKAZE, XFeat)`` checked inliers);
    at the similarity gate (second opinion on) ALIKED's checked inliers
    replace it where higher.  ``aliked_inliers`` is ``nan`` where not computed
    (it then counts nothing).
    """
    found = np.nan_to_num(np.asarray(aliked_inliers, np.float64), nan=0.0)
    sim = _similarity(similarity)
    at_gate = (sim >= thresholds.second_opinion_min_similarity) & enabled(thresholds)
    return np.where(at_gate, learned_evidence(evidence, found), np.asarray(evidence, np.float64))


def second_opinion_accepts(
    accepted: bool | np.ndarray,
    evidence: float | np.ndarray,
    similarity: float | np.ndarray | None,
    aliked_inliers: float | np.ndarray,
    thresholds: Profile,
) -> np.ndarray:
    """The learned rule's final verdicts (element-wise): its own, or the second opinion's in the grey zone.

    ``accepted`` and ``evidence`` are the first stage's verdicts and inliers
    (``max(AKAZE, XFeat)``); ``aliked_inliers`` is ``nan`` where the second
    opinion was not computed (outside the grey zone it is never read).
    """
    found = np.nan_to_num(np.asarray(aliked_inliers, np.float64), nan=0.0)
    grey = in_grey_zone(accepted, similarity, thresholds)
    sim = _similarity(similarity)
    by_score = score_accepts(counted_evidence(evidence, sim, found, thresholds), sim, thresholds)
    return np.asarray(accepted, bool) | (grey & ((found >= thresholds.second_opinion_min_inliers) | by_score))


def aliked_match(ref: LearnedKeypoints, query: LearnedKeypoints, thresholds: Profile) -> tuple[XFeatMatch, int]:
    """LightGlue on two ALIKED feature sets, the checked geometry and its inliers (explicitly 0 when either is empty)."""
    m = lightglue_aliked.match(ref, query)
    src, dst = ref.keypoints[m.idx0], query.keypoints[m.idx1]
    geometry = learned_geometry(
        src,
        dst,
        ref.image_size,
        query.image_size,
        max_anisotropy=thresholds.learned_max_stretch,
        outline=thresholds.learned_outline,
    )
    match = XFeatMatch(geometry, src.astype(np.float32), dst.astype(np.float32), len(query))
    return match, xfeat_inliers(geometry, thresholds)


def run_second_opinion(ref: LearnedKeypoints, query_image: np.ndarray, thresholds: Profile) -> SecondOpinion:
    """The query's ALIKED on its ``(H, W, 3)`` working image, matched against the reference's stored ALIKED."""
    start = time.perf_counter()
    match, inliers = aliked_match(ref, aliked.extract(query_image), thresholds)
    return SecondOpinion(match, inliers, round((time.perf_counter() - start) * 1000.0, 2))


def second_verdict(
    first: v.Verdict, opinion: SecondOpinion, similarity: float, thresholds: Profile, evidence: int = 0
) -> v.Verdict:
    """The verdict after a second opinion on a pair in the grey zone; the first reason is kept after it.

    ``evidence`` is the first stage's inliers (``max(AKAZE, XFeat)``): the
    score counts ALIKED's only where they are more.
    """
    need = thresholds.second_opinion_min_inliers
    # the lab's arithmetic on this one pair (it is in the grey zone: the first stage rejected it)
    accepted = bool(second_opinion_accepts(False, evidence, similarity, opinion.inliers, thresholds))
    alone = opinion.inliers >= need
    counted = int(counted_evidence(evidence, similarity, opinion.inliers, thresholds))
    score = float(learned_score(counted, similarity, thresholds.learned_weight))
    gate = f"similarity {similarity:.2f} >= {thresholds.second_opinion_min_similarity:g}"
    if alone:
        said = f"{opinion.inliers} checked inliers >= {need}"
    else:
        side = ">=" if accepted else "<"
        formula = f"log(1 + {counted}) + {thresholds.learned_weight:g} x similarity {similarity:.2f} = {score:.2f}"
        said = f"{opinion.inliers} checked inliers < {need}; {formula} {side} {thresholds.learned_threshold:g}"
        if counted < thresholds.learned_min_inliers:
            said = f"{opinion.inliers} checked inliers < {need}, {counted} < {thresholds.learned_min_inliers} required"
    reason = f"ALIKED second opinion: {said} ({gate}; first: {first.reason})"
    extra = {
        **first.extra,
        "second_opinion": "accepted" if accepted else "rejected",
        "aliked_inliers": int(opinion.inliers),
        "second_opinion_min_inliers": need,
        "aliked_score": round(score, 4),
    }
    if accepted:
        extra["decided_by"] = "aliked"
    return v.Verdict(200, v.COMPLETE if accepted else v.WRONG_PICTURE, accepted, reason, extra)


def with_second_opinion(
    outcome: LearnedOutcome,
    ref_aliked: LearnedKeypoints | None,
    query_image: np.ndarray | None,
    thresholds: Profile,
) -> LearnedOutcome:
    """``outcome`` (the learned rule's steps 1-3) with the second opinion when the pair is in the grey zone.

    Outside the grey zone it is returned unchanged (nothing runs); without the
    reference's ALIKED features or the query image the verdict stays and its
    extras say why (``second_opinion_unavailable``).
    """
    if not bool(in_grey_zone(outcome.verdict.result, outcome.similarity, thresholds)):
        return outcome
    missing = ""
    if ref_aliked is None:
        missing = "the reference has no ALIKED features"
    elif query_image is None:
        missing = "the query's working image is not at hand"
    if missing or ref_aliked is None or query_image is None:
        return replace(outcome, verdict=outcome.verdict.with_extra(second_opinion_unavailable=missing))
    opinion = run_second_opinion(ref_aliked, query_image, thresholds)
    xf = 0 if outcome.xfeat is None else xfeat_inliers(outcome.xfeat.geometry, thresholds)
    evidence = max(outcome.akaze_inliers, xf)
    verdict = second_verdict(outcome.verdict, opinion, float(outcome.similarity or 0.0), thresholds, evidence)
    return replace(outcome, verdict=verdict, aliked=opinion.match, timings={**outcome.timings, "aliked": opinion.ms})
