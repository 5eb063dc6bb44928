"""The fused rule: the inliers, lifted by the photos' global similarity (:mod:`vision.rules.fusion`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from vision.rules.fusion import fused_accepts
from vision.rules.geometric import verify_geometric

if TYPE_CHECKING:
    from vision.lab.scored import ScoredSet
    from vision.profile import Profile


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

    def verify_bytes(self, ref: bytes, query: bytes, profile: Profile) -> dict[str, Any]:
        return verify_geometric(ref, query, profile, self.name)

    def lab_available(self, scored: ScoredSet) -> bool:
        return scored.similarity is not None

    def lab_scores(self, scored: ScoredSet) -> np.ndarray:
        """The fused score with its gates (:meth:`ScoredSet.fused_scores`)."""
        return scored.fused_scores()

    def lab_accepts(self, scored: ScoredSet) -> np.ndarray:
        """:func:`vision.rules.fusion.fused_accepts`; a pair without a similarity gets the robust verdict."""
        t = scored.thresholds
        fused = fused_accepts(scored.inliers, np.nan_to_num(scored.similarities, nan=0.0), t, scored.area_fraction)
        return np.where(scored.has_similarity, fused, scored.effective_scores() >= t.min_inliers)

    def lab_threshold(self, profile: Profile) -> float:
        return float(profile.fused_threshold)


RULE = FusedRule()
