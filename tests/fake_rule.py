"""A rule written the way docs/ARCHITECTURE.md says (one module), for the engine's tests: file-size ratio."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vision.lab.data import LabelledPair
from vision.lab.scored import ScoredSet
from vision.profile import Profile

THRESHOLD = 0.5


class SizeRatioRule:
    """Accepts a pair whose two files' sizes are within a factor of two (a stand-in with its own score)."""

    name = "size"
    label = "size (file-size ratio, a test double)"
    decided_by: Mapping[str, str] = {}
    geometric = False

    def score_pair(self, root: Path, pair: LabelledPair, profile: Profile) -> tuple[float, str | None, float]:
        try:
            a, b = (root / pair.ref).stat().st_size, (root / pair.query).stat().st_size
        except OSError as exc:
            return 0.0, str(exc), 0.0
        return min(a, b) / max(a, b), None, 0.1

    def verify_bytes(self, ref: bytes, query: bytes, profile: Profile) -> dict[str, Any]:
        ratio = min(len(ref), len(query)) / max(len(ref), len(query), 1)
        return {"status": 200, "result": ratio >= THRESHOLD, "rule": self.name}

    def lab_available(self, scored: ScoredSet) -> bool:
        return self.name in scored.rule_scores

    def lab_scores(self, scored: ScoredSet) -> np.ndarray:
        return np.nan_to_num(scored.rule_scores[self.name], nan=0.0)

    def lab_accepts(self, scored: ScoredSet) -> np.ndarray:
        return self.lab_scores(scored) >= THRESHOLD

    def lab_threshold(self, profile: Profile) -> float:
        return THRESHOLD


RULE = SizeRatioRule()
