"""Recommend thresholds for a target false-accept rate, and judge them on held-out scenes (:func:`tune`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from vision import rules
from vision.lab.checks import Checks, recommendation_checks
from vision.lab.learned import learned_scores
from vision.lab.metrics import accept_rates, threshold_for_far
from vision.lab.report import figures, json_float
from vision.lab.scored import ScoredSet
from vision.lab.split import Split
from vision.profile import Profile
from vision.rules.catalogue import rule_names
from vision.rules.fusion import apply_recommendation, fused_accepts, recommend_fused
from vision.rules.learned_score import fit_threshold, learned_score

#: Area fractions the recommendation may choose from (besides the base profile's).
AREA_FRACTION_GRID = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05)
#: The sidebar's minimum-inliers slider range; a recommendation stays inside it.
MIN_INLIERS_RANGE = (4, 200)


@dataclass(frozen=True)
class Recommendation:
    """Profile chosen for a target false-accept rate, and why.

    Attributes
    ----------
    thresholds : Profile
        The base thresholds with ``min_inliers`` and ``min_area_fraction``
        replaced, and the fused rule's fields (:data:`vision.rules.fusion.FUSED_FIELDS`)
        where the set has similarities.  ``rule`` stays the base's.
    target_far : float
    tightest_min_inliers : int
        The smallest threshold meeting the target on the training pairs.
    highest_rejected_negative : float
        The largest score of a different pair the chosen rule still rejects
        (the negative that sits closest below the threshold).
    lowest_accepted_positive : float
        The smallest score of a same pair the chosen rule accepts.
    margin_below, margin_above : float
        Inliers between the threshold and those two scores.
    feasible : bool
        False when no threshold inside the slider's range meets the target.
    train : dict
        :func:`figures` of the training pairs at the chosen thresholds (current rule).
    fused : dict or None
        The fused rule's pick (:func:`vision.rules.fusion.recommend_fused`, with the
        chosen ``min_inliers`` and area): ``fused_min_inliers``, ``fused_weight``,
        ``fused_threshold``, its figures on the training pairs and
        ``similarity_margin``; None when the set has no similarities.
    learned : dict or None
        The learned rule's pick where the set holds its evidence
        (:func:`recommend_learned_threshold`): ``learned_threshold`` and the
        margins to the nearest scores on either side; None otherwise.
    """

    thresholds: Profile
    target_far: float
    tightest_min_inliers: int
    highest_rejected_negative: float
    lowest_accepted_positive: float
    margin_below: float
    margin_above: float
    feasible: bool
    train: dict[str, Any]
    fused: dict[str, Any] | None = None
    learned: dict[str, Any] | None = None

    @property
    def rule(self) -> str:
        return self.train.get("rule", "robust")

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "target_far": self.target_far,
            "min_inliers": self.thresholds.min_inliers,
            "min_area_fraction": self.thresholds.min_area_fraction,
            "tightest_min_inliers": self.tightest_min_inliers,
            "highest_rejected_negative": json_float(self.highest_rejected_negative),
            "lowest_accepted_positive": json_float(self.lowest_accepted_positive),
            "margin_below_inliers": json_float(self.margin_below),
            "margin_above_inliers": json_float(self.margin_above),
            "feasible": self.feasible,
            "fused": self.fused,
            "learned": self.learned,
            "train": self.train,
        }


@dataclass(frozen=True)
class _Candidate:
    area: float
    tightest: int
    chosen: int
    tar: float
    far: float
    below: float
    above: float
    feasible: bool


def _candidate(scores: np.ndarray, labels: np.ndarray, area: float, target_far: float, placement: str) -> _Candidate:
    lo, hi = MIN_INLIERS_RANGE
    t = threshold_for_far(scores, labels, target_far)
    neg, pos = scores[~labels], scores[labels]
    rejected_neg = neg[neg < t]
    below = float(rejected_neg.max()) if rejected_neg.size else float(lo - 1)
    accepted_pos = pos[pos >= t]
    above = float(accepted_pos.min()) if accepted_pos.size else float("nan")
    # Every integer threshold in (below, above] gives the training figures of t.
    tightest = max(math.floor(below) + 1, lo)
    chosen = tightest
    if placement == "midgap" and np.isfinite(above):
        # The middle of that empty gap on a log scale (inlier counts spread
        # multiplicatively): neither side's nearest score decides it.
        chosen = max(math.ceil(math.sqrt(max(below + 1.0, 1.0) * above)), tightest)
    feasible = tightest <= hi
    chosen = min(chosen, hi)
    rates = accept_rates(scores >= chosen, labels)
    return _Candidate(area, min(tightest, hi), chosen, _nan0(rates.tar), _nan0(rates.far), below, above, feasible)


def _nan0(x: float) -> float:
    return 0.0 if math.isnan(x) else x


#: The sidebar's step for ``fused_threshold``: a recommended threshold is moved onto it when that changes no decision.
FUSED_THRESHOLD_STEP = 0.05


def recommend_fused_thresholds(scored: ScoredSet, target_far: float, base: Profile) -> dict[str, Any] | None:
    """The fused rule's thresholds for ``target_far`` on the pairs with a similarity, on top of ``base``.

    :func:`vision.rules.fusion.recommend_fused` (threshold midway in the gap of the
    fused score, margins against negatives given the geometric minimum), with
    ``base``'s ``min_inliers`` (geometry alone) and ``min_area_fraction``.  The
    threshold is then put on the sidebar's step (:data:`FUSED_THRESHOLD_STEP`)
    when no training decision changes.  Returns None when the set has no
    similarities or lacks same or different pairs among them.
    """
    m = scored.ok & scored.has_similarity
    labels = scored.labels[m]
    if not ((labels == 0).any() and (labels == 1).any()):
        return None
    inl, sim, area = scored.inliers[m], scored.similarities[m], scored.area_fraction[m]
    rec = recommend_fused(inl, sim, labels, min(target_far, 1 - 1e-9), area_fraction=area, base=base)
    exact = apply_recommendation(base, rec)
    snapped = replace(
        exact, fused_threshold=round(round(exact.fused_threshold / FUSED_THRESHOLD_STEP) * FUSED_THRESHOLD_STEP, 4)
    )
    # The same decisions for the training pairs, and for the negatives given the geometric minimum.
    stressed = np.where(labels == 0, np.maximum(inl, exact.fused_min_inliers), inl)
    same = all(
        np.array_equal(fused_accepts(x, sim, exact, area), fused_accepts(x, sim, snapped, area))
        for x in (inl, stressed)
    )
    if same and snapped.fused_threshold > 0:
        shift = abs(snapped.fused_threshold - exact.fused_threshold) / exact.fused_weight
        rec = {
            **rec,
            "fused_threshold": snapped.fused_threshold,
            "unrounded_fused_threshold": exact.fused_threshold,
            "similarity_margin": round(max(rec["similarity_margin"] - shift, 0.0), 4),
        }
    return rec


def recommend_details(
    scored: ScoredSet,
    target_far: float = 0.01,
    areas: Iterable[float] | None = None,
    placement: str = "midgap",
) -> Recommendation:
    """Choose ``min_inliers`` and ``min_area_fraction``, and the fused rule's thresholds, for a target false-accept rate.

    For each candidate area fraction (the base profile's and
    :data:`AREA_FRACTION_GRID`) the smallest inlier threshold whose false-accept
    rate on ``scored`` is at most ``target_far`` is found
    (:func:`vision.lab.metrics.threshold_for_far`); that threshold maximises true
    accepts for that area.  The area with the most true accepts wins; ties go to
    fewer false accepts, then to the base profile's area (do not move what the
    data cannot tell apart), then to the smaller area.

    The tightest threshold sits one inlier above a negative, where a new negative
    is likely to cross it.  With ``placement="midgap"`` (default) the threshold is
    moved to the middle (geometric mean) of the empty gap between the highest
    negative it rejects and the lowest positive it accepts: the training figures
    are unchanged and the rule has room on both sides, which is what transfers
    to unseen scenes.
    ``placement="tightest"`` keeps the smallest threshold.

    Where the set has similarities, the fused rule's thresholds are then
    picked on top of those (:func:`recommend_fused_thresholds`) and
    :attr:`Recommendation.train` gives the figures of the current rule
    (``thresholds.rule``) with everything applied.

    Parameters
    ----------
    scored : ScoredSet
        The training pairs (hold out scenes before calling to judge the result).
    target_far : float
        Largest acceptable false-accept rate, in ``[0, 1]``.
    areas : iterable of float, optional
        Area fractions to consider instead of the default grid.
    placement : {"midgap", "tightest"}
    """
    if placement not in ("midgap", "tightest"):
        raise ValueError(f"placement must be midgap or tightest, got {placement!r}")
    if not 0 <= target_far <= 1:
        raise ValueError(f"target_far must be in [0, 1], got {target_far}")
    ok = scored.ok
    if not ok.any():
        raise ValueError("no processed pairs to tune on")
    base = scored.thresholds
    grid = sorted(
        {round(float(a), 6) for a in (areas if areas is not None else AREA_FRACTION_GRID)} | {base.min_area_fraction}
    )
    labels = scored.labels[ok].astype(bool)
    candidates = [_candidate(scored.effective_scores(a)[ok], labels, a, target_far, placement) for a in grid]
    best = max(candidates, key=lambda c: (c.feasible, c.tar, -c.far, c.area == base.min_area_fraction, -c.area))
    if rules.get(scored.rule).geometric:  # the rule the set follows: robust's inliers and area, then fused's
        tuned = replace(base, min_inliers=int(best.chosen), min_area_fraction=float(best.area))
        fused = recommend_fused_thresholds(scored, target_far, tuned)
        if fused is not None:
            tuned = apply_recommendation(tuned, fused)
    else:
        # A rule with evidence of its own tunes its own threshold only: the AKAZE numbers it shares with
        # robust (min_inliers: AKAZE alone) stay as they are, so nothing it accepts moves unscored.
        tuned, fused = base, None
    # The learned threshold is picked only when the learned rule is the one tuned (a fused or robust profile
    # keeps it: a threshold the tuned rule never reads would change silently, and the page shows one rule's pick).
    learned = recommend_learned_threshold(scored, target_far, tuned) if rules.get(scored.rule).needs.xfeat else None
    if learned is not None:
        tuned = replace(tuned, learned_threshold=learned["learned_threshold"])
    return Recommendation(
        tuned,
        target_far,
        best.tightest,
        best.below,
        best.above,
        best.chosen - best.below,
        best.above - best.chosen,
        best.feasible,
        figures(scored.with_thresholds(tuned)),
        fused,
        learned,
    )


def recommend_learned_threshold(scored: ScoredSet, target_far: float, base: Profile) -> dict[str, Any] | None:
    """The learned rule's threshold for ``target_far`` on ``scored`` (its training pairs), or None without its evidence.

    :func:`vision.rules.learned_score.fit_threshold`: midway between the
    stressed negatives' ``target_far`` quantile and the lowest same pair above
    it, at ``base``'s other thresholds (``min_inliers`` chosen first, since
    AKAZE alone keeps its say in the learned rule).  Also the margins, in
    score units, to the nearest different pair accepted-side and same pair.
    """
    if not rules.get("learned").lab_available(scored):
        return None
    scores = learned_scores(scored.with_thresholds(base))
    ok = scores.ok
    labels = scores.labels[ok]
    if not ((labels == 0).any() and (labels == 1).any()):
        return None
    e, sim = scores.counted(base)[ok], scores.similarity[ok]
    t = fit_threshold(e, sim, labels, base.learned_weight, base.learned_min_inliers, target_far)
    score = learned_score(e, sim, base.learned_weight)
    counted = e >= base.learned_min_inliers
    neg, pos = score[counted & (labels == 0)], score[counted & (labels == 1)]
    below = neg[neg < t]
    above = pos[pos >= t]
    return {
        "learned_threshold": round(float(t), 3),
        "margin_below": None if not below.size else round(float(t - below.max()), 3),
        "margin_above": None if not above.size else round(float(above.min() - t), 3),
    }


def threshold_changes(before: Profile, after: Profile) -> list[dict[str, Any]]:
    """Each number that differs, with the rules whose verdicts it changes (those listing it in ``Rule.thresholds``)."""
    rows = []
    for f in fields(Profile):
        old, new = getattr(before, f.name), getattr(after, f.name)
        if old != new:
            acting = [name for name in rule_names() if f.name in rules.get(name).thresholds]
            rows.append({"threshold": f.name, "before": old, "after": new, "rules": ", ".join(acting) or "none"})
    return rows


def tuned_values(rec: Recommendation) -> dict[str, float]:
    """The numbers the recommendation chose (what its slider-end warnings are about), by the rule it tunes."""
    t = rec.thresholds
    if rec.rule == "learned":
        return {"learned_threshold": float(t.learned_threshold)}
    names = ("min_inliers", *(("fused_min_inliers", "fused_weight", "fused_threshold") if rec.fused else ()))
    return {name: float(getattr(t, name)) for name in names}


def recommend(scored: ScoredSet, target_far: float = 0.01, **kwargs: Any) -> Profile:
    """The thresholds of :func:`recommend_details` (same parameters)."""
    return recommend_details(scored, target_far, **kwargs).thresholds


@dataclass(frozen=True)
class TuneReport:
    """A recommendation with its figures on the training and held-out parts (the current rule's).

    ``checks`` are its sample-size warnings on the training pairs, computed on the rule tuned
    (:func:`vision.lab.checks.recommendation_checks`).  ``baseline`` and ``baseline_holdout`` are the
    figures of the thresholds tuned *from* (the base profile) on the whole set and on the held-out
    scenes: whether the recommendation beats what ships, judged on pairs neither was picked on.
    """

    recommendation: Recommendation
    split: Split | None
    train: dict[str, Any]
    holdout: dict[str, Any] | None
    overall: dict[str, Any]
    baseline: dict[str, Any]
    checks: Checks | None = None
    baseline_holdout: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.overall["rule"],
            "thresholds": self.recommendation.thresholds.to_dict(),
            "recommendation": self.recommendation.to_json(),
            "split": self.split.to_json() if self.split else None,
            "figures": {"train": self.train, "holdout": self.holdout, "all": self.overall},
            "baseline_all": self.baseline,
            "baseline_holdout": self.baseline_holdout,
            "checks": None if self.checks is None else self.checks.to_json(),
        }


def tune(
    scored: ScoredSet,
    target_far: float = 0.01,
    split: Split | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    **kwargs: Any,
) -> TuneReport:
    """Recommend on the training part (all pairs without ``split``) and judge on every part.

    ``baseline`` gives the figures of ``scored``'s own thresholds on the whole set; ``ranges``
    the sliders' ranges for the slider-end warnings (default: ``min_inliers``'s,
    :data:`MIN_INLIERS_RANGE`).
    """
    train_set = scored.subset(split.train) if split else scored
    rec = recommend_details(train_set, target_far, **kwargs)
    tuned = scored.with_thresholds(rec.thresholds)
    held_out = split.holdout if split is not None and split.holdout.size else None
    holdout = None if held_out is None else figures(tuned.subset(held_out))
    limits = {"min_inliers": (float(MIN_INLIERS_RANGE[0]), float(MIN_INLIERS_RANGE[1]))} if ranges is None else ranges
    checks = recommendation_checks(train_set.with_thresholds(rec.thresholds), target_far, tuned_values(rec), limits)
    base_holdout = None if held_out is None else figures(scored.subset(held_out))
    return TuneReport(rec, split, rec.train, holdout, figures(tuned), figures(scored), checks, base_holdout)
