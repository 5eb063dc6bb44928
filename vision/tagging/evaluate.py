"""Measure a tagger on a labelled folder (``tags.csv``: ``image,labels,source``)."""

from __future__ import annotations

import csv
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from vision.core.errors import ImageInputError
from vision.image.imageio import read_image_file
from vision.tagging.base import DEFAULT_MIN_CONFIDENCE, Concept, Tagger, TaggerError, normalise_tag

TOP_K = 5


def read_tags_csv(data_dir: Path) -> list[tuple[Path, list[str]]]:
    """Rows of ``data_dir/tags.csv`` as (absolute image path, labels).

    Parameters
    ----------
    data_dir : Path
        Folder holding ``tags.csv``; image paths are relative to it.

    Returns
    -------
    list of (Path, list of str)
        Labels split on ``|`` and stripped; rows without labels are skipped.
    """
    rows = []
    with (Path(data_dir) / "tags.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            labels = [x.strip() for x in (row.get("labels") or "").split("|") if x.strip()]
            if row.get("image") and labels:
                rows.append((Path(data_dir) / row["image"], labels))
    return rows


def _names_of(tagger: Tagger, concept: Concept) -> frozenset[str]:
    """Normalised names a predicted concept answers to (all synonyms of a class)."""
    synonyms = getattr(tagger, "synonyms", None)
    names = synonyms(concept.name) if synonyms is not None else frozenset()
    return names | {normalise_tag(concept.name)}


def _ranked(tagger: Tagger, image: np.ndarray) -> list[Concept]:
    """Leaf classes when the tagger has them (``classify``), else its concepts."""
    classify = getattr(tagger, "classify", None)
    return classify(image, TOP_K) if classify is not None else tagger.concepts(image, TOP_K)


def evaluate_image(tagger: Tagger, image: np.ndarray, labels: list[str], min_confidence: float) -> dict[str, Any]:
    """Rank, check and match one decoded photo.

    Returns
    -------
    dict
        ``top1``/``top5`` (bool), ``matched`` (own label found via ``match``),
        ``score``, ``concept``, ``predicted`` (top-5 names) and ``latency_ms``.
    """
    start = time.perf_counter()
    ranked = _ranked(tagger, image)
    found = [tagger.match(image, label, min_confidence) for label in labels]
    latency = (time.perf_counter() - start) * 1000.0
    wanted = {normalise_tag(x) for x in labels}
    hits = [bool(_names_of(tagger, c) & wanted) for c in ranked]
    best = max(found, key=lambda m: (m.matched, m.score))
    return {
        "top1": bool(hits[:1] and hits[0]),
        "top5": any(hits),
        "matched": best.matched,
        "score": round(best.score, 4),
        "concept": best.concept,
        "predicted": [c.to_dict() for c in ranked],
        "latency_ms": round(latency, 2),
    }


def evaluate_tags(
    data_dir: Path, tagger: Tagger, min_confidence: float = DEFAULT_MIN_CONFIDENCE, progress: bool = True
) -> dict[str, Any]:
    """Top-1/top-5 accuracy, own-label match rate and latency of a tagger.

    Parameters
    ----------
    data_dir : Path
        Folder with ``tags.csv`` (``image,labels,source``; labels separated by
        ``|``; paths relative to the folder).
    tagger : Tagger
        Backend to measure.  A label counts as a hit when it equals (case-
        and plural-insensitively) a predicted class name or, for the local
        tagger, any synonym of that ImageNet class.
    min_confidence : float
        Threshold for ``match``.
    progress : bool
        Print one progress line per image to stderr.

    Returns
    -------
    dict
        ``backend``, ``images``, ``evaluated``, ``top1_accuracy``,
        ``top5_accuracy``, ``match_rate``, ``median_latency_ms``,
        ``load_seconds`` (local tagger), ``failures`` (image, error) and
        ``results`` (one dict per evaluated image).
    """
    rows = read_tags_csv(data_dir)
    results, failures = [], []
    for n, (path, labels) in enumerate(rows, 1):
        outcome = _evaluate_path(tagger, path, labels, min_confidence)
        if "error" in outcome:
            failures.append(outcome)
        else:
            results.append(outcome)
        if progress:
            print(f"[{n}/{len(rows)}] {path.name}: {outcome.get('error') or _short(outcome)}", file=sys.stderr)
    return _summary(tagger, rows, results, failures, min_confidence)


def _evaluate_path(tagger: Tagger, path: Path, labels: list[str], min_confidence: float) -> dict[str, Any]:
    """Evaluate one file, turning unreadable images and tagger errors into failures."""
    try:
        image = read_image_file(path)
    except ImageInputError as exc:
        return {"image": str(path), "labels": labels, "error": str(exc)}
    try:
        return {"image": str(path), "labels": labels, **evaluate_image(tagger, image, labels, min_confidence)}
    except TaggerError as exc:
        return {"image": str(path), "labels": labels, "error": exc.cause}


def _short(outcome: dict[str, Any]) -> str:
    """One-line progress text for an evaluated image."""
    top = outcome["predicted"][0]["name"] if outcome["predicted"] else "-"
    return f"top1={top} top5={'ok' if outcome['top5'] else 'miss'} matched={outcome['matched']}"


def _summary(
    tagger: Tagger, rows: list, results: list[dict], failures: list[dict], min_confidence: float
) -> dict[str, Any]:
    """Aggregate per-image outcomes."""
    n = len(results)

    def rate(key: str) -> float | None:
        return round(sum(r[key] for r in results) / n, 4) if n else None

    latencies = [r["latency_ms"] for r in results]
    return {
        "backend": getattr(tagger, "name", type(tagger).__name__),
        "min_confidence": min_confidence,
        "images": len(rows),
        "evaluated": n,
        "top1_accuracy": rate("top1"),
        "top5_accuracy": rate("top5"),
        "match_rate": rate("matched"),
        "median_latency_ms": round(statistics.median(latencies), 2) if latencies else None,
        "load_seconds": getattr(tagger, "load_seconds", None),
        "failures": [{"image": f["image"], "error": f["error"]} for f in failures],
        "results": results,
    }
