"""Run one named decision rule on a pair and keep its own evidence (for :mod:`vision.match_view`).

The dashboard asks for a rule by name and gets a :class:`RuleOutcome` whose
verdict and evidence come from that rule alone, so the picture and numbers
beside a verdict can never be another rule's.
"""

from __future__ import annotations

from vision.decision import OriginalEvidence, decide_original
from vision.match_view import RuleOutcome, Size
from vision.pipeline import PairMatch, decide_pair
from vision.profile import RULES, Profile


def available_rules() -> tuple[str, ...]:
    """The rules the dashboard offers, the profile's default rules first."""
    return tuple(RULES)


def rule_outcome(
    rule: str,
    pair: PairMatch,
    thresholds: Profile,
    ref_size: Size,
    query_size: Size,
    original: OriginalEvidence | None = None,
) -> tuple[RuleOutcome, dict[str, float]]:
    """The verdict of ``rule`` with its evidence, and the decision's timings (ms).

    ``original`` is the note's full-resolution evidence, required for the
    ``original`` rule (it does not use the cached matches).  ``fused``
    without global descriptors is decided by ``robust``, and the outcome
    says so (its ``rule``).
    """
    if rule == "original":
        if original is None:
            raise ValueError("the original rule needs its full-resolution evidence")
        verdict = decide_original(original, thresholds)
        return RuleOutcome("original", verdict, original, thresholds, ref_size, query_size), {}
    evidence, verdict, timings = decide_pair(pair, thresholds, rule)
    decided = str(verdict.extra.get("rule", rule))
    return RuleOutcome(decided, verdict, evidence, thresholds, ref_size, query_size, pair), timings
