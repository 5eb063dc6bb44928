"""Run one named decision rule on a pair and keep its own evidence (for :mod:`vision.views.match`).

The dashboard asks for a rule by name and gets a :class:`RuleOutcome` whose
verdict and evidence come from that rule alone, so the picture and numbers
beside a verdict can never be another rule's.

``robust`` and ``fused`` decide on the cached kNN matches
(:func:`vision.flows.prepare.decide_pair`), ``original`` on its own
full-resolution evidence.  Another rule plugs in with
``@register_decider("name")`` (and, for its picture, ``@register_view`` in
:mod:`vision.views.match`); until it does, pages do not offer it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import vision.views.learned  # noqa: F401  (registers the learned rule's view)
from vision.core.verdict import Verdict
from vision.flows import prepare as pipeline
from vision.flows.prepare import PairMatch, decide_pair
from vision.profile import RULES, Profile
from vision.rules.evidence import OriginalEvidence, decide_original
from vision.views.match import RuleOutcome, Size

#: ``decider(pair, query_image, profile) -> (evidence, verdict, timings_ms)`` for a rule on cached matches.
Decider = Callable[[PairMatch, np.ndarray | None, Profile], tuple[Any, Verdict, dict[str, float]]]
DECIDERS: dict[str, Decider] = {}
BUILT_IN = ("robust", "fused", "original")


def register_decider(rule: str) -> Callable[[Decider], Decider]:
    """Decorator: how the dashboard decides ``rule`` on a cached pair."""

    def add(fn: Decider) -> Decider:
        DECIDERS[rule] = fn
        return fn

    return add


@register_decider("learned")
def _decide_learned(
    pair: PairMatch, query_image: np.ndarray | None, profile: Profile
) -> tuple[Any, Verdict, dict[str, float]]:
    """AKAZE evidence, XFeat + LighterGlue when needed (``pair.ref.xfeat`` should be attached)."""
    evidence, learned, timings = pipeline.decide_learned_pair(pair, query_image, profile)
    v = learned.verdict
    verdict = Verdict(v.status, v.message, v.result, v.reason, {**evidence.summary(), **v.extra})
    return (evidence, learned), verdict, timings


def needs_xfeat(rule: str) -> bool:
    """Whether the reference needs its XFeat features attached before deciding."""
    return rule == "learned"


def geometric_evidence(outcome: RuleOutcome) -> Any:
    """The AKAZE ``MatchEvidence`` behind an outcome (None for the original rule): the replay check aligns by it."""
    if outcome.rule == "original":
        return None
    return outcome.evidence[0] if isinstance(outcome.evidence, tuple) else outcome.evidence


def available_rules() -> tuple[str, ...]:
    """The profile's rules the dashboard can run (built in or registered), in the profile's order."""
    return tuple(r for r in RULES if r in BUILT_IN or r in DECIDERS)


def runnable(rule: str, fallback: str = "fused") -> str:
    """``rule`` when the dashboard can run it on cached matches, else ``fallback``."""
    return rule if rule in DECIDERS or rule in ("robust", "fused") else fallback


def needs_embedding(rule: str) -> bool:
    """Whether ``rule`` weighs the photos' global descriptors (compute them before deciding)."""
    return rule in getattr(pipeline, "NEEDS_EMBEDDING", ("fused",))


def rule_outcome(
    rule: str,
    pair: PairMatch,
    thresholds: Profile,
    ref_size: Size,
    query_size: Size,
    original: OriginalEvidence | None = None,
    query_image: np.ndarray | None = None,
) -> tuple[RuleOutcome, dict[str, float]]:
    """The verdict of ``rule`` with its evidence, and the decision's timings (ms).

    ``original`` is the note's full-resolution evidence, required for the
    ``original`` rule (it does not use the cached matches); ``query_image``
    the new photo at working resolution, for a registered rule that needs
    it.  ``fused`` without global descriptors is decided by ``robust``, and
    the outcome says so (its ``rule``).
    """
    if rule == "original":
        if original is None:
            raise ValueError("the original rule needs its full-resolution evidence")
        verdict = decide_original(original, thresholds)
        return RuleOutcome("original", verdict, original, thresholds, ref_size, query_size), {}
    if rule in DECIDERS:
        evidence, verdict, timings = DECIDERS[rule](pair, query_image, thresholds)
        return RuleOutcome(rule, verdict, evidence, thresholds, ref_size, query_size, pair), timings
    evidence, verdict, timings = decide_pair(pair, thresholds, rule)
    decided = str(verdict.extra.get("rule", rule))
    return RuleOutcome(decided, verdict, evidence, thresholds, ref_size, query_size, pair), timings
