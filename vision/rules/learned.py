"""The learned rule: AKAZE's and XFeat's checked inliers with the global similarity (:mod:`vision.rules.learned_steps`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vision.rules.geometric import verify_geometric

if TYPE_CHECKING:
    from vision.lab.data import LabelledPair
    from vision.lab.scored import ScoredSet
    from vision.profile import Profile


class LearnedRule:
    name = "learned"
    label = "learned (AKAZE + XFeat inliers + global similarity)"
    decided_by: Mapping[str, str] = {
        "akaze": "AKAZE (hand-made features)",
        "xfeat": "XFeat (learned features, LighterGlue matches)",
    }
    # Its evidence needs XFeat features and matches, which the shared geometric
    # evidence of the lab does not hold: the lab scores it per pair
    # (score_pair), and `evaluate --rule learned` has a report of its own
    # (vision.lab.learned: both matchers' inliers, a held-out threshold).
    geometric = False

    def verify_bytes(self, ref: bytes, query: bytes, profile: Profile) -> dict[str, Any]:
        return verify_geometric(ref, query, profile, self.name)

    def score_pair(self, root: Path, pair: LabelledPair, profile: Profile) -> tuple[float, str | None, float]:
        """The learned score of one labelled pair, gated as the rule gates it (see :meth:`lab_accepts`).

        A pair the rule rejects on its gates (too few inliers) scores 0; a pair
        that AKAZE's geometry accepts alone scores at least the threshold.
        """
        from vision.core.errors import ImageInputError
        from vision.flows.prepare import prepare_photo, verify_photo

        try:
            ref_bytes, query_bytes = (root / pair.ref).read_bytes(), (root / pair.query).read_bytes()
            ref = prepare_photo(ref_bytes, profile.feature_settings, embed=True, learned=True)
        except (OSError, ImageInputError) as exc:
            return 0.0, str(exc), 0.0
        result = verify_photo(ref.features, query_bytes, profile, rule=self.name)
        extra = result.verdict.extra
        ms = float(sum(result.timings.values()))
        if "learned_score" not in extra:
            return 0.0, result.verdict.reason or "unusable photo", ms
        evidence = max(int(extra.get("akaze_inliers", 0)), int(extra.get("xfeat_inliers", 0)))
        score = float(extra["learned_score"]) if evidence >= profile.learned_min_inliers else 0.0
        if int(extra.get("akaze_inliers", 0)) >= profile.min_inliers:
            score = max(score, float(profile.learned_threshold))
        return score, None, ms

    def lab_available(self, scored: ScoredSet) -> bool:
        return self.name in scored.rule_scores

    def lab_scores(self, scored: ScoredSet) -> np.ndarray:
        return np.nan_to_num(scored.rule_scores[self.name], nan=0.0)

    def lab_accepts(self, scored: ScoredSet) -> np.ndarray:
        return self.lab_scores(scored) >= scored.thresholds.learned_threshold

    def lab_threshold(self, profile: Profile) -> float:
        return float(profile.learned_threshold)


RULE = LearnedRule()
