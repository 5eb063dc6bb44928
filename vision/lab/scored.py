"""A labelled set's evidence as arrays, decided by any rule at any thresholds (instantly).

:class:`ScoredSet` is the engine's product: one per (run, geometry key).
Every figure takes the rule as a parameter (``robust``, ``fused`` or
``original``; default: the set's current rule, :attr:`ScoredSet.rule`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from vision.lab.data import LabelledPair
from vision.lab.metrics import Rates, RocCurve, accept_rates, roc_auc, roc_curve
from vision.profile import Profile
from vision.rules import get as get_rule
from vision.rules.base import Rule
from vision.rules.evidence import MatchEvidence, visible_inliers
from vision.rules.fusion import GEOMETRY_SCORE, fused_lab_scores, fused_score

GeometryKey = tuple[float, str, float]
#: The rules a scored set can be decided by.
__all__ = ["GEOMETRY_SCORE", "GeometryKey", "OriginalScores", "ScoredSet", "geometry_key"]


def geometry_key(thresholds: Profile) -> GeometryKey:
    """The thresholds that change the evidence (ratio test and homography fit)."""
    return (float(thresholds.ratio), thresholds.ransac_method, float(thresholds.ransac_reproj_px))


@dataclass(frozen=True)
class OriginalScores:
    """The original note's rule on every pair: outline area in px² (0 where it would crash), and its time per pair.

    Attributes
    ----------
    area_px : np.ndarray
        ``(N,)`` float.
    errors : tuple[str | None, ...]
        Why a pair's images could not be read.
    seconds : float
        Wall time of the whole stage.
    latency_ms : np.ndarray or None
        ``(N,)`` float: milliseconds per pair (decode and the note's pipeline).
    """

    area_px: np.ndarray
    errors: tuple[str | None, ...]
    seconds: float
    latency_ms: np.ndarray | None = None


@dataclass(frozen=True)
class ScoredSet:
    """Every pair's evidence reduced to arrays, with the thresholds to decide by.

    The verdicts, rates, ROC, per-kind table and errors follow the current
    rule (:attr:`rule`): ``fused`` when the thresholds say so and the set has
    similarities, else ``robust``.  Under ``fused`` a pair without a
    similarity (a photo without a global descriptor) is decided by the robust
    rule, as :func:`vision.flows.prepare.decide_pair` does.

    Attributes
    ----------
    pairs : tuple[LabelledPair, ...]
    labels : np.ndarray
        ``(N,)`` int, 1 for same, 0 for different.
    inliers : np.ndarray
        ``(N,)`` float: inliers of a plausible homography, else 0 (``MatchEvidence.score``).
    area_fraction : np.ndarray
        ``(N,)`` float: projected outline area / frame area.
    errors : tuple[str | None, ...]
        Why a pair could not be processed (excluded from every figure).
    original_area : np.ndarray or None
        ``(N,)`` float: the note's outline area in px² (0 where its code would crash).
    thresholds : Profile
    evidence : tuple[MatchEvidence | None, ...]
        For the reasons and the drawings (empty in sets built from arrays).
    index : np.ndarray
        ``(N,)`` position of each pair in the run (subsets keep it).
    similarity : np.ndarray or None
        ``(N,)`` float: cosine similarity of the pair's global descriptors
        (``nan`` where one is missing); None when the run computed none.
    rule_scores : Mapping[str, np.ndarray]
        ``(N,)`` float per rule with its own per-pair score (a rule module's
        ``score_pair``; ``nan`` where it failed): what its ``lab_*`` read.
    """

    pairs: tuple[LabelledPair, ...]
    labels: np.ndarray
    inliers: np.ndarray
    area_fraction: np.ndarray
    errors: tuple[str | None, ...]
    original_area: np.ndarray | None
    thresholds: Profile
    evidence: tuple[MatchEvidence | None, ...] = ()
    index: np.ndarray | None = None
    similarity: np.ndarray | None = None
    rule_scores: Mapping[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_evidence(
        cls,
        pairs: Sequence[LabelledPair],
        evidence: Sequence[MatchEvidence | None],
        errors: Sequence[str | None],
        thresholds: Profile,
        original: OriginalScores | None = None,
        similarity: Sequence[float] | np.ndarray | None = None,
    ) -> ScoredSet:
        inliers = np.array([e.score if e is not None else 0.0 for e in evidence], float)
        area = np.array([e.area_fraction if e is not None else 0.0 for e in evidence], float)
        labels = np.array([p.label for p in pairs], int)
        original_area = original.area_px if original is not None else None
        sim = None if similarity is None else np.asarray(similarity, float)
        return cls(
            tuple(pairs),
            labels,
            inliers,
            area,
            tuple(errors),
            original_area,
            thresholds,
            tuple(evidence),
            np.arange(len(pairs)),
            sim,
        )

    @classmethod
    def from_arrays(
        cls,
        labels: Sequence[int],
        inliers: Sequence[float],
        area_fraction: Sequence[float] | None = None,
        thresholds: Profile = Profile(),
        kinds: Sequence[str] | None = None,
        scenes: Sequence[str] | None = None,
        original_area: Sequence[float] | None = None,
        similarity: Sequence[float] | None = None,
    ) -> ScoredSet:
        """A set from constructed scores (tests, what-ifs); scenes become the refs' folders.

        Without ``similarity`` the set is decided by the robust rule whatever ``thresholds.rule`` says.
        """
        n = len(labels)
        kinds = kinds or ["same" if y else "different" for y in labels]
        scenes = scenes or ["scene"] * n
        pairs = tuple(
            LabelledPair(f"{scenes[i]}/ref{i}.jpg", f"{scenes[i]}/query{i}.jpg", int(labels[i]), kinds[i])
            for i in range(n)
        )
        area = np.ones(n) if area_fraction is None else np.asarray(area_fraction, float)
        orig = None if original_area is None else np.asarray(original_area, float)
        sim = None if similarity is None else np.asarray(similarity, float)
        return cls(
            pairs,
            np.asarray(labels, int),
            np.asarray(inliers, float),
            area,
            (None,) * n,
            orig,
            thresholds,
            (),
            np.arange(n),
            sim,
        )

    @classmethod
    def from_rule_scores(
        cls,
        pairs: Sequence[LabelledPair],
        name: str,
        scores: np.ndarray,
        errors: Sequence[str | None],
        thresholds: Profile,
    ) -> ScoredSet:
        """A set scored by one rule with its own per-pair score only (no geometry: inliers and area are 0)."""
        n = len(pairs)
        labels = np.array([p.label for p in pairs], int)
        zeros = np.zeros(n)
        return cls(
            tuple(pairs), labels, zeros, zeros, tuple(errors), None, thresholds, (), np.arange(n), None, {name: scores}
        )

    @classmethod
    def from_original(cls, pairs: Sequence[LabelledPair], original: OriginalScores, thresholds: Profile) -> ScoredSet:
        """A set scored by the original note's rule only (no geometry: inliers and outline area are 0)."""
        n = len(pairs)
        labels = np.array([p.label for p in pairs], int)
        zeros = np.zeros(n)
        return cls(tuple(pairs), labels, zeros, zeros, original.errors, original.area_px, thresholds, (), np.arange(n))

    def __len__(self) -> int:
        return len(self.pairs)

    def with_thresholds(self, thresholds: Profile) -> ScoredSet:
        """The same evidence decided by other decision thresholds (geometry must match)."""
        if self.evidence and geometry_key(thresholds) != geometry_key(self.thresholds):
            raise ValueError("ratio/RANSAC settings changed: take a new ScoredSet from the TuningRun")
        return replace(self, thresholds=thresholds)

    def subset(self, idx: Sequence[int] | np.ndarray) -> ScoredSet:
        """The pairs at positions ``idx`` of this set."""
        idx = np.asarray(idx, int)
        pick = lambda seq: tuple(seq[i] for i in idx)  # noqa: E731
        return ScoredSet(
            pick(self.pairs),
            self.labels[idx],
            self.inliers[idx],
            self.area_fraction[idx],
            pick(self.errors),
            None if self.original_area is None else self.original_area[idx],
            self.thresholds,
            pick(self.evidence) if self.evidence else (),
            self._index()[idx],
            None if self.similarity is None else self.similarity[idx],
            {name: scores[idx] for name, scores in self.rule_scores.items()},
        )

    def _index(self) -> np.ndarray:
        return self.index if self.index is not None else np.arange(len(self))

    @property
    def ok(self) -> np.ndarray:
        """``(N,)`` bool: pairs that could be processed (the rest count nowhere)."""
        return np.array([e is None for e in self.errors], bool)

    # -- the rules ------------------------------------------------------------------

    @property
    def rule(self) -> str:
        """The rule the figures follow: ``thresholds.rule`` when this set holds its evidence.

        Otherwise the first of its companions the set can decide (the fused
        rule without similarities: robust); robust, which needs nothing
        more than the geometry, last.
        """
        chosen = get_rule(self.thresholds.rule)
        for name in (chosen.name, *chosen.companions, "robust"):
            if get_rule(name).lab_available(self):
                return name
        return "robust"

    @property
    def has_similarity(self) -> np.ndarray:
        """``(N,)`` bool: pairs with a similarity (the fused rule can weigh them)."""
        if self.similarity is None:
            return np.zeros(len(self), bool)
        return np.isfinite(self.similarity)

    @property
    def similarities(self) -> np.ndarray:
        """``(N,)`` float: :attr:`similarity`, all ``nan`` when the run computed none."""
        return np.full(len(self), np.nan) if self.similarity is None else self.similarity

    def _similarity0(self) -> np.ndarray:
        return np.zeros(len(self)) if self.similarity is None else np.nan_to_num(self.similarity, nan=0.0)

    def effective_scores(self, min_area_fraction: float | None = None) -> np.ndarray:
        """Inliers where the outline is large enough, else 0: the robust rule accepts iff this >= ``min_inliers``."""
        t = (
            self.thresholds
            if min_area_fraction is None
            else replace(self.thresholds, min_area_fraction=min_area_fraction)
        )
        return visible_inliers(self.inliers, self.area_fraction, t)

    @property
    def accepted(self) -> np.ndarray:
        """``(N,)`` bool: the current rule's verdicts at the current thresholds."""
        return self.accepted_by()

    def available(self, rule: str) -> bool:
        """Whether this set can be decided by ``rule`` (fused needs similarities, original its scores)."""
        return get_rule(rule).lab_available(self)

    def _checked(self, rule: str | None) -> Rule:
        name = self.rule if rule is None else rule
        found = get_rule(name)
        if not found.lab_available(self):
            raise ValueError(f"this set has no scores for the {name} rule")
        return found

    def accepted_by(self, rule: str | None = None) -> np.ndarray:
        """``(N,)`` bool: ``rule``'s verdicts (default: the current rule) at the current thresholds.

        Each rule decides in its module of :mod:`vision.rules` (``lab_accepts``);
        unusable pairs are never accepted.
        """
        return self._checked(rule).lab_accepts(self) & self.ok

    def raw_fused_scores(self) -> np.ndarray:
        """``log(1 + inliers) + fused_weight * similarity`` per pair, without the rule's gates."""
        return fused_score(self.inliers, self._similarity0(), self.thresholds.fused_weight)

    def fused_scores(self) -> np.ndarray:
        """The fused rule's lab score (:func:`vision.rules.fusion.fused_lab_scores`)."""
        return fused_lab_scores(self.inliers, self.area_fraction, self.similarity, self.thresholds)

    def scores(self, rule: str | None = None) -> np.ndarray:
        """``rule``'s score per pair (robust: :meth:`effective_scores`, fused: :meth:`fused_scores`, original: area px²)."""
        return self._checked(rule).lab_scores(self)

    def margins(self, rule: str | None = None) -> np.ndarray:
        """``(N,)`` float: each pair's signed distance to ``rule``'s boundary (positive: accepting side)."""
        return self._checked(rule).lab_margin(self)

    def operating_threshold(self, rule: str | None = None) -> float:
        """The score ``rule`` accepts from (``min_inliers``, ``fused_threshold`` or ``original_min_area_px``)."""
        return self._checked(rule).lab_threshold(self.thresholds)

    # -- figures (processed pairs only) ----------------------------------------------

    def rates(self, rule: str | None = None) -> Rates:
        """Accept counts of ``rule`` (default: the current rule) at the current thresholds."""
        ok = self.ok
        return accept_rates(self.accepted_by(rule)[ok], self.labels[ok])

    def roc(self, rule: str | None = None) -> RocCurve:
        """ROC of ``rule``'s score (:meth:`scores`), gated by the current outline-area threshold."""
        ok = self.ok
        return roc_curve(self.scores(rule)[ok], self.labels[ok])

    def auc(self, rule: str | None = None) -> float:
        """AUC of ``rule``'s score."""
        ok = self.ok
        return roc_auc(self.scores(rule)[ok], self.labels[ok])

    def reason(self, i: int) -> str:
        """Why pair ``i`` was accepted or rejected by the current rule, in the verify page's words."""
        if self.errors[i]:
            return f"unusable: {self.errors[i]}"
        return self._checked(None).lab_reason(self, i)
