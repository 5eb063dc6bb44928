"""Reports of a scored set: headline figures, the per-kind table, histograms, error cases, CSV export.

Every function takes a :class:`vision.lab.scored.ScoredSet` and reads its
current rule (or the ``rule`` given); nothing here touches an image.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from vision import rules
from vision.lab.data import LabelledPair
from vision.lab.scored import ScoredSet
from vision.lab.split import Split
from vision.rules.catalogue import CATALOGUE


def json_float(x: float, digits: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), digits)


def _rule_figures(scored: ScoredSet, rule: str) -> dict[str, Any]:
    rates = scored.rates(rule)
    return {
        "true_accept_rate": json_float(rates.tar),
        "false_accept_rate": json_float(rates.far),
        "true_accepts": rates.true_accept,
        "false_accepts": rates.false_accept,
        "roc_auc": json_float(scored.auc(rule)),
    }


def figures(scored: ScoredSet, rule: str | None = None) -> dict[str, Any]:
    """The headline numbers of a (sub)set at its thresholds, for ``rule`` (default: its current rule).

    Counts, TAR/FAR/FRR and the AUC of ``rule``; under the fused rule the
    robust rule's figures under ``robust``; the original note's rule under
    ``original`` where it was scored (and is not ``rule`` itself).
    """
    name = scored.rule if rule is None else rule
    chosen = rules.get(name)
    rates = scored.rates(name)
    out: dict[str, Any] = {
        "rule": name,
        "pairs": len(scored),
        "processed": int(scored.ok.sum()),
        **rates.to_json(),
        "false_reject_rate": json_float(rates.frr),
        "roc_auc": json_float(scored.auc(name)),
    }
    for companion in chosen.companions:
        if scored.available(companion):
            out[companion] = _rule_figures(scored, companion)
    for other in comparison_rules(scored, name):
        figures_of = _rule_figures(scored, other)
        out[other] = {k: figures_of[k] for k in ("true_accept_rate", "false_accept_rate", "roc_auc")}
    return out


def comparison_rules(scored: ScoredSet, rule: str) -> tuple[str, ...]:
    """The catalogue's comparison-only rules (a profile may not choose them) that ``scored`` holds, but ``rule``."""
    return tuple(
        name for name, entry in CATALOGUE.items() if not entry.default_ok and name != rule and scored.available(name)
    )


def per_kind(scored: ScoredSet, rule: str | None = None) -> dict[str, dict[str, Any]]:
    """The report's one per-kind shape: ``{kind: row}``, kinds sorted, processed pairs only.

    A row has ``kind``, ``label`` (the kind's label, None when it mixes
    both), ``labels`` (sorted), ``pairs``, ``accepted`` and ``accept_rate``
    of ``rule`` (default: the current rule); for a geometric rule
    ``median_inliers`` and, where the set has them, ``median_similarity``;
    under the fused rule ``robust_accept_rate``; ``original_accept_rate``
    where the note's rule was scored too.
    """
    name = scored.rule if rule is None else rule
    chosen = rules.get(name)
    ok = scored.ok
    kinds = np.array([p.kind for p in scored.pairs])
    accepted = scored.accepted_by(name)
    others = {r: scored.accepted_by(r) for r in (*chosen.companions, *comparison_rules(scored, name))}
    rows: dict[str, dict[str, Any]] = {}
    for kind in sorted(set(kinds[ok].tolist())):
        m = ok & (kinds == kind)
        labels = sorted({int(y) for y in scored.labels[m]})
        row: dict[str, Any] = {
            "kind": str(kind),
            "label": labels[0] if len(labels) == 1 else None,
            "labels": labels,
            "pairs": int(m.sum()),
            "accepted": int(accepted[m].sum()),
            "accept_rate": round(float(accepted[m].mean()), 4),
        }
        if chosen.aligns:
            row["median_inliers"] = float(np.median(scored.inliers[m]))
        if chosen.aligns and scored.similarity is not None:
            sims = scored.similarities[m & scored.has_similarity]
            row["median_similarity"] = round(float(np.median(sims)), 3) if sims.size else None
        for other, verdicts in others.items():
            row[f"{other}_accept_rate"] = round(float(verdicts[m].mean()), 4)
        rows[str(kind)] = row
    return rows


@dataclass(frozen=True)
class Histogram:
    """Counts of a score per bin, for same and different pairs."""

    edges: np.ndarray
    same: np.ndarray
    different: np.ndarray


