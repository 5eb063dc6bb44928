"""The robust rule: a plausible homography with enough inliers and a visible outline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from vision.rules.geometric import verify_geometric

if TYPE_CHECKING:
    from vision.lab.scored import ScoredSet
    from vision.profile import Profile


class RobustRule:
    name = "robust"
    label = "robust (inliers only)"
    decided_by: Mapping[str, str] = {}
    geometric = True

    def verify_bytes(self, ref: bytes, query: bytes, profile: Profile) -> dict[str, Any]:
        return verify_geometric(ref, query, profile, self.name)

    def lab_available(self, scored: ScoredSet) -> bool:
        return True

    def lab_scores(self, scored: ScoredSet) -> np.ndarray:
        """Inliers where the outline is large enough, else 0 (:meth:`ScoredSet.effective_scores`)."""
        return scored.effective_scores()

    def lab_accepts(self, scored: ScoredSet) -> np.ndarray:
        return scored.effective_scores() >= scored.thresholds.min_inliers

    def lab_threshold(self, profile: Profile) -> float:
        return float(profile.min_inliers)


RULE = RobustRule()
