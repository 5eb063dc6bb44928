"""Run a rule over a labelled folder of photo pairs and report accuracy.

A data folder holds ``pairs.csv`` with columns ``ref,query,label,kind``
(optionally ``source,H``); paths are relative to the folder.  Features are
computed once per image and kNN matches once per pair; deciding with other
thresholds then only reruns the cheap step (:func:`decide_all`).
"""

from __future__ import annotations

import csv
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from vision.decision import RULES, Thresholds, decide_original
from vision.errors import ImageInputError
from vision.features import Features, FeatureSettings
from vision.imageio import decode_image
from vision.metrics import accept_rates, roc_auc
from vision.original import original_evidence
from vision.pipeline import PairMatch, decide_learned_pair, decide_pair, match_features, prepare_photo

REQUIRED_COLUMNS = ("ref", "query", "label", "kind")
T = TypeVar("T")


@dataclass(frozen=True)
class LabelledPair:
    """One row of ``pairs.csv``."""

    ref: str
    query: str
    label: int
    kind: str

    @property
    def scene(self) -> str:
        """The reference's folder, used to hold out whole scenes."""
        return str(Path(self.ref).parent)


def read_pairs(data_dir: str | Path) -> list[LabelledPair]:
    """Parse ``data_dir/pairs.csv``; ``ValueError`` with the line number on bad rows."""
    path = Path(data_dir) / "pairs.csv"
    if not path.is_file():
        raise ValueError(f"{path} not found: a data folder needs a pairs.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} lacks column(s) {', '.join(missing)}")
        pairs = []
        for line, row in enumerate(reader, start=2):
            if row["label"] not in ("0", "1"):
                raise ValueError(f"{path}:{line}: label must be 0 or 1, got {row['label']!r}")
            pairs.append(LabelledPair(row["ref"], row["query"], int(row["label"]), row["kind"] or "unknown"))
    if not pairs:
        raise ValueError(f"{path} has no pairs")
    return pairs


@dataclass
class PairOutcome:
    """What one rule said about one pair."""

    pair: LabelledPair
    accepted: bool = False
    score: float = 0.0
    reason: str = ""
    error: str | None = None
    latency_ms: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def progress(items: Iterable[T], total: int, label: str, stream=None) -> Iterator[T]:
    """Yield ``items`` while drawing a one-line progress bar with ETA on ``stream`` (stderr)."""
    stream = stream or sys.stderr
    start = time.perf_counter()
    done = 0
    for item in items:
        yield item
        done += 1
        elapsed = time.perf_counter() - start
        eta = elapsed / done * (total - done)
        bar = "#" * int(30 * done / max(total, 1))
        stream.write(f"\r{label} [{bar:<30}] {done}/{total} {elapsed:5.1f}s eta {eta:5.1f}s")
        stream.flush()
    stream.write("\n")
    stream.flush()


class FeatureCache:
    """Features of every image of a data folder, computed once per settings.

    With ``embed`` (the fused rule) each image's global descriptor is computed
    once too and kept in its features' ``embedding``.
    """

    def __init__(
        self, data_dir: str | Path, settings: FeatureSettings, embed: bool = False, learned: bool = False
    ) -> None:
        self.data_dir = Path(data_dir)
        self.settings = settings
        self.embed = embed or learned
        self.learned = learned
        self._features: dict[str, Features | str] = {}
        self.prepare_ms: dict[str, float] = {}

    def compute(self, paths: Iterable[str], workers: int = 2, show_progress: bool = True) -> None:
        """Compute the missing features, in parallel threads (OpenCV releases the GIL)."""
        todo = sorted({p for p in paths if p not in self._features})
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = pool.map(self._compute_one, todo)
            if show_progress:
                results = progress(results, len(todo), "features")
            for path, value in zip(todo, results):
                self._features[path] = value

    def _compute_one(self, rel: str) -> Features | str:
        try:
            data = (self.data_dir / rel).read_bytes()
            photo = prepare_photo(data, self.settings, embed=self.embed, learned=self.learned)
            self.prepare_ms[rel] = sum(photo.timings.values())
            return photo.features
        except (OSError, ImageInputError) as exc:
            return f"{rel}: {exc}"

    def get(self, rel: str) -> Features | str:
        """Features, or the error text when the image could not be used."""
        if rel not in self._features:
            self.compute([rel], workers=1, show_progress=False)
        return self._features[rel]


def match_all(
    cache: FeatureCache, pairs: list[LabelledPair], workers: int = 2, show_progress: bool = True
) -> list[PairMatch | str]:
    """The expensive step for every pair: features (cached per image) and kNN matches.

    Returns, per pair, the matches or the error text of an unusable image.
    """
    cache.compute([p.ref for p in pairs] + [p.query for p in pairs], workers, show_progress)

    def one(pair: LabelledPair) -> PairMatch | str:
        ref, query = cache.get(pair.ref), cache.get(pair.query)
        if isinstance(ref, str) or isinstance(query, str):
            return ref if isinstance(ref, str) else str(query)
        return match_features(ref, query)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(one, pairs)
        if show_progress:
            results = progress(results, len(pairs), "matches")
        return list(results)


