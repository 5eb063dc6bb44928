"""Tests' shorthand for deciding a cached pair with a named rule: the rule's own ``decide``, nothing else."""

from __future__ import annotations

from typing import Any

from vision import rules
from vision.core.verdict import Verdict
from vision.profile import Profile
from vision.rules.base import PairInput
from vision.rules.evidence import PairMatch


def decide_pair(
    pair: PairMatch, profile: Profile, rule: str | None = None, **inputs: Any
) -> tuple[Any, Verdict, dict[str, float]]:
    """``(AKAZE evidence or the rule's own, verdict, timings)`` of ``rules.get(rule or profile.rule).decide``."""
    decision = rules.get(rule or profile.rule).decide(PairInput(pair, **inputs), profile)
    evidence = decision.alignment if decision.alignment is not None else decision.evidence
    return evidence, decision.verdict, decision.timings
