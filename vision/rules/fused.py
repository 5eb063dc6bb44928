"""The fused rule: the inliers, lifted by the photos' global similarity (:mod:`vision.rules.fusion`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from vision.rules.base import Decision, LabScores, Needs, PairInput
from vision.rules.evidence import (
    decide_verification,
    evaluate_match,
    pair_similarity,
    robust_accepts,
    visible_inliers,
)
from vision.rules.fusion import (
    decide_fused,
    fused_accepts,
    fused_evidence,
    fused_lab_scores,
    fused_score,
    geometry_alone_inliers,
)
from vision.rules.robust import decide_robust

if TYPE_CHECKING:
    from vision.profile import Profile

FUSED_UNAVAILABLE = "a photo has no global descriptor: decided by the robust rule"


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)


class FusedRule:
    name = "fused"
    label = "fused (inliers + global similarity)"
    decided_by: Mapping[str, str] = {
        "geometry": "geometry (the inliers alone)",
        "similarity": "similarity (lifted over by the global similarity)",
        "no_homography": "no homography",
        "implausible_homography": "implausible homography",
        "geometric_minimum": "too few inliers (geometric minimum)",
        "outline_area": "outline area",
        "fused_score": "fused score below threshold",
    }
    geometric = True
    needs = Needs(embedding=True)
    aligns = True  # its AKAZE homography aligns the replay check
    companions = ("robust",)  # its geometry alone, shown beside it
    score_name = "fused score"
    thresholds = (
        "ratio",
        "ransac_method",
        "ransac_reproj_px",
        "min_inliers",
        "min_area_fraction",
        "fused_min_inliers",
        "fused_weight",
        "fused_threshold",
    )

    def gather(self, full_images: tuple[np.ndarray, np.ndarray]) -> None:
        return None  # decided from the working-resolution features in PairInput.pair

    def decide(self, inputs: PairInput, profile: Profile) -> Decision:
        """Fused on both descriptors; without one of them the robust rule decides, and the verdict says so."""
        start = time.perf_counter()
        evidence = evaluate_match(inputs.pair, profile)
        ransac = _ms(start)
        similarity = pair_similarity(inputs.pair)
        if similarity is None:
            fallback = decide_robust(evidence, profile, fused_unavailable=FUSED_UNAVAILABLE)
            return Decision("robust", fallback.verdict, evidence, evidence, {"ransac": ransac, **fallback.timings})
        start = time.perf_counter()
        verdict = decide_fused(evidence, similarity, profile)
        timings = {"ransac": ransac, "decision": _ms(start)}
        return Decision(self.name, verdict, evidence, evidence, timings, similarity)

    def lab_available(self, scored: LabScores) -> bool:
        return scored.similarity is not None

    def lab_scores(self, scored: LabScores) -> np.ndarray:
        """The fused score with its gates (:func:`vision.rules.fusion.fused_lab_scores`)."""
        return fused_lab_scores(scored.inliers, scored.area_fraction, scored.similarity, scored.thresholds)

    def lab_accepts(self, scored: LabScores) -> np.ndarray:
        """:func:`vision.rules.fusion.fused_accepts`; a pair without a similarity gets the robust verdict."""
        t = scored.thresholds
        sim = np.nan_to_num(scored.similarities, nan=0.0)
        fused = fused_accepts(scored.inliers, sim, t, scored.area_fraction)
        return np.where(scored.has_similarity, fused, robust_accepts(scored.inliers, scored.area_fraction, t))

    def lab_threshold(self, profile: Profile) -> float:
        return float(profile.fused_threshold)

    def lab_margin(self, scored: LabScores) -> np.ndarray:
        """Towards accepting: the score over the threshold, or the inliers over geometry-alone's count;
        towards rejecting also the inliers under the geometric minimum; robust's where there is no similarity."""
        t = scored.thresholds
        inl, threshold = np.asarray(scored.inliers, np.float64), float(t.fused_threshold)
        by_score = fused_score(inl, np.nan_to_num(scored.similarities, nan=0.0), t.fused_weight) - threshold
        alone = float(geometry_alone_inliers(t))
        by_geometry = np.where(inl >= alone, np.log1p(inl) - np.log1p(alone), -np.inf)
        short = np.log1p(inl) - np.log1p(t.fused_min_inliers)
        accepted = self.lab_accepts(scored)
        toward_accept = np.maximum(by_score, by_geometry)
        toward_reject = np.minimum(by_score, np.minimum(short, 0.0))
        robust = np.log1p(visible_inliers(inl, scored.area_fraction, t)) - np.log1p(t.min_inliers)
        out = np.where(accepted, toward_accept, toward_reject)
        return np.where(scored.has_similarity, out, robust) / threshold

    def lab_reason(self, scored: LabScores, i: int) -> str:
        evidence = scored.evidence[i] if scored.evidence else None
        fused = bool(scored.has_similarity[i])
        if evidence is not None:
            if fused:
                return fused_evidence(evidence, float(scored.similarities[i]), scored.thresholds).reason
            return decide_verification(evidence, scored.thresholds).reason + f" ({FUSED_UNAVAILABLE})"
        sim = f", similarity {scored.similarities[i]:.2f}" if fused else f" ({FUSED_UNAVAILABLE})"
        return f"{scored.inliers[i]:.0f} inliers, outline {scored.area_fraction[i]:.1%}{sim}"


RULE = FusedRule()
