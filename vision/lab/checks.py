"""The sample-size warnings of a recommendation, computed on the rule it tunes (issue 19).

Two questions about a threshold tuned on a small labelled set:

* can the set show the target at all: the Wilson 95 % upper bound of the
  rule's own false accepts against the target (:func:`~vision.lab.intervals.far_bound_warning`);
* how close does the boundary pass to the nearest different pair it rejects:
  within :data:`~vision.lab.intervals.MARGIN_INLIERS` inliers, a photo of
  another scene with that many more inliers would be accepted.

Under the robust and fused rules the margin is AKAZE's visible inliers against
``min_inliers`` (as before).  Under the learned rule it is measured on the
learned rule's own verdicts, on each way it accepts
(:func:`vision.rules.learned_score.learned_accepts`, then
:func:`vision.rules.second_opinion.second_opinion_accepts`):

* ``learned score``: the margin in the score's units against
  ``learned_threshold``, and the inliers that pair lacks to be accepted
  (reaching ``learned_min_inliers`` as well);
* ``ALIKED second opinion``: in the grey zone the second opinion decides, so
  the margin is in ALIKED inliers against ``second_opinion_min_inliers``;
* ``AKAZE alone``: AKAZE's inliers against ``min_inliers``.

The profile's fields are read by name: the second opinion's thresholds may change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vision.lab.intervals import (
    MARGIN_INLIERS,
    Interval,
    edge_warnings,
    far_bound_warning,
    highest_rejected,
    recommendation_warnings,
    resolution_warning,
    wilson,
)
from vision.lab.learned import LearnedScores, learned_scores
from vision.lab.scored import ScoredSet
from vision.profile import Profile
from vision.rules.learned_score import learned_accepts, learned_score
from vision.rules.second_opinion import enabled, in_grey_zone


@dataclass(frozen=True)
class NearestNegative:
    """The different pair that one way of accepting rejects by the fewest inliers.

    Attributes
    ----------
    path : str
        ``"learned score"``, ``"ALIKED second opinion"``, ``"AKAZE alone"`` or (robust, fused) ``"inliers"``.
    position : int
        Index of the pair in the arrays the check was given.
    pair : str
        ``ref vs query`` (empty when the arrays carry no names).
    value, threshold : float
        The pair's number and the threshold it is compared with, in ``units``.
    units : str
        ``"score"`` (the learned score) or the inliers of a matcher.
    inliers : float
        The evidence the number rests on (the stronger matcher's checked inliers for the learned score).
    short : int
        More inliers that would have the pair accepted on this path (at least 1).
    """

    path: str
    position: int
    pair: str
    value: float
    threshold: float
    units: str
    inliers: float
    short: int

    @property
    def margin(self) -> float:
        """``threshold - value`` in :attr:`units` (0 or below: only another gate rejects the pair)."""
        return self.threshold - self.value

    @property
    def close(self) -> bool:
        """Within :data:`MARGIN_INLIERS` inliers of being accepted."""
        return self.short <= MARGIN_INLIERS

    def warning(self) -> str | None:
        """The margin warning, or None when the pair is far enough."""
        if not self.close:
            return None
        who = f" ({self.pair})" if self.pair else ""
        return (
            f"{self.path}: the nearest different pair{who} has {self.value:g} {self.units} against the threshold "
            f"{self.threshold:g} (margin {self.margin:.3g} {self.units}, from {self.inliers:g} inliers): {self.short} "
            f"more inlier{'s' if self.short > 1 else ''} on a photo of another scene and it is accepted. Keep a "
            "margin, or look at that pair."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "position": self.position,
            "pair": self.pair,
            "value": round(self.value, 4),
            "threshold": round(self.threshold, 4),
            "margin": round(self.margin, 4),
            "units": self.units,
            "inliers": round(self.inliers, 2),
            "inliers_short": self.short,
        }


@dataclass(frozen=True)
class Checks:
    """The warnings of one recommendation and the numbers behind them.

    Attributes
    ----------
    rule : str
        The rule whose verdicts were checked (the recommendation's).
    target_far : float
    far : Interval
        That rule's false accepts on the pairs tuned on, with its Wilson interval.
    nearest : tuple[NearestNegative, ...]
        Per way of accepting, the different pair closest to it (none where no rejected pair could be).
    warnings : tuple[str, ...]
        Most basic first: resolution, slider ends, the FAR bound, the margins.
    """

    rule: str
    target_far: float
    far: Interval
    nearest: tuple[NearestNegative, ...]
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "target_far": self.target_far,
            "false_accepts": self.far.to_json(),
            "far_upper_bound_exceeds_target": bool(self.far.n and self.far.high > self.target_far),
            "nearest_negatives": [n.to_json() for n in self.nearest],
            "warnings": list(self.warnings),
        }


def _pick(short: np.ndarray, value: np.ndarray, candidates: np.ndarray) -> int | None:
    """The candidate lacking the fewest inliers; ties go to the higher value."""
    if not candidates.any():
        return None
    idx = np.flatnonzero(candidates)
    order = np.lexsort((-value[idx], short[idx]))
    return int(idx[order[0]])


def _nearest(
    path: str,
    units: str,
    value: np.ndarray,
    threshold: float,
    evidence: np.ndarray,
    short: np.ndarray,
    candidates: np.ndarray,
    names: Sequence[str],
) -> NearestNegative | None:
    i = _pick(short, value, candidates)
    if i is None:
        return None
    return NearestNegative(
        path,
        i,
        names[i] if names else "",
        round(float(value[i]), 4),
        float(threshold),
        units,
        float(evidence[i]),
        max(int(short[i]), 1),
    )


def score_inliers_short(evidence: np.ndarray, similarity: np.ndarray, profile: Profile) -> np.ndarray:
    """``(N,)`` inliers each pair lacks for the learned score to accept it (0 where it already does).

    The score ``log(1 + e) + w * s`` reaches ``t`` from ``e = exp(t - w * s) - 1`` inliers, and
    the evidence must reach ``learned_min_inliers`` too.
    """
    e = np.asarray(evidence, np.float64)
    s = np.asarray(similarity, np.float64)
    with np.errstate(over="ignore"):
        needed = np.expm1(profile.learned_threshold - profile.learned_weight * s)
    # the smallest whole evidence whose score reaches the threshold (1e-9: exp's rounding on an exact hit)
    needed = np.maximum(np.ceil(needed - 1e-9), profile.learned_min_inliers)
    return np.maximum(needed - e, 0.0)


def learned_nearest(scores: LearnedScores, profile: Profile, names: Sequence[str] = ()) -> tuple[NearestNegative, ...]:
    """Per way the learned rule accepts, the different pair it rejects that lacks the fewest inliers.

    Only pairs the rule's final verdict rejects count (accepted ones are false accepts, counted by the
    FAR bound); the second opinion's only in its grey zone with ALIKED inliers scored.
    """
    ok = scores.ok
    rejected = ok & (scores.labels == 0) & ~scores.accepted(profile)
    e, sim = scores.counted(profile), scores.similarity
    found = [
        _nearest(
            "AKAZE alone",
            "AKAZE inliers",
            scores.akaze,
            profile.min_inliers,
            scores.akaze,
            np.ceil(profile.min_inliers - scores.akaze),
            rejected,
            names,
        ),
        _nearest(
            "learned score",
            "score",
            learned_score(e, sim, profile.learned_weight),
            profile.learned_threshold,
            e,
            score_inliers_short(e, sim, profile),
            rejected,
            names,
        ),
    ]
    if scores.aliked is not None and enabled(profile):
        first = learned_accepts(scores.akaze, scores.xfeat, sim, profile)
        aliked = np.asarray(scores.aliked, np.float64)
        grey = rejected & in_grey_zone(first, sim, profile) & np.isfinite(aliked)
        need = profile.second_opinion_min_inliers
        found.append(
            _nearest(
                "ALIKED second opinion",
                "ALIKED inliers",
                np.nan_to_num(aliked),
                need,
                np.nan_to_num(aliked),
                np.ceil(need - np.nan_to_num(aliked)),
                grey,
                names,
            )
        )
    return tuple(n for n in found if n is not None)


def learned_checks(
    scores: LearnedScores,
    profile: Profile,
    target_far: float,
    names: Sequence[str] = (),
    tuned: Mapping[str, float] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> Checks:
    """The warnings of the learned rule at ``profile`` on ``scores`` (the pairs tuned on).

    ``tuned`` are the recommended values checked against their slider ``ranges`` (default:
    ``learned_threshold``).
    """
    ok = scores.ok
    labels = scores.labels[ok]
    negatives = int((labels == 0).sum())
    accepted = scores.accepted(profile)[ok]
    far = wilson(int((accepted & (labels == 0)).sum()), negatives)
    nearest = learned_nearest(scores, profile, names)
    values = dict(tuned) if tuned is not None else {"learned_threshold": float(profile.learned_threshold)}
    resolution = resolution_warning(target_far, negatives)
    found = [resolution, *edge_warnings(values, ranges or {})]
    if not (resolution and far.k == 0):  # the resolution warning already gives 0 / n's bound
        found.append(far_bound_warning(far, target_far, "learned"))
    found += [n.warning() for n in nearest]
    return Checks("learned", target_far, far, nearest, tuple(w for w in found if w))


def robust_checks(
    train: ScoredSet,
    target_far: float,
    tuned: Mapping[str, float],
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> Checks:
    """The warnings of a geometric rule (robust, fused) on ``train``: AKAZE inliers against ``min_inliers``."""
    ok = train.ok
    labels = train.labels[ok]
    t = train.thresholds
    rates = train.rates()
    far = wilson(rates.false_accept, rates.n_negative)
    scores = train.effective_scores()[ok]
    highest = highest_rejected(scores, labels, t.min_inliers)
    nearest: tuple[NearestNegative, ...] = ()
    if math.isfinite(highest):
        i = int(np.flatnonzero(ok)[np.flatnonzero((labels == 0) & (scores == highest))[0]])
        name = f"{train.pairs[i].ref} vs {train.pairs[i].query}"
        short = max(math.ceil(t.min_inliers - highest), 1)
        nearest = (NearestNegative("inliers", i, name, highest, float(t.min_inliers), "inliers", highest, short),)
    found = recommendation_warnings(target_far, int((labels == 0).sum()), tuned, ranges or {}, highest, far, train.rule)
    return Checks(train.rule, target_far, far, nearest, tuple(found))


def recommendation_checks(
    train: ScoredSet,
    target_far: float,
    tuned: Mapping[str, float],
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> Checks:
    """The warnings of the thresholds of ``train`` (the pairs tuned on, at the recommended thresholds).

    Computed on the rule ``train`` follows (:attr:`ScoredSet.rule`): the learned rule's own verdicts
    and score where the set holds its evidence, else AKAZE's inliers.
    """
    if train.rule == "learned":
        names = [f"{p.ref} vs {p.query}" for p in train.pairs]
        return learned_checks(learned_scores(train), train.thresholds, target_far, names, tuned, ranges)
    return robust_checks(train, target_far, tuned, ranges)