def score_histogram(scored: ScoredSet, n_bins: int = 30) -> Histogram:
    """Histogram of the inlier score (bins even on a ``log1p`` scale: the scores span 0 to thousands)."""
    ok = scored.ok
    scores = scored.inliers[ok]
    top = max(float(scores.max()) if scores.size else 1.0, 1.0)
    edges = np.unique(np.round(np.expm1(np.linspace(0.0, np.log1p(top + 1), n_bins + 1))))
    same = np.histogram(scores[scored.labels[ok] == 1], edges)[0]
    different = np.histogram(scores[scored.labels[ok] == 0], edges)[0]
    return Histogram(edges, same, different)


def similarity_histogram(scored: ScoredSet, n_bins: int = 25) -> Histogram | None:
    """Histogram of the global similarity (even bins from the lowest similarity, or 0, to 1); None without any."""
    m = scored.ok & scored.has_similarity
    if not m.any():
        return None
    sims = scored.similarities[m]
    edges = np.linspace(min(float(sims.min()), 0.0), 1.0, n_bins + 1)
    labels = scored.labels[m]
    return Histogram(edges, np.histogram(sims[labels == 1], edges)[0], np.histogram(sims[labels == 0], edges)[0])


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorCase:
    """A pair the current rule got wrong at the current thresholds.

    ``wrongness`` orders them: how far the pair is on the wrong side of the
    rule, relative to its threshold.  Robust rule: inliers above (false
    accept) or below (false reject) ``min_inliers``.  Fused rule: its score
    ``log(1 + inliers) + w * similarity`` above or below ``fused_threshold``;
    a false accept on geometry alone by how far ``log(1 + inliers)`` passes
    that count, a false reject held by the geometric minimum by how far its
    inliers fall short of it.
    """

    position: int
    run_index: int
    pair: LabelledPair
    kind: str  # "false accept" | "false reject"
    inliers: float
    area_fraction: float
    wrongness: float
    reason: str
    similarity: float | None = None


def error_cases(scored: ScoredSet) -> tuple[list[ErrorCase], list[ErrorCase]]:
    """False accepts and false rejects of the current rule, each sorted most wrong first."""
    signed = scored.margins()
    accepted, ok, index = scored.accepted, scored.ok, scored._index()
    fa: list[ErrorCase] = []
    fr: list[ErrorCase] = []
    for i in np.flatnonzero(ok & (accepted != scored.labels.astype(bool))):
        false_accept = bool(accepted[i])
        wrongness = max(float(signed[i]), 0.0) if false_accept else max(-float(signed[i]), 0.0)
        sim = float(scored.similarities[i]) if scored.has_similarity[i] else None
        case = ErrorCase(
            int(i),
            int(index[i]),
            scored.pairs[i],
            "false accept" if false_accept else "false reject",
            float(scored.inliers[i]),
            float(scored.area_fraction[i]),
            wrongness,
            scored.reason(int(i)),
            sim,
        )
        (fa if false_accept else fr).append(case)
    key = lambda c: (-c.wrongness, c.pair.ref, c.pair.query)  # noqa: E731
    return sorted(fa, key=key), sorted(fr, key=key)


CSV_COLUMNS = (
    "ref",
    "query",
    "label",
    "kind",
    "scene",
    "part",
    "inliers",
    "area_fraction",
    "similarity",
    "fused_score",
    "rule",
    "accepted",
    "robust_accepted",
    "original_area_px",
    "original_accepted",
    "reason",
)


def scores_csv(scored: ScoredSet, split: Split | None = None) -> str:
    """Per-pair scores and verdicts at the current thresholds, as CSV text (one header row).

    ``accepted`` and ``reason`` are the current rule's (``rule``: ``robust``
    for a pair the fused rule cannot weigh); ``similarity`` and
    ``fused_score`` (``log(1 + inliers) + w * similarity``) are empty without
    a similarity; ``robust_accepted`` and the original rule's columns are the
    comparison points.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    part = np.array(["all"] * len(scored), dtype=object)
    if split is not None:
        part[split.train], part[split.holdout] = "train", "holdout"
    accepted, robust = scored.accepted, scored.accepted_by("robust")
    original = scored.accepted_by("original") if scored.available("original") else None
    has_sim, raw = scored.has_similarity, scored.raw_fused_scores()
    rule = scored.rule
    for i, p in enumerate(scored.pairs):
        writer.writerow(
            [
                p.ref,
                p.query,
                p.label,
                p.kind,
                p.scene,
                part[i],
                f"{scored.inliers[i]:g}",
                f"{scored.area_fraction[i]:.5f}",
                f"{scored.similarities[i]:.4f}" if has_sim[i] else "",
                f"{raw[i]:.4f}" if has_sim[i] else "",
                rule,
                int(accepted[i]),
                int(robust[i]),
                "" if scored.original_area is None else f"{scored.original_area[i]:.1f}",
                "" if original is None else int(original[i]),
                scored.reason(i),
            ]
        )
    return buffer.getvalue()
