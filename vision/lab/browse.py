"""The whole labelled set as rows to filter and sort: every pair with its verdict, score and margin.

Pure (no Streamlit): :func:`pair_rows` decides nothing itself; the verdict,
score, margin and reason of each pair are the current rule's
(:meth:`ScoredSet.accepted_by`, ``scores``, ``margins``, ``reason``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vision.lab.scored import ScoredSet

__all__ = ["COLUMNS", "PairFilter", "pair_rows"]

COLUMNS = ("position", "ref", "query", "kind", "label", "verdict", "correct", "score", "margin", "reason")


@dataclass(frozen=True)
class PairFilter:
    """Which pairs to show: kinds and labels (empty: all), verdicts among ``accepted``, ``rejected``,
    ``unusable`` (empty: all), a score range (None: any), and the sort."""

    kinds: Collection[str] = ()
    labels: Collection[int] = ()
    verdicts: Collection[str] = ()
    score_range: tuple[float, float] | None = None
    sort: str = "margin"  # margin (nearest the boundary first) | score | wrong_first


def pair_rows(scored: ScoredSet, which: PairFilter = PairFilter()) -> pd.DataFrame:
    """One row per pair that passes ``which``: ``COLUMNS``; ``margin`` is the signed distance to the boundary
    (positive on the accepting side, in units of the threshold) and ``position`` the pair's index in ``scored``."""
    ok = scored.ok
    accepted = scored.accepted
    scores = np.where(ok, scored.scores(), np.nan)
    margins = np.where(ok, scored.margins(), np.nan)
    verdict = np.where(~ok, "unusable", np.where(accepted, "accepted", "rejected"))
    keep = np.ones(len(scored), bool)
    kinds = np.array([p.kind for p in scored.pairs])
    if which.kinds:
        keep &= np.isin(kinds, list(which.kinds))
    if which.labels:
        keep &= np.isin(scored.labels, list(which.labels))
    if which.verdicts:
        keep &= np.isin(verdict, list(which.verdicts))
    if which.score_range is not None:
        lo, hi = which.score_range
        keep &= ok & (scores >= lo) & (scores <= hi)
    idx = np.flatnonzero(keep)
    correct = ok & (accepted == scored.labels.astype(bool))
    frame = pd.DataFrame(
        {
            "position": idx,
            "ref": [scored.pairs[i].ref for i in idx],
            "query": [scored.pairs[i].query for i in idx],
            "kind": kinds[idx],
            "label": ["same" if scored.labels[i] else "different" for i in idx],
            "verdict": verdict[idx],
            "correct": correct[idx],
            "score": np.round(scores[idx], 3),
            "margin": np.round(margins[idx], 3),
            "reason": [scored.reason(int(i)) for i in idx],
        },
        columns=list(COLUMNS),
    )
    if which.sort == "margin":
        frame = frame.iloc[np.argsort(np.abs(frame["margin"].to_numpy()), kind="stable")]
    elif which.sort == "score":
        frame = frame.sort_values("score", ascending=False, kind="stable")
    elif which.sort == "wrong_first":  # errors first, the most wrong (farthest past the boundary) first
        far = -frame["margin"].abs()
        frame = frame.assign(_far=far).sort_values(["correct", "_far"], kind="stable").drop(columns="_far")
    else:
        raise ValueError(f"sort must be margin, score or wrong_first, got {which.sort!r}")
    return frame.reset_index(drop=True)
