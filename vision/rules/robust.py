"""The robust rule: a plausible homography with enough inliers and a visible outline."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from vision.rules.base import Decision, LabScores, Needs, PairInput
from vision.rules.evidence import MatchEvidence, decide_verification, evaluate_match, robust_accepts, visible_inliers

if TYPE_CHECKING:
    from vision.profile import Profile


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)


def decide_robust(evidence: MatchEvidence, profile: Profile, **extra: object) -> Decision:
    """The robust verdict on AKAZE evidence already evaluated (the fused rule falls back to it)."""
    start = time.perf_counter()
    verdict = decide_verification(evidence, profile).with_extra(rule="robust", **extra)
    return Decision("robust", verdict, evidence, evidence, {"decision": _ms(start)})


class RobustRule:
    name = "robust"
    label = "robust (inliers only)"
    decided_by: Mapping[str, str] = {}
    geometric = True
    needs = Needs()
    aligns = True  # its AKAZE homography aligns the replay check
    companions: tuple[str, ...] = ()
    score_name = "inliers"
    thresholds = ("ratio", "ransac_method", "ransac_reproj_px", "min_inliers", "min_area_fraction")

    def gather(self, full_images: tuple[np.ndarray, np.ndarray]) -> None:
        return None  # decided from the working-resolution features in PairInput.pair

    def decide(self, inputs: PairInput, profile: Profile) -> Decision:
        start = time.perf_counter()
        evidence = evaluate_match(inputs.pair, profile)
        ransac = _ms(start)
        decision = decide_robust(evidence, profile)
        return Decision(decision.rule, decision.verdict, evidence, evidence, {"ransac": ransac, **decision.timings})

    def lab_available(self, scored: LabScores) -> bool:
        return True

    def lab_scores(self, scored: LabScores) -> np.ndarray:
        """Inliers where the outline is large enough, else 0."""
        return visible_inliers(scored.inliers, scored.area_fraction, scored.thresholds)

    def lab_accepts(self, scored: LabScores) -> np.ndarray:
        return robust_accepts(scored.inliers, scored.area_fraction, scored.thresholds)

    def lab_threshold(self, profile: Profile) -> float:
        return float(profile.min_inliers)

    def lab_margin(self, scored: LabScores) -> np.ndarray:
        m = float(scored.thresholds.min_inliers)
        return (self.lab_scores(scored) - m) / m

    def lab_reason(self, scored: LabScores, i: int) -> str:
        evidence = scored.evidence[i] if scored.evidence else None
        if evidence is not None:
            return decide_verification(evidence, scored.thresholds).reason
        return f"{scored.inliers[i]:.0f} inliers, outline {scored.area_fraction[i]:.1%}"


RULE = RobustRule()