def decide_all(
    pairs: list[LabelledPair], matches: list[PairMatch | str], thresholds: Thresholds, rule: str = "robust"
) -> list[PairOutcome]:
    """The cheap step for every pair: ``robust`` (default) or ``fused`` evidence and verdict.

    The fused rule's score is its fused score where the geometric evidence
    passes (plausible homography, enough inliers, outline area), else 0; it
    needs the features' embeddings (``FeatureCache(..., embed=True)``).
    """
    outcomes = []
    for pair, match in zip(pairs, matches):
        if isinstance(match, str):
            outcomes.append(PairOutcome(pair, error=match))
            continue
        start = time.perf_counter()
        if rule == "learned":
            evidence, outcome, _ = decide_learned_pair(match, None, thresholds)
            verdict = outcome.verdict
        else:
            evidence, verdict, _ = decide_pair(match, thresholds, rule)
        latency = match.match_ms + (time.perf_counter() - start) * 1000
        details = evidence.summary()
        score = evidence.score
        if verdict.extra.get("rule") == "learned":
            keys = ("similarity", "akaze_inliers", "xfeat_inliers", "learned_score", "decided_by")
            details.update({k: verdict.extra[k] for k in keys})
            strong = (
                max(verdict.extra["akaze_inliers"], verdict.extra["xfeat_inliers"]) >= thresholds.learned_min_inliers
            )
            score = float(verdict.extra["learned_score"]) if strong else 0.0
        if verdict.extra.get("rule") == "fused":
            details.update({k: verdict.extra[k] for k in ("similarity", "fused_score", "decided_by")})
            geometric = verdict.extra["decided_by"] in ("geometry", "similarity", "fused_score")
            score = float(verdict.extra["fused_score"]) if geometric else 0.0
        outcomes.append(PairOutcome(pair, verdict.result, score, verdict.reason, None, latency, details))
    return outcomes


def original_all(
    data_dir: str | Path,
    pairs: list[LabelledPair],
    thresholds: Thresholds,
    workers: int = 2,
    show_progress: bool = True,
) -> list[PairOutcome]:
    """The original note's rule on every pair, at the images' full resolution."""
    root = Path(data_dir)

    def one(pair: LabelledPair) -> PairOutcome:
        start = time.perf_counter()
        try:
            ref = decode_image((root / pair.ref).read_bytes()).bgr
            query = decode_image((root / pair.query).read_bytes()).bgr
        except (OSError, ImageInputError) as exc:
            return PairOutcome(pair, error=str(exc))
        evidence = original_evidence(ref, query)
        verdict = decide_original(evidence, thresholds)
        latency = (time.perf_counter() - start) * 1000
        return PairOutcome(pair, verdict.result, evidence.score, verdict.reason, None, latency, verdict.extra)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(one, pairs)
        if show_progress:
            results = progress(results, len(pairs), "original")
        return list(results)


def summarise(outcomes: list[PairOutcome], rule: str, thresholds: Thresholds) -> dict[str, Any]:
    """The evaluation report: counts, rates, AUC, per-kind accept rates, failures, latency."""
    ok = [o for o in outcomes if o.error is None]
    labels = [o.pair.label for o in ok]
    rates = accept_rates([o.accepted for o in ok], labels)
    kinds: dict[str, list[PairOutcome]] = {}
    for o in ok:
        kinds.setdefault(o.pair.kind, []).append(o)
    per_kind = {
        kind: {
            "labels": sorted({o.pair.label for o in items}),
            "pairs": len(items),
            "accept_rate": round(sum(o.accepted for o in items) / len(items), 4),
        }
        for kind, items in sorted(kinds.items())
    }
    auc = roc_auc([o.score for o in ok], labels)
    return {
        "rule": rule,
        "thresholds": thresholds.to_dict(),
        "pairs": len(outcomes),
        "processed": len(ok),
        **rates.to_json(),
        "roc_auc": None if auc != auc else round(auc, 4),
        "per_kind": per_kind,
        "failed": [{"ref": o.pair.ref, "query": o.pair.query, "error": o.error} for o in outcomes if o.error],
        "median_latency_ms": round(statistics.median([o.latency_ms for o in ok]), 2) if ok else None,
    }


def evaluate_folder(
    data_dir: str | Path,
    thresholds: Thresholds,
    rule: str | None = "robust",
    workers: int = 2,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Evaluate ``rule`` (``robust``, ``fused`` or ``original``; None: the profile's) on a data folder.

    See :func:`summarise`; the fused rule's per-pair details add the similarity.
    """
    rule = rule or thresholds.rule
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    pairs = read_pairs(data_dir)
    if rule == "original":
        outcomes = original_all(data_dir, pairs, thresholds, workers, show_progress)
    else:
        cache = FeatureCache(data_dir, thresholds.feature_settings, embed=rule == "fused", learned=rule == "learned")
        outcomes = decide_all(pairs, match_all(cache, pairs, workers, show_progress), thresholds, rule)
        for o in outcomes:  # a verification also decodes the query and extracts its features (+ embedding)
            o.latency_ms += cache.prepare_ms.get(o.pair.query, 0.0)
    return summarise(outcomes, rule, thresholds)
