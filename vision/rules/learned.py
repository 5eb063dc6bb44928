"""The learned rule: AKAZE's and XFeat's checked inliers with the global similarity.

The verification steps live in :mod:`vision.rules.learned_steps` (AKAZE
first, XFeat + LighterGlue only when AKAZE is not enough), the arithmetic in
:mod:`vision.rules.learned_score`; both the verify path and the lab accept
through :func:`vision.rules.learned_score.learned_accepts`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from vision.rules.base import Decision, LabScores, Needs, PairInput
from vision.rules.evidence import PairMatch, evaluate_match, pair_similarity, visible_inliers
from vision.rules.learned_score import learned_accepts, learned_evidence, learned_score, score_accepts
from vision.rules.learned_steps import verify_learned, xfeat_inliers, xfeat_try
from vision.rules.second_opinion import (
    ALIKED_EVIDENCE,
    counted_evidence,
    in_grey_zone,
    second_opinion_accepts,
    with_second_opinion,
)

if TYPE_CHECKING:
    from vision.profile import Profile


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)


class _LabStages(NamedTuple):
    """The learned rule's lab arrays, ``(N,)`` each: AKAZE's visible inliers, the first stage's evidence
    (``max(AKAZE, XFeat)``), the similarity (0 where missing), the first stage's verdicts, the grey zone
    and ALIKED's inliers (``nan`` where not scored)."""

    akaze: np.ndarray
    evidence: np.ndarray
    sim: np.ndarray
    first: np.ndarray
    grey: np.ndarray
    aliked: np.ndarray

    def accepted(self, t: Profile) -> np.ndarray:
        """The final verdicts: the first stage's, or the second opinion's (:func:`second_opinion_accepts`)."""
        return second_opinion_accepts(self.first, self.evidence, self.sim, self.aliked, t)


