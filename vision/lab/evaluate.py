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

from vision import rules
from vision.lab.data import LabelledSet, open_folder
from vision.lab.pool import DEFAULT_WORKERS, Workers, stderr_progress
from vision.lab.report import figures, per_kind
from vision.lab.run import TuningRun, score_original, score_rule
from vision.lab.scored import ScoredSet
from vision.profile import Profile


def evaluate_folder(
    data_dir: str | Path,
    thresholds: Profile,
    rule: str | None = "robust",
    workers: int | Workers = DEFAULT_WORKERS,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Evaluate ``rule`` (a name of :mod:`vision.rules.catalogue`; None: the profile's) on a data folder.

    Returns the lab's :func:`figures` of ``rule`` plus ``thresholds``,
    ``per_kind`` (``{kind: row}``), ``failed`` (pairs that could not be used,
    with the reason) and ``median_latency_ms`` (a verification's cost per pair).
    ``workers``: a count of local processes, or :class:`vision.lab.pool.Workers` (threads, processes, Dask).
    ``ValueError`` (a :class:`vision.lab.data.LabelledSetError`) when the folder is not a labelled set.
    """
    name = rules.get(rule or thresholds.rule).name  # an unknown rule is refused before any work
    scored, latency = score_folder(open_folder(data_dir), thresholds, name, workers, show_progress)
    return summarise(scored, name, latency)


def score_folder(
    labelled: LabelledSet,
    thresholds: Profile,
    name: str,
    workers: int | Workers = DEFAULT_WORKERS,
    show_progress: bool = False,
) -> tuple[ScoredSet, np.ndarray | None]:
    """``name``'s evidence on every pair of ``labelled`` as the lab scores it, and each pair's latency (ms).

    The rule's :class:`~vision.rules.base.Needs` say what is computed: its
    own pipeline on the files (full-resolution rules), its own per-pair score
    (``score_pair``), or the shared features and matches plus, for a
    non-geometric rule, its ``pair_evidence`` from them.
    """
    chosen = rules.get(name)  # ValueError naming the known rules
    on_progress = stderr_progress if show_progress else None
    latency: np.ndarray | None
    if chosen.needs.full_images:  # its own pipeline on the files (the original note's)
        original = score_original(labelled, workers, on_progress)
        return ScoredSet.from_original(labelled.pairs, original, thresholds), original.latency_ms
    if hasattr(chosen, "score_pair"):  # a rule with its own per-pair score from the files
        own = score_rule(labelled, name, thresholds, workers, on_progress)
        return ScoredSet.from_rule_scores(labelled.pairs, name, own.area_px, own.errors, thresholds), own.latency_ms
    needs = chosen.needs
    run = TuningRun.build(
        labelled,
        thresholds.feature_settings,
        workers,
        on_progress,
        original=False,
        embed=needs.embedding,
        learned=needs.xfeat,
    )
    if not chosen.geometric:
        run.add_rule(name, thresholds, on_progress)
    latency = run.latency_ms
    return run.scored(thresholds), latency


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
