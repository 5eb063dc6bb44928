"""``python -m vision evaluate``: one rule over a labelled folder, reported as one JSON document.

A data folder holds ``pairs.csv`` with columns ``ref,query,label,kind``
(optionally ``source,H``); paths are relative to the folder.  The folder is
scored by the engine the tuning lab uses (:class:`vision.lab.run.TuningRun`,
features once per image, matches once per pair) and reported with the lab's
figures (:func:`vision.lab.report.figures`, :func:`vision.lab.report.per_kind`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vision.lab.data import open_folder
from vision.lab.pool import DEFAULT_WORKERS, Workers, stderr_progress
from vision.lab.report import figures, per_kind
from vision.lab.run import TuningRun, score_original, score_rule
from vision.lab.scored import ScoredSet
from vision.profile import Profile
from vision.rules import get as get_rule


def evaluate_folder(
    data_dir: str | Path,
    thresholds: Profile,
    rule: str | None = "robust",
    workers: int | Workers = DEFAULT_WORKERS,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Evaluate ``rule`` (``robust``, ``fused`` or ``original``; None: the profile's) on a data folder.

    Returns the lab's :func:`figures` of ``rule`` plus ``thresholds``,
    ``per_kind`` (``{kind: row}``), ``failed`` (pairs whose images could not
    be used) and ``median_latency_ms`` (a verification's cost per pair).
    ``workers``: a count of local processes, or :class:`vision.lab.pool.Workers` (threads, processes, Dask).
    ``ValueError`` (a :class:`vision.lab.data.LabelledSetError`) when the folder is not a labelled set.
    """
    rule = rule or thresholds.rule
    if rule == "learned":  # its own report: both matchers' evidence, a held-out threshold (vision.lab.learned)
        return _evaluate_learned(data_dir, thresholds, workers, show_progress)
    geometric = get_rule(rule).geometric  # ValueError naming the known rules
    labelled = open_folder(data_dir)
    on_progress = stderr_progress if show_progress else None
    latency: np.ndarray | None
    if not geometric and rule != "original":  # a rule with its own per-pair score
        own = score_rule(labelled, rule, thresholds, workers, on_progress)
        scored = ScoredSet.from_rule_scores(labelled.pairs, rule, own.area_px, own.errors, thresholds)
        latency = own.latency_ms
    elif rule == "original":
        original = score_original(labelled, workers, on_progress)
        scored = ScoredSet.from_original(labelled.pairs, original, thresholds)
        latency = original.latency_ms
    else:
        run = TuningRun.build(
            labelled, thresholds.feature_settings, workers, on_progress, original=False, embed=rule == "fused"
        )
        scored = run.scored(thresholds)
        latency = run.latency_ms
    return summarise(scored, rule, latency)


def _evaluate_learned(
    data_dir: str | Path, profile: Profile, workers: int | Workers, show_progress: bool
) -> dict[str, Any]:
    """The learned rule's report (:mod:`vision.lab.learned`), with its held-out threshold recommendation."""
    from vision.lab.learned import recommend_learned, score_learned, summarise_learned

    labelled = open_folder(data_dir)
    on_progress = stderr_progress if show_progress else None
    run = TuningRun.build(labelled, profile.feature_settings, workers, on_progress, original=False, learned=True)
    scores = score_learned(run, profile)
    lat = np.asarray(run.latency_ms, float) if run.latency_ms is not None else np.empty(0)
    lat = lat[np.isfinite(lat)]
    scoring_errors = scores.errors or (None,) * len(run.pairs)
    failed = [
        {"ref": p.ref, "query": p.query, "error": m if isinstance(m, str) else e}
        for p, m, e in zip(run.pairs, run.matches, scoring_errors, strict=True)
        if isinstance(m, str) or e
    ]
    return {
        **summarise_learned(scores, profile),
        "failed": failed,
        "recommendation": recommend_learned(scores, profile),
        "thresholds": profile.to_dict(),
        "median_latency_ms": round(float(np.median(lat)), 2) if lat.size else None,
    }


def summarise(scored: ScoredSet, rule: str, latency_ms: np.ndarray | None = None) -> dict[str, Any]:
    """The evaluation report of ``scored`` under ``rule`` (see :func:`evaluate_folder`)."""
    ok = scored.ok
    lat = np.asarray(latency_ms, float)[ok] if latency_ms is not None else np.empty(0)
    lat = lat[np.isfinite(lat)]
    return {
        **figures(scored, rule),
        "thresholds": scored.thresholds.to_dict(),
        "per_kind": per_kind(scored, rule),
        "failed": [
            {"ref": p.ref, "query": p.query, "error": e} for p, e in zip(scored.pairs, scored.errors, strict=True) if e
        ],
        "median_latency_ms": round(float(np.median(lat)), 2) if lat.size else None,
    }
