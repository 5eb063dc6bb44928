"""Evaluation arithmetic on labelled scores: rates, ROC, AUC.

Pure numpy, no image work: the tuning lab and the CLI share it, and the unit
tests check it on constructed scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def _as_arrays(scores: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).astype(bool).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores and labels differ in length: {s.shape[0]} vs {y.shape[0]}")
    return s, y


@dataclass(frozen=True)
class Rates:
    """Accept rates of same (positive) and different (negative) pairs."""

    n_positive: int
    n_negative: int
    true_accept: int
    false_accept: int

    @property
    def tar(self) -> float:
        """True-accept rate: same pairs accepted / same pairs (nan without any)."""
        return self.true_accept / self.n_positive if self.n_positive else float("nan")

    @property
    def far(self) -> float:
        """False-accept rate: different pairs accepted / different pairs."""
        return self.false_accept / self.n_negative if self.n_negative else float("nan")

    @property
    def frr(self) -> float:
        return 1.0 - self.tar if self.n_positive else float("nan")

    def to_json(self) -> dict[str, Any]:
        return {
            "positives": self.n_positive,
            "negatives": self.n_negative,
            "true_accept_rate": _round(self.tar),
            "false_accept_rate": _round(self.far),
            "true_accepts": self.true_accept,
            "false_accepts": self.false_accept,
        }


def _round(x: float) -> float | None:
    return None if np.isnan(x) else round(float(x), 4)


def accept_rates(accepted: ArrayLike, labels: ArrayLike) -> Rates:
    """Count accepts among positives and negatives.

    Parameters
    ----------
    accepted : array-like of bool, shape (N,)
    labels : array-like of {0, 1}, shape (N,)
    """
    a, y = _as_arrays(accepted, labels)
    a = a.astype(bool)
    return Rates(int(y.sum()), int((~y).sum()), int((a & y).sum()), int((a & ~y).sum()))


def roc_auc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties count half.

    Returns nan when either class is empty.
    """
    s, y = _as_arrays(scores, labels)
    pos, neg = s[y], s[~y]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    # Rank-sum (Mann-Whitney U) with average ranks for ties.
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty_like(s)
    sorted_s = s[order]
    i = 0
    while i < s.size:
        j = i
        while j + 1 < s.size and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    u = ranks[y].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))


@dataclass(frozen=True)
class RocCurve:
    """Operating points of the rule ``accept when score >= threshold``.

    ``thresholds`` is decreasing; ``tpr[i]``/``fpr[i]`` are the rates at
    ``thresholds[i]``.  The first point (threshold ``+inf``) accepts nothing.
    """

    thresholds: np.ndarray
    tpr: np.ndarray
    fpr: np.ndarray


def roc_curve(scores: ArrayLike, labels: ArrayLike) -> RocCurve:
    """ROC curve over every distinct score."""
    s, y = _as_arrays(scores, labels)
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    distinct = np.unique(s)[::-1]
    thresholds = np.concatenate([[np.inf], distinct])
    tpr = np.array([(s[y] >= t).sum() / n_pos for t in thresholds])
    fpr = np.array([(s[~y] >= t).sum() / n_neg for t in thresholds])
    return RocCurve(thresholds, tpr, fpr)


def threshold_for_far(scores: ArrayLike, labels: ArrayLike, target_far: float) -> float:
    """Smallest threshold whose false-accept rate is at most ``target_far``.

    Accept means ``score >= threshold``.  Returns ``inf`` when no finite
    threshold keeps the negatives under the target.
    """
    if not 0 <= target_far <= 1:
        raise ValueError(f"target_far must be in [0, 1], got {target_far}")
    curve = roc_curve(scores, labels)
    ok = curve.fpr <= target_far + 1e-12
    return float(curve.thresholds[np.flatnonzero(ok)[-1]])
