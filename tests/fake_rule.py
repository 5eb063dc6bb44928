"""A rule written the way docs/ARCHITECTURE.md says (one module, one catalogue line), for the tests.

It accepts a pair whose two photos have keypoint counts within a factor of
two: a stand-in with its own evidence (not a sensible rule), so a test can
tell that the API, the CLI, the Verify page and ``evaluate`` all ran *this*
rule.  Registered by ``CATALOGUE["keypoints"] = Entry("fake_rule", default_ok=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from vision.core import verdict as v
from vision.profile import Profile
from vision.rules.base import Decision, LabScores, Needs, PairInput
from vision.rules.evidence import PairMatch

THRESHOLD = 0.5


def keypoint_balance(pair: PairMatch) -> float:
    """``min / max`` of the two photos' keypoint counts (0 when one has none)."""
    a, b = pair.ref.n_detected, pair.query.n_detected
    return min(a, b) / max(a, b) if min(a, b) > 0 else 0.0


class KeypointBalanceRule:
    name = "keypoints"
    label = "keypoints (balance of keypoint counts, a test double)"
    decided_by: Mapping[str, str] = {}
    geometric = False
    needs = Needs()
    aligns = False
    companions: tuple[str, ...] = ()
    score_name = "keypoint balance"
    thresholds: tuple[str, ...] = ()

    def gather(self, full_images: tuple[np.ndarray, np.ndarray]) -> Any:
        return None

    def decide(self, inputs: PairInput, profile: Profile) -> Decision:
        balance = keypoint_balance(inputs.pair)
        accepted = balance >= THRESHOLD
        verdict = v.Verdict(
            200,
            v.COMPLETE if accepted else v.WRONG_PICTURE,
            accepted,
            f"keypoint balance {balance:.2f} {'>=' if accepted else '<'} {THRESHOLD}",
            {"rule": self.name, "keypoint_balance": round(balance, 4)},
        )
        return Decision(self.name, verdict, balance, None, {"decision": 0.0})

    def pair_evidence(self, pair: PairMatch, profile: Profile) -> float:
        return keypoint_balance(pair)

    def lab_available(self, scored: LabScores) -> bool:
        return self.name in scored.rule_scores

    def lab_scores(self, scored: LabScores) -> np.ndarray:
        return np.nan_to_num(scored.rule_scores[self.name], nan=0.0)

    def lab_accepts(self, scored: LabScores) -> np.ndarray:
        return self.lab_scores(scored) >= THRESHOLD

    def lab_threshold(self, profile: Profile) -> float:
        return THRESHOLD

    def lab_margin(self, scored: LabScores) -> np.ndarray:
        return (self.lab_scores(scored) - THRESHOLD) / THRESHOLD

    def lab_reason(self, scored: LabScores, i: int) -> str:
        return f"keypoint balance {self.lab_scores(scored)[i]:.2f}"


RULE = KeypointBalanceRule()
