"""What every rule provides (see :mod:`vision.rules`), and what the verify flow hands it.

The verify flow (:mod:`vision.flows.verify`) prepares both photos as the
rule's :class:`Needs` say, matches their AKAZE features once, and asks the
rule to :meth:`Rule.decide` from a :class:`PairInput`; the lab asks the same
rule to decide a whole labelled set from arrays (``lab_*``), through the same
acceptance function.  Nothing outside ``vision/rules/`` compares rule names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from vision.core.verdict import Verdict
from vision.rules.evidence import MatchEvidence, PairMatch

if TYPE_CHECKING:
    from vision.profile import Profile

#: The contract body of a reference that cannot be used (``verify_bytes``).
MISSING_STD = {"status": 500, "message": "Missing Std Picture", "result": False}
#: The contract body of a query that cannot be used.
MISSING_PICTURE = {"status": 400, "message": "Missing Picture", "result": False}


@dataclass(frozen=True)
class Needs:
    """What the verify flow must compute before the rule can decide.

    Attributes
    ----------
    embedding : bool
        Both photos' global descriptors (``Features.embedding``); a reference
        without one gets it from its image when the image is at hand.
    xfeat : bool
        The reference's XFeat features (``Features.xfeat``); the query's are
        computed by the rule itself, only when it needs them.
    aliked : bool
        The reference's ALIKED features (``Features.aliked``), stored at
        registration for the learned rule's second opinion; the query's are
        computed by the rule, only for a pair in its grey zone.
    full_images : bool
        Both photos decoded at full resolution (the original note's rule).
    """

    embedding: bool = False
    xfeat: bool = False
    aliked: bool = False
    full_images: bool = False


@dataclass(frozen=True)
class PairInput:
    """One pair as a rule decides it.

    Attributes
    ----------
    pair : PairMatch
        Both photos' AKAZE features (with what :class:`Needs` asked for) and their kNN matches.
    query_image : np.ndarray or None
        ``(H, W, 3)`` BGR uint8 working image of the new photo (for matchers that run on demand).
    full_images : tuple of np.ndarray, or None
        ``(reference, query)`` BGR uint8 at full resolution, when ``Needs.full_images``.
    gathered : Any
        What the rule's :meth:`Rule.gather` made of ``full_images`` earlier
        (a page caches it across slider moves); None: the rule gathers it.
    """

    pair: PairMatch
    query_image: np.ndarray | None = None
    full_images: tuple[np.ndarray, np.ndarray] | None = None
    gathered: Any = None


@dataclass(frozen=True)
class Decision:
    """A rule's verdict on one pair, with its own evidence.

    Attributes
    ----------
    rule : str
        The rule that decided (``fused`` without global descriptors is decided by ``robust``).
    verdict : Verdict
        ``extra["rule"]`` is :attr:`rule`.
    evidence : Any
        What the rule's view draws (:class:`MatchEvidence`, the learned
        rule's ``(MatchEvidence, LearnedOutcome)``, the original rule's
        ``OriginalEvidence``).
    alignment : MatchEvidence or None
        The AKAZE evidence the replay check aligns the photos by (None: the
        rule has no such homography, and the replay check does not run).
    timings : dict[str, float]
        Milliseconds of the rule's own steps, each stage once.
    similarity : float or None
        The global descriptors' cosine when the rule used it.
    """

    rule: str
    verdict: Verdict
    evidence: Any
    alignment: MatchEvidence | None
    timings: dict[str, float] = field(default_factory=dict)
    similarity: float | None = None


class PairPaths(Protocol):
    """A labelled pair's two photo paths, relative to the set's folder (:class:`vision.lab.data.LabelledPair`)."""

    @property
    def ref(self) -> str: ...
    @property
    def query(self) -> str: ...


class LabScores(Protocol):
    """The arrays of a labelled set that the rules decide from (:class:`vision.lab.scored.ScoredSet` has them).

    Every array is ``(N,)``, one value per pair.
    """

    @property
    def thresholds(self) -> Profile: ...
    @property
    def inliers(self) -> np.ndarray: ...
    @property
    def area_fraction(self) -> np.ndarray: ...
    @property
    def similarity(self) -> np.ndarray | None: ...
    @property
    def original_area(self) -> np.ndarray | None: ...
    @property
    def rule_scores(self) -> Mapping[str, np.ndarray]: ...
    @property
    def similarities(self) -> np.ndarray: ...
    @property
    def has_similarity(self) -> np.ndarray: ...
    @property
    def evidence(self) -> tuple[MatchEvidence | None, ...]: ...


class Rule(Protocol):
    """A decision rule.

    Attributes
    ----------
    name : str
        As in ``--rule``, profiles and reports.
    label : str
        One line for a page's rule picker.
    decided_by : Mapping[str, str]
        The words for each ``verdict.extra["decided_by"]`` code the rule sets (empty when it sets none).
    geometric : bool
        Whether the lab scores it from the shared geometric evidence alone
        (inliers, outline area, similarity); False for a rule that needs
        per-pair evidence of its own (``lab_evidence`` gathers it).
    needs : Needs
        What the verify flow computes before :meth:`decide`.
    aligns : bool
        Whether its verdict rests on an AKAZE homography at working
        resolution (``Decision.alignment``), so the replay check runs after it.
    companions : tuple[str, ...]
        Rules whose figures the lab shows beside this one's (the fused rule: robust, its geometry alone).
    score_name : str
        What :meth:`lab_scores` measures, in a chart axis's words.
    thresholds : tuple[str, ...]
        The :class:`~vision.profile.Profile` fields the rule's verdict depends on (the sliders a page shows).
    """

    name: str
    label: str
    decided_by: Mapping[str, str]
    geometric: bool
    needs: Needs
    aligns: bool
    companions: tuple[str, ...]
    score_name: str
    thresholds: tuple[str, ...]

    def gather(self, full_images: tuple[np.ndarray, np.ndarray]) -> Any:
        """Threshold-free evidence from both full-resolution photos (``Needs.full_images``); None for other rules."""
        ...

    def decide(self, inputs: PairInput, profile: Profile) -> Decision:
        """The verdict on one pair, through the same acceptance as :meth:`lab_accepts`."""
        ...

    def lab_available(self, scored: LabScores) -> bool:
        """Whether the scored set holds what this rule needs."""
        ...

    def lab_scores(self, scored: LabScores) -> np.ndarray:
        """``(N,)`` float: the rule's score per pair (its ROC sweeps a threshold over it)."""
        ...

    def lab_accepts(self, scored: LabScores) -> np.ndarray:
        """``(N,)`` bool: the rule's verdicts at ``scored.thresholds`` (before excluding unusable pairs)."""
        ...

    def lab_threshold(self, profile: Profile) -> float:
        """The score the rule accepts from."""
        ...

    def lab_margin(self, scored: LabScores) -> np.ndarray:
        """``(N,)`` float: how far each pair lies from the rule's boundary, positive on the accepting side.

        In units of the threshold, so margins of different pairs compare
        (the lab sorts errors and the whole set by it).
        """
        ...

    def lab_reason(self, scored: LabScores, i: int) -> str:
        """Why pair ``i`` is accepted or rejected, in the verify page's words."""
        ...


def decision_extra(verdict: Verdict, rule: str, **extra: Any) -> Verdict:
    """``verdict`` naming the rule that decided (``extra["rule"]``), plus ``extra``."""
    return verdict.with_extra(rule=rule, **extra)