class LearnedRule:
    name = "learned"
    label = "learned (AKAZE + XFeat inliers + global similarity)"
    decided_by: Mapping[str, str] = {
        "akaze": "AKAZE (hand-made features)",
        "xfeat": "XFeat (learned features, LighterGlue matches)",
        "aliked": "ALIKED (learned features, LightGlue matches): the second opinion",
    }
    # The shared geometric evidence of the lab lacks XFeat's inliers: the lab
    # gathers them per pair from its cached XFeat features (pair_evidence).
    geometric = False
    needs = Needs(embedding=True, xfeat=True, aliked=True)
    aligns = True  # its AKAZE homography aligns the replay check
    # Shown beside it: its AKAZE + similarity half (what the lab shows without XFeat evidence) and AKAZE alone.
    companions = ("fused", "robust")
    score_name = "learned score"
    thresholds = (
        "ratio",
        "ransac_method",
        "ransac_reproj_px",
        "min_inliers",
        "min_area_fraction",
        "learned_min_inliers",
        "learned_weight",
        "learned_threshold",
        "learned_max_stretch",
        "learned_min_coverage",
        "learned_rotations",
        "learned_outline",
        "second_opinion_min_similarity",
        "second_opinion_min_inliers",
    )
    #: Thresholds the lab cannot follow live (they change XFeat's checked inliers: a new run scores them).
    evidence_thresholds = ("learned_max_stretch", "learned_min_coverage", "learned_rotations", "learned_outline")

    def gather(self, full_images: tuple[np.ndarray, np.ndarray]) -> None:
        return None  # decided from the working-resolution features in PairInput.pair

    def decide(self, inputs: PairInput, profile: Profile) -> Decision:
        """AKAZE's evidence, then XFeat only if needed; the query's XFeat from ``pair.query.xfeat`` or the image."""
        pair = inputs.pair
        start = time.perf_counter()
        evidence = evaluate_match(pair, profile)
        timings = {"ransac": _ms(start)}
        similarity = pair_similarity(pair)
        start = time.perf_counter()
        outcome = verify_learned(evidence, similarity, pair.ref.xfeat, inputs.query_image, profile, pair.query.xfeat)
        outcome = with_second_opinion(outcome, pair.ref.aliked, inputs.query_image, profile)
        # "decision" is the rule's own arithmetic; XFeat's tries are listed on their own
        decision_ms = max(_ms(start) - sum(outcome.timings.values()), 0.0)
        verdict = outcome.verdict
        verdict = verdict.with_extra(**{**evidence.summary(), **verdict.extra})
        timings = {**timings, **outcome.timings, "decision": round(decision_ms, 2)}
        return Decision(self.name, verdict, (evidence, outcome), evidence, timings, outcome.similarity)

    def pair_evidence(self, pair: PairMatch, profile: Profile) -> float:
        """XFeat's checked inliers on one cached pair (both features with ``xfeat``), unturned; ``nan`` without them.

        The verdict is monotone in this evidence, so scoring it for every
        pair (the verify path skips XFeat when AKAZE accepts alone) gives the
        verify path's verdicts.
        """
        if pair.ref.xfeat is None or pair.query.xfeat is None:
            return float("nan")
        return float(xfeat_inliers(xfeat_try(pair.ref.xfeat, None, 0, profile, pair.query.xfeat).geometry, profile))

    def lab_available(self, scored: LabScores) -> bool:
        return self.name in scored.rule_scores

    def _parts(self, scored: LabScores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        akaze = visible_inliers(scored.inliers, scored.area_fraction, scored.thresholds)
        xfeat = np.nan_to_num(scored.rule_scores[self.name], nan=0.0)
        return akaze, xfeat, np.nan_to_num(scored.similarities, nan=0.0)

    def _stages(self, scored: LabScores) -> _LabStages:
        """Both stages' arrays, computed once per call (the lab's scores, verdicts and margins read them)."""
        akaze, xfeat, sim = self._parts(scored)
        first = learned_accepts(akaze, xfeat, sim, scored.thresholds)
        found = scored.rule_scores.get(ALIKED_EVIDENCE)
        aliked = np.full(len(first), np.nan) if found is None else np.asarray(found, float)
        grey = in_grey_zone(first, sim, scored.thresholds)
        return _LabStages(akaze, learned_evidence(akaze, xfeat), sim, first, grey, aliked)

    def lab_scores(self, scored: LabScores) -> np.ndarray:
        """The learned score, 0 below the evidence minimum, at least the threshold where AKAZE or the second
        opinion accepts."""
        t = scored.thresholds
        st = self._stages(scored)
        evidence = counted_evidence(st.evidence, st.sim, st.aliked, t)
        score = np.where(evidence >= t.learned_min_inliers, learned_score(evidence, st.sim, t.learned_weight), 0.0)
        score = np.where(st.akaze >= t.min_inliers, np.maximum(score, t.learned_threshold), score)
        return np.where(st.accepted(t), np.maximum(score, t.learned_threshold), score)

    def lab_accepts(self, scored: LabScores) -> np.ndarray:
        return self._stages(scored).accepted(scored.thresholds)

    def lab_threshold(self, profile: Profile) -> float:
        return float(profile.learned_threshold)

    def lab_margin(self, scored: LabScores) -> np.ndarray:
        """The learned score over its threshold, or AKAZE's inliers over ``min_inliers`` where they decide alone,
        or in the grey zone the second opinion's inliers over ``second_opinion_min_inliers`` (or its score with
        ALIKED's inliers) when higher."""
        t = scored.thresholds
        st = self._stages(scored)

        def score_margin(evidence: np.ndarray) -> np.ndarray:
            by_score = (learned_score(evidence, st.sim, t.learned_weight) - t.learned_threshold) / t.learned_threshold
            short = (evidence - t.learned_min_inliers) / t.learned_min_inliers  # below the evidence minimum
            return np.where(evidence >= t.learned_min_inliers, by_score, np.minimum(by_score, short))

        by_score = score_margin(st.evidence)
        alone = (st.akaze - t.min_inliers) / t.min_inliers
        margin = np.where(st.akaze >= t.min_inliers, np.maximum(alone, by_score), by_score)
        need = max(t.second_opinion_min_inliers, 1)
        second = (np.nan_to_num(st.aliked, nan=0.0) - need) / need
        second = np.maximum(second, score_margin(counted_evidence(st.evidence, st.sim, st.aliked, t)))
        return np.where(st.grey, np.maximum(margin, second), margin)

    def lab_reason(self, scored: LabScores, i: int) -> str:
        t = scored.thresholds
        akaze, xfeat, sim = (float(a[i]) for a in self._parts(scored))
        score = float(learned_score(max(akaze, xfeat), sim, t.learned_weight))
        numbers = f"AKAZE {akaze:.0f}, XFeat {xfeat:.0f} inliers, similarity {sim:.2f}: score {score:.2f}"
        if akaze >= t.min_inliers:
            return f"{numbers}; AKAZE alone >= {t.min_inliers} (as the robust rule)"
        if max(akaze, xfeat) < t.learned_min_inliers:
            first = f"{numbers}; fewer than {t.learned_min_inliers} inliers from both matchers"
        else:
            side = ">=" if score >= t.learned_threshold else "<"
            first = f"{numbers} {side} {t.learned_threshold:g}"
        accepted = bool(learned_accepts(akaze, xfeat, sim, t))
        if not bool(in_grey_zone(accepted, sim, t)):
            return first
        found = float(scored.rule_scores.get(ALIKED_EVIDENCE, np.full(i + 1, np.nan))[i])
        if found != found:
            return f"{first}; ALIKED second opinion not scored"
        if found >= t.second_opinion_min_inliers:
            return f"{first}; ALIKED second opinion: {found:.0f} inliers >= {t.second_opinion_min_inliers}"
        counted = float(counted_evidence(max(akaze, xfeat), sim, found, t))
        second = float(learned_score(counted, sim, t.learned_weight))
        side = ">=" if bool(score_accepts(counted, sim, t)) else "<"
        return (
            f"{first}; ALIKED second opinion: {found:.0f} inliers < {t.second_opinion_min_inliers}, "
            f"score with them {second:.2f} {side} {t.learned_threshold:g}"
        )


RULE = LearnedRule()
