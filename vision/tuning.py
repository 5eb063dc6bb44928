"""The tuning lab's core: score a labelled set once, re-decide it instantly, recommend thresholds.

Three layers of cache, from expensive to free:

1. :class:`TuningRun` holds, per pair, the cached :class:`vision.pipeline.PairMatch`
   (decode, AKAZE features, kNN matches) for one :class:`FeatureSettings`, the
   similarity of the two photos' global descriptors (the fused rule's second
   number, :mod:`vision.fusion`), and the original note's score (its pipeline at
   full resolution, which depends on no threshold at all).  Building it is the only slow step; it runs in threads
   (OpenCV releases the GIL) and reports progress through a callback.
2. :meth:`TuningRun.evidence` keeps the :class:`MatchEvidence` of every pair per
   geometry key ``(ratio, ransac_method, ransac_reproj_px)``: changing one of these
   reruns the ratio test and MAGSAC over the cached matches (about a second for 273 pairs).
3. :class:`ScoredSet` is the evidence reduced to arrays (inliers, outline area,
   similarity, labels); the decision thresholds (``min_inliers``,
   ``min_area_fraction``, the fused rule's ``fused_*``, ``original_min_area_px``)
   are applied to those arrays, so a slider move costs nothing.

Every figure follows the thresholds' current rule (``thresholds.rule``:
``fused`` or ``robust``); the original note's rule is the comparison point.

No Streamlit here: the page and the ``python -m vision tune`` command share it.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from vision.decision import MatchEvidence, Thresholds, decide_verification, load_profile, save_profile
from vision.evaluate import FeatureCache, LabelledPair, PairOutcome, original_all
from vision.features import FeatureSettings
from vision.fusion import (
    apply_recommendation,
    fused_accepts,
    fused_evidence,
    fused_score,
    geometry_alone_inliers,
    recommend_fused,
)
from vision.metrics import Rates, RocCurve, accept_rates, roc_auc, roc_curve, threshold_for_far
from vision.pipeline import PairMatch, evaluate_match, match_features, pair_similarity
from vision.tuning_data import LabelledSet, LabelledSetError, open_folder

T = TypeVar("T")
R = TypeVar("R")
GeometryKey = tuple[float, str, float]

#: Area fractions the recommendation may choose from (besides the base profile's).
AREA_FRACTION_GRID = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05)
#: The sidebar's minimum-inliers slider range; a recommendation stays inside it.
MIN_INLIERS_RANGE = (4, 200)
DEFAULT_WORKERS = 2
#: The fused score given to pairs that geometry alone accepts (above any ``log(1 + n) + w * s``).
GEOMETRY_SCORE = 100.0


# --------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where a run stands, for a progress bar.

    Attributes
    ----------
    stage : str
        ``features``, ``matches``, ``original`` or ``geometry``.
    stage_index, n_stages : int
        1-based position of the stage among the run's stages.
    done, total : int
        Items of this stage finished and to do.
    elapsed_s : float
        Seconds since the stage began.
    """

    stage: str
    stage_index: int
    n_stages: int
    done: int
    total: int
    elapsed_s: float

    @property
    def fraction(self) -> float:
        """Overall fraction done, counting each stage as an equal share."""
        within = self.done / self.total if self.total else 1.0
        return min(1.0, (self.stage_index - 1 + within) / max(self.n_stages, 1))

    @property
    def eta_s(self) -> float:
        """Seconds left in this stage at the rate so far (``nan`` before the first item)."""
        if self.done == 0:
            return float("nan")
        return self.elapsed_s / self.done * (self.total - self.done)

    def text(self) -> str:
        """``features (1/3): 120/300, about 14 s left``."""
        eta = "" if math.isnan(self.eta_s) else f", about {self.eta_s:.0f} s left"
        return f"{self.stage} ({self.stage_index}/{self.n_stages}): {self.done}/{self.total}{eta}"


ProgressFn = Callable[[Progress], None]


def _parallel(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    stage: tuple[str, int, int],
    on_progress: ProgressFn | None,
) -> list[R]:
    """``[fn(x) for x in items]`` in a thread pool, reporting each completion in the caller's thread."""
    results: list[Any] = [None] * len(items)
    start = time.perf_counter()
    name, index, n_stages = stage
    if on_progress:
        on_progress(Progress(name, index, n_stages, 0, len(items), 0.0))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            if on_progress:
                on_progress(Progress(name, index, n_stages, done, len(items), time.perf_counter() - start))
    return results


# --------------------------------------------------------------------------
# The run: expensive step once, geometry per key, decisions free
# --------------------------------------------------------------------------


def geometry_key(thresholds: Thresholds) -> GeometryKey:
    """The thresholds that change the evidence (ratio test and homography fit)."""
    return (float(thresholds.ratio), thresholds.ransac_method, float(thresholds.ransac_reproj_px))


@dataclass(frozen=True)
class OriginalScores:
    """The original note's rule on every pair: outline area in px² (0 where it would crash)."""

    area_px: np.ndarray
    errors: tuple[str | None, ...]
    seconds: float

    @classmethod
    def from_outcomes(cls, outcomes: list[PairOutcome], seconds: float) -> OriginalScores:
        return cls(np.array([o.score for o in outcomes], float), tuple(o.error for o in outcomes), seconds)


def score_original(
    labelled: LabelledSet,
    workers: int = DEFAULT_WORKERS,
    on_progress: ProgressFn | None = None,
    stage: tuple[int, int] = (1, 1),
) -> OriginalScores:
    """Run the note's pipeline (full resolution) on every pair, in threads."""
    start = time.perf_counter()
    base = Thresholds()

    def one(pair: LabelledPair) -> PairOutcome:
        return original_all(labelled.root, [pair], base, workers=1, show_progress=False)[0]

    outcomes = _parallel(one, labelled.pairs, workers, ("original", *stage), on_progress)
    return OriginalScores.from_outcomes(outcomes, time.perf_counter() - start)


@dataclass
class TuningRun:
    """Cached matches of every pair of a labelled set for one feature setting.

    Build it with :meth:`build`; then :meth:`scored` gives a :class:`ScoredSet`
    for any thresholds with the same feature settings.

    Attributes
    ----------
    labelled : LabelledSet
    settings : FeatureSettings
    matches : list[PairMatch | str]
        Per pair, the kNN matches or why an image could not be used.
    original : OriginalScores or None
    similarity : np.ndarray or None
        ``(N,)`` cosine similarity of each pair's global descriptors (``nan``
        for an unusable pair); None when the run computed no descriptors.
    timings_s : dict[str, float]
        Seconds spent per stage (``features``, ``matches``, ``original``, ``geometry``).
    max_geometry_keys : int
        How many evidence sets (ratio/RANSAC settings) to keep.
    """

    labelled: LabelledSet
    settings: FeatureSettings
    matches: list[PairMatch | str]
    original: OriginalScores | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    similarity: np.ndarray | None = None
    workers: int = DEFAULT_WORKERS
    max_geometry_keys: int = 8
    _evidence: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def pairs(self) -> list[LabelledPair]:
        return self.labelled.pairs

    @classmethod
    def build(
        cls,
        labelled: LabelledSet,
        settings: FeatureSettings,
        workers: int = DEFAULT_WORKERS,
        on_progress: ProgressFn | None = None,
        original: OriginalScores | bool = True,
        embed: bool = True,
    ) -> TuningRun:
        """Compute features and global descriptors (once per image) and kNN matches (once per pair), in threads.

        Parameters
        ----------
        original : OriginalScores or bool
            Scores of the note's rule already computed for this set (they do not
            depend on the settings), ``True`` to compute them, ``False`` to skip.
        embed : bool
            Compute each image's global descriptor too (the fused rule's
            similarity); without it every figure follows the robust rule.
        """
        n_stages = 3 if original is True else 2
        cache = FeatureCache(labelled.root, settings, embed=embed)
        images = sorted({p.ref for p in labelled.pairs} | {p.query for p in labelled.pairs})
        start = time.perf_counter()
        _parallel(cache.get, images, workers, ("features", 1, n_stages), on_progress)
        timings = {"features": time.perf_counter() - start}
        start = time.perf_counter()

        def one(pair: LabelledPair) -> PairMatch | str:
            ref, query = cache.get(pair.ref), cache.get(pair.query)
            if isinstance(ref, str) or isinstance(query, str):
                return ref if isinstance(ref, str) else str(query)
            return match_features(ref, query)

        matches = _parallel(one, labelled.pairs, workers, ("matches", 2, n_stages), on_progress)
        timings["matches"] = time.perf_counter() - start
        similarity = pair_similarities(matches) if embed else None
        if original is True:
            original = score_original(labelled, workers, on_progress, (3, 3))
        if isinstance(original, OriginalScores):
            timings["original"] = original.seconds
        return cls(labelled, settings, matches, original or None, timings, similarity, workers)

    def evidence(self, thresholds: Thresholds, on_progress: ProgressFn | None = None) -> list[MatchEvidence | None]:
        """Per pair, the ratio test + homography evidence (None for unusable pairs), cached per geometry key."""
        self._check_settings(thresholds)
        key = geometry_key(thresholds)
        with self._lock:
            if key in self._evidence:
                self._evidence.move_to_end(key)
                return self._evidence[key]
        start = time.perf_counter()

        def one(match: PairMatch | str) -> MatchEvidence | None:
            return None if isinstance(match, str) else evaluate_match(match, thresholds)

        evidence = _parallel(one, self.matches, self.workers, ("geometry", 1, 1), on_progress)
        with self._lock:
            self._evidence[key] = evidence
            while len(self._evidence) > self.max_geometry_keys:
                self._evidence.popitem(last=False)
            self.timings_s["geometry"] = time.perf_counter() - start
        return evidence

    def has_evidence(self, thresholds: Thresholds) -> bool:
        """Whether :meth:`evidence` for these thresholds is already cached (instant)."""
        return geometry_key(thresholds) in self._evidence

    def scored(self, thresholds: Thresholds, on_progress: ProgressFn | None = None) -> ScoredSet:
        """The set's scores under ``thresholds`` (decisions applied lazily by :class:`ScoredSet`)."""
        evidence = self.evidence(thresholds, on_progress)
        errors = tuple(m if isinstance(m, str) else None for m in self.matches)
        return ScoredSet.from_evidence(self.pairs, evidence, errors, thresholds, self.original, self.similarity)

    def _check_settings(self, thresholds: Thresholds) -> None:
        if thresholds.feature_settings != self.settings:
            raise ValueError(
                f"this run was computed with {self.settings}; {thresholds.feature_settings} needs a new run"
            )


def pair_similarities(matches: Sequence[PairMatch | str]) -> np.ndarray:
    """Per pair, the global descriptors' cosine similarity (``nan`` without both descriptors)."""
    out = np.full(len(matches), np.nan)
    for i, match in enumerate(matches):
        if not isinstance(match, str):
            sim = pair_similarity(match)
            out[i] = np.nan if sim is None else sim
    return out


def run_folder(
    data_dir: str | Path,
    thresholds: Thresholds = Thresholds(),
    workers: int = DEFAULT_WORKERS,
    on_progress: ProgressFn | None = None,
    original: bool = True,
    embed: bool = True,
) -> TuningRun:
    """:meth:`TuningRun.build` on a folder (``LabelledSetError`` when it is not a labelled set)."""
    return TuningRun.build(open_folder(data_dir), thresholds.feature_settings, workers, on_progress, original, embed)


# --------------------------------------------------------------------------
# Scored set: arrays, decisions, metrics
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredSet:
    """Every pair's evidence reduced to arrays, with the thresholds to decide by.

    The verdicts, rates, ROC, per-kind table and errors follow the current
    rule (:attr:`rule`): ``fused`` when the thresholds say so and the set has
    similarities, else ``robust``.  Under ``fused`` a pair without a
    similarity (a photo without a global descriptor) is decided by the robust
    rule, as :func:`vision.pipeline.decide_pair` does.

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
    thresholds : Thresholds
    evidence : tuple[MatchEvidence | None, ...]
        For the reasons and the drawings (empty in sets built from arrays).
    index : np.ndarray
        ``(N,)`` position of each pair in the run (subsets keep it).
    similarity : np.ndarray or None
        ``(N,)`` float: cosine similarity of the pair's global descriptors
        (``nan`` where one is missing); None when the run computed none.
    """

    pairs: tuple[LabelledPair, ...]
    labels: np.ndarray
    inliers: np.ndarray
    area_fraction: np.ndarray
    errors: tuple[str | None, ...]
    original_area: np.ndarray | None
    thresholds: Thresholds
    evidence: tuple[MatchEvidence | None, ...] = ()
    index: np.ndarray | None = None
    similarity: np.ndarray | None = None

    @classmethod
    def from_evidence(
        cls,
        pairs: Sequence[LabelledPair],
        evidence: Sequence[MatchEvidence | None],
        errors: Sequence[str | None],
        thresholds: Thresholds,
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
        thresholds: Thresholds = Thresholds(),
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

    def __len__(self) -> int:
        return len(self.pairs)

    def with_thresholds(self, thresholds: Thresholds) -> ScoredSet:
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
        """The rule the figures follow: ``thresholds.rule``, or ``robust`` when the set has no similarities."""
        return "fused" if self.thresholds.rule == "fused" and self.similarity is not None else "robust"

    @property
    def has_similarity(self) -> np.ndarray:
        """``(N,)`` bool: pairs with a similarity (the fused rule can weigh them)."""
        if self.similarity is None:
            return np.zeros(len(self), bool)
        return np.isfinite(self.similarity)

    def _similarity0(self) -> np.ndarray:
        return np.zeros(len(self)) if self.similarity is None else np.nan_to_num(self.similarity, nan=0.0)

    def effective_scores(self, min_area_fraction: float | None = None) -> np.ndarray:
        """Inliers where the outline is large enough, else 0: the robust rule accepts iff this >= ``min_inliers``."""
        area = self.thresholds.min_area_fraction if min_area_fraction is None else min_area_fraction
        return np.where(self.area_fraction >= area, self.inliers, 0.0)

    @property
    def robust_accepted(self) -> np.ndarray:
        """``(N,)`` bool: the robust rule's verdicts at the current thresholds."""
        return (self.effective_scores() >= self.thresholds.min_inliers) & self.ok

    @property
    def fused_accepted(self) -> np.ndarray | None:
        """``(N,)`` bool: the fused rule's verdicts (:func:`vision.fusion.fused_accepts`); None without similarities.

        Pairs without a similarity get the robust rule's verdict (the fallback of
        :func:`vision.pipeline.decide_pair`).
        """
        if self.similarity is None:
            return None
        fused = fused_accepts(self.inliers, self._similarity0(), self.thresholds, self.area_fraction)
        return np.where(self.has_similarity, fused, self.robust_accepted) & self.ok

    @property
    def accepted(self) -> np.ndarray:
        """``(N,)`` bool: the current rule's verdicts at the current thresholds."""
        fused = self.fused_accepted if self.rule == "fused" else None
        return self.robust_accepted if fused is None else fused

    @property
    def original_accepted(self) -> np.ndarray | None:
        """The note's verdicts: outline area > ``original_min_area_px``."""
        if self.original_area is None:
            return None
        return (self.original_area > self.thresholds.original_min_area_px) & self.ok

    def raw_fused_scores(self) -> np.ndarray:
        """``log(1 + inliers) + fused_weight * similarity`` per pair, without the rule's gates."""
        return fused_score(self.inliers, self._similarity0(), self.thresholds.fused_weight)

    def fused_scores(self) -> np.ndarray:
        """The fused rule as one number per pair: accepted iff it is >= ``fused_threshold``.

        ``log(1 + inliers) + w * similarity`` for pairs that pass the geometric
        gates (``inliers >= fused_min_inliers``, outline area), 0 for the others,
        and :data:`GEOMETRY_SCORE` ``+ log(1 + inliers)`` where the inliers
        accept alone (:func:`vision.fusion.geometry_alone_inliers`).  Pairs
        without a similarity carry the robust rule's verdict on the same scale.
        Sweeping a threshold over it moves ``fused_threshold`` with the gates
        fixed: its ROC passes through the current operating point.
        """
        t = self.thresholds
        inl = self.inliers
        gate = (inl >= t.fused_min_inliers) & (self.area_fraction >= t.min_area_fraction)
        score = np.where(gate, self.raw_fused_scores(), 0.0)
        alone = gate & (inl >= geometry_alone_inliers(t))
        score = np.where(alone, np.maximum(score, GEOMETRY_SCORE + np.log1p(inl)), score)
        fallback = ~self.has_similarity
        if fallback.any():
            eff = self.effective_scores()
            below = np.minimum(np.log1p(eff), np.nextafter(t.fused_threshold, 0.0))
            robust = np.where(eff >= t.min_inliers, GEOMETRY_SCORE + np.log1p(eff), below)
            score = np.where(fallback, robust, score)
        return score

    def scores(self) -> np.ndarray:
        """The current rule's score per pair (robust: :meth:`effective_scores`, fused: :meth:`fused_scores`)."""
        return self.fused_scores() if self.rule == "fused" else self.effective_scores()

    def operating_threshold(self) -> float:
        """The score the current rule accepts from (``min_inliers`` or ``fused_threshold``)."""
        t = self.thresholds
        return float(t.fused_threshold if self.rule == "fused" else t.min_inliers)

    # -- figures --------------------------------------------------------------------

    def rates(self) -> Rates:
        """Accept counts of the current rule at the current thresholds (processed pairs only)."""
        ok = self.ok
        return accept_rates(self.accepted[ok], self.labels[ok])

    def robust_rates(self) -> Rates:
        """Accept counts of the robust rule, whatever the current rule."""
        ok = self.ok
        return accept_rates(self.robust_accepted[ok], self.labels[ok])

    def original_rates(self) -> Rates | None:
        if self.original_accepted is None:
            return None
        ok = self.ok
        return accept_rates(self.original_accepted[ok], self.labels[ok])

    def roc(self) -> RocCurve:
        """ROC of the current rule's score (:meth:`scores`), gated by the current outline-area threshold."""
        ok = self.ok
        return roc_curve(self.scores()[ok], self.labels[ok])

    def robust_roc(self) -> RocCurve:
        """ROC of the inlier count (the robust rule's score)."""
        ok = self.ok
        return roc_curve(self.effective_scores()[ok], self.labels[ok])

    def original_roc(self) -> RocCurve | None:
        """ROC of the note's score (outline area in px²)."""
        if self.original_area is None:
            return None
        ok = self.ok
        return roc_curve(self.original_area[ok], self.labels[ok])

    def auc(self) -> float:
        """AUC of the current rule's score."""
        ok = self.ok
        return roc_auc(self.scores()[ok], self.labels[ok])

    def robust_auc(self) -> float:
        """AUC of the inlier count."""
        ok = self.ok
        return roc_auc(self.effective_scores()[ok], self.labels[ok])

    def original_auc(self) -> float:
        if self.original_area is None:
            return float("nan")
        ok = self.ok
        return roc_auc(self.original_area[ok], self.labels[ok])

    def reason(self, i: int) -> str:
        """Why pair ``i`` was accepted or rejected by the current rule, in the verify page's words."""
        if self.errors[i]:
            return f"unusable: {self.errors[i]}"
        fused = self.rule == "fused" and bool(self.has_similarity[i])
        if self.evidence and self.evidence[i] is not None:
            if fused:
                return fused_evidence(self.evidence[i], float(self.similarity[i]), self.thresholds).reason
            return decide_verification(self.evidence[i], self.thresholds).reason
        sim = f", similarity {self.similarity[i]:.2f}" if fused else ""
        return f"{self.inliers[i]:.0f} inliers{sim}, outline {self.area_fraction[i]:.1%}"


def _json_float(x: float, digits: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), digits)


def figures(scored: ScoredSet) -> dict[str, Any]:
    """The headline numbers of a (sub)set at its thresholds, for its current rule.

    Counts, TAR/FAR/FRR and the AUC of the current rule (``rule``); under the
    fused rule the robust rule's figures under ``robust``; the original
    note's rule under ``original`` where it was scored.
    """
    rates = scored.rates()
    out: dict[str, Any] = {
        "rule": scored.rule,
        "pairs": len(scored),
        "processed": int(scored.ok.sum()),
        **rates.to_json(),
        "false_reject_rate": _json_float(rates.frr),
        "roc_auc": _json_float(scored.auc()),
    }
    if scored.rule == "fused":
        robust = scored.robust_rates()
        out["robust"] = {
            "true_accept_rate": _json_float(robust.tar),
            "false_accept_rate": _json_float(robust.far),
            "true_accepts": robust.true_accept,
            "false_accepts": robust.false_accept,
            "roc_auc": _json_float(scored.robust_auc()),
        }
    original = scored.original_rates()
    if original is not None:
        out["original"] = {
            "true_accept_rate": _json_float(original.tar),
            "false_accept_rate": _json_float(original.far),
            "roc_auc": _json_float(scored.original_auc()),
        }
    return out


def per_kind(scored: ScoredSet) -> list[dict[str, Any]]:
    """One row per ``kind``: label, pairs, accepted and accept rate (current rule), median inliers and similarity.

    Under the fused rule the robust rule's accept rate is added
    (``robust_accept_rate``), and the original's where it was scored.
    """
    ok = scored.ok
    kinds = np.array([p.kind for p in scored.pairs])
    accepted, original = scored.accepted, scored.original_accepted
    robust = scored.robust_accepted if scored.rule == "fused" else None
    rows = []
    for kind in sorted(set(kinds[ok])):
        m = ok & (kinds == kind)
        row = {
            "kind": str(kind),
            "label": int(scored.labels[m][0]),
            "pairs": int(m.sum()),
            "accepted": int(accepted[m].sum()),
            "accept_rate": round(float(accepted[m].mean()), 4),
            "median_inliers": float(np.median(scored.inliers[m])),
        }
        if scored.similarity is not None:
            sims = scored.similarity[m & scored.has_similarity]
            row["median_similarity"] = round(float(np.median(sims)), 3) if sims.size else None
        if robust is not None:
            row["robust_accept_rate"] = round(float(robust[m].mean()), 4)
        if original is not None:
            row["original_accept_rate"] = round(float(original[m].mean()), 4)
        rows.append(row)
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
    sims = scored.similarity[m]
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


def _wrongness(scored: ScoredSet) -> np.ndarray:
    """Per pair, how far it sits from the current rule's threshold, signed towards accepting (see ErrorCase)."""
    t = scored.thresholds
    if scored.rule != "fused":
        m = float(t.min_inliers)
        return (scored.effective_scores() - m) / m
    inl, T = scored.inliers, float(t.fused_threshold)
    by_score = scored.raw_fused_scores() - T
    alone = float(geometry_alone_inliers(t))
    by_geometry = np.where(inl >= alone, np.log1p(inl) - np.log1p(alone), -np.inf)
    short = np.log1p(inl) - np.log1p(t.fused_min_inliers)
    toward_accept = np.maximum(by_score, by_geometry)  # for false accepts (>= 0 where accepted)
    toward_reject = np.minimum(by_score, np.minimum(short, 0.0))  # for false rejects
    fallback = ~scored.has_similarity
    robust = np.log1p(scored.effective_scores()) - np.log1p(t.min_inliers)
    out = np.where(scored.accepted, toward_accept, toward_reject)
    return np.where(fallback, robust, out) / T


def error_cases(scored: ScoredSet) -> tuple[list[ErrorCase], list[ErrorCase]]:
    """False accepts and false rejects of the current rule, each sorted most wrong first."""
    signed = _wrongness(scored)
    accepted, ok, index = scored.accepted, scored.ok, scored._index()
    fa, fr = [], []
    for i in np.flatnonzero(ok & (accepted != scored.labels.astype(bool))):
        false_accept = bool(accepted[i])
        wrongness = max(float(signed[i]), 0.0) if false_accept else max(-float(signed[i]), 0.0)
        sim = float(scored.similarity[i]) if scored.has_similarity[i] else None
        case = ErrorCase(
            int(i),
            int(index[i]),
            scored.pairs[i],
            "false accept" if false_accept else "false reject",
            float(scored.inliers[i]),
            float(scored.area_fraction[i]),
            wrongness,
            scored.reason(i),
            sim,
        )
        (fa if false_accept else fr).append(case)
    key = lambda c: (-c.wrongness, c.pair.ref, c.pair.query)  # noqa: E731
    return sorted(fa, key=key), sorted(fr, key=key)


# --------------------------------------------------------------------------
# Recommendation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    """Thresholds chosen for a target false-accept rate, and why.

    Attributes
    ----------
    thresholds : Thresholds
        The base thresholds with ``min_inliers`` and ``min_area_fraction``
        replaced, and the fused rule's fields (:data:`vision.fusion.FUSED_FIELDS`)
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
        The fused rule's pick (:func:`vision.fusion.recommend_fused`, with the
        chosen ``min_inliers`` and area): ``fused_min_inliers``, ``fused_weight``,
        ``fused_threshold``, its figures on the training pairs and
        ``similarity_margin``; None when the set has no similarities.
    """

    thresholds: Thresholds
    target_far: float
    tightest_min_inliers: int
    highest_rejected_negative: float
    lowest_accepted_positive: float
    margin_below: float
    margin_above: float
    feasible: bool
    train: dict[str, Any]
    fused: dict[str, Any] | None = None

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
            "highest_rejected_negative": _json_float(self.highest_rejected_negative),
            "lowest_accepted_positive": _json_float(self.lowest_accepted_positive),
            "margin_below_inliers": _json_float(self.margin_below),
            "margin_above_inliers": _json_float(self.margin_above),
            "feasible": self.feasible,
            "fused": self.fused,
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


def recommend_fused_thresholds(scored: ScoredSet, target_far: float, base: Thresholds) -> dict[str, Any] | None:
    """The fused rule's thresholds for ``target_far`` on the pairs with a similarity, on top of ``base``.

    :func:`vision.fusion.recommend_fused` (threshold midway in the gap of the
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
    inl, sim, area = scored.inliers[m], scored.similarity[m], scored.area_fraction[m]
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
    (:func:`vision.metrics.threshold_for_far`); that threshold maximises true
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
    tuned = replace(base, min_inliers=int(best.chosen), min_area_fraction=float(best.area))
    fused = recommend_fused_thresholds(scored, target_far, tuned)
    if fused is not None:
        tuned = apply_recommendation(tuned, fused)
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
    )


def recommend(scored: ScoredSet, target_far: float = 0.01, **kwargs: Any) -> Thresholds:
    """The thresholds of :func:`recommend_details` (same parameters)."""
    return recommend_details(scored, target_far, **kwargs).thresholds


# --------------------------------------------------------------------------
# Hold-out by scene
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Pair positions of the training and held-out parts, and their scenes."""

    train: np.ndarray
    holdout: np.ndarray
    train_scenes: tuple[str, ...]
    holdout_scenes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "train_pairs": int(self.train.size),
            "holdout_pairs": int(self.holdout.size),
            "train_scenes": list(self.train_scenes),
            "holdout_scenes": list(self.holdout_scenes),
        }


def split_by_scene(pairs: Sequence[LabelledPair], holdout_fraction: float = 0.3, seed: int = 0) -> Split:
    """Hold out whole scenes (the reference's folder) until about ``holdout_fraction`` of the pairs.

    Scenes are shuffled with ``seed`` (deterministic) and taken in that order
    while the held-out part stays within 1.25 times the fraction (a scene that
    would overshoot is skipped); both parts keep at least one scene when there
    are two or more.
    """
    if not 0 <= holdout_fraction < 1:
        raise ValueError(f"holdout_fraction must be in [0, 1), got {holdout_fraction}")
    scenes = np.array([p.scene for p in pairs])
    names = sorted(set(scenes.tolist()))
    order = np.random.default_rng(seed).permutation(len(names))
    sizes = {n: int((scenes == n).sum()) for n in names}
    budget = holdout_fraction * len(pairs)
    held: list[str] = []
    count = 0
    if holdout_fraction > 0 and len(names) > 1:
        for j in order:  # take scenes in shuffled order while they fit the budget
            if len(held) < len(names) - 1 and count + sizes[names[j]] <= budget * 1.25:
                held.append(names[j])
                count += sizes[names[j]]
        if not held:  # every scene is larger than the budget: the first smallest one
            held.append(min((names[j] for j in order), key=sizes.__getitem__))
    mask = np.isin(scenes, held)
    train_scenes = tuple(n for n in names if n not in held)
    return Split(np.flatnonzero(~mask), np.flatnonzero(mask), train_scenes, tuple(sorted(held)))


@dataclass(frozen=True)
class TuneReport:
    """A recommendation with its figures on the training and held-out parts (the current rule's)."""

    recommendation: Recommendation
    split: Split | None
    train: dict[str, Any]
    holdout: dict[str, Any] | None
    overall: dict[str, Any]
    baseline: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.overall["rule"],
            "thresholds": self.recommendation.thresholds.to_dict(),
            "recommendation": self.recommendation.to_json(),
            "split": self.split.to_json() if self.split else None,
            "figures": {"train": self.train, "holdout": self.holdout, "all": self.overall},
            "baseline_all": self.baseline,
        }


def tune(scored: ScoredSet, target_far: float = 0.01, split: Split | None = None, **kwargs: Any) -> TuneReport:
    """Recommend on the training part (all pairs without ``split``) and judge on every part.

    ``baseline`` gives the figures of ``scored``'s own thresholds on the whole set.
    """
    train_set = scored.subset(split.train) if split else scored
    rec = recommend_details(train_set, target_far, **kwargs)
    tuned = scored.with_thresholds(rec.thresholds)
    holdout = figures(tuned.subset(split.holdout)) if split and split.holdout.size else None
    return TuneReport(rec, split, rec.train, holdout, figures(tuned), figures(scored))


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------

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
    accepted, robust, original = scored.accepted, scored.robust_accepted, scored.original_accepted
    has_sim, raw = scored.has_similarity, scored.raw_fused_scores()
    for i, p in enumerate(scored.pairs):
        rule = "fused" if scored.rule == "fused" and has_sim[i] else "robust"
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
                f"{scored.similarity[i]:.4f}" if has_sim[i] else "",
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


# --------------------------------------------------------------------------
# CLI: python -m vision tune DATA_DIR --target-far 0.01 --out profile.json
# --------------------------------------------------------------------------


def _stderr_progress(state: Progress) -> None:
    end = "\n" if state.done == state.total else ""
    sys.stderr.write(f"\r{state.text():<70}{end}")
    sys.stderr.flush()


def _usage_error() -> type[Exception]:
    """The CLI's ``UsageError`` (exit code 2), from the module actually running as ``__main__``."""
    for name in ("__main__", "vision.__main__"):
        module = sys.modules.get(name)
        if module is not None and isinstance(getattr(module, "UsageError", None), type):
            return module.UsageError
    import vision.__main__ as cli

    return cli.UsageError


def cmd_tune(args: argparse.Namespace) -> dict[str, Any]:
    """Run, recommend on the training scenes, write the profile, report train/held-out figures.

    The profile has the robust and the fused rule's thresholds; its ``rule`` is
    the base profile's (default ``fused``), and the figures are that rule's.
    """
    UsageError = _usage_error()

    try:
        base = load_profile(args.profile)
        start = time.perf_counter()
        run = run_folder(
            args.data_dir, base, args.workers, None if args.quiet else _stderr_progress, original=args.with_original
        )
        scored = run.scored(base)
        split = split_by_scene(scored.pairs, args.holdout, args.seed) if args.holdout > 0 else None
        report = tune(scored, args.target_far, split, placement=args.placement)
    except (ValueError, LabelledSetError) as exc:
        raise UsageError(str(exc)) from None
    body = {"data_dir": str(args.data_dir), **report.to_json()}
    body["seconds"] = {k: round(v, 2) for k, v in run.timings_s.items()} | {
        "total": round(time.perf_counter() - start, 2)
    }
    if args.holdout > 0:
        body["split"] |= {"fraction": args.holdout, "seed": args.seed}
    if args.out:
        try:
            body["profile"] = str(save_profile(report.recommendation.thresholds, args.out))
        except OSError as exc:
            raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
    return body


def add_tune_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``tune`` on the ``python -m vision`` parser."""
    p = sub.add_parser(
        "tune", help="recommend thresholds (robust and fused rule) for a target false-accept rate on a labelled folder"
    )
    p.add_argument("data_dir", help="folder with pairs.csv and the images it names")
    p.add_argument("--target-far", type=float, default=0.01, help="largest false-accept rate (default 0.01)")
    p.add_argument("--out", help="write the recommended profile here (JSON, or TOML by suffix)")
    p.add_argument("--profile", help="base profile: every threshold not tuned is taken from it")
    p.add_argument(
        "--holdout",
        type=float,
        default=0.0,
        help="fraction of pairs, as whole scenes, to hold out for judging (default 0: none)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the scene shuffle")
    p.add_argument(
        "--placement",
        choices=("midgap", "tightest"),
        default="midgap",
        help="threshold inside the empty score gap (default) or the smallest that meets the target",
    )
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    p.add_argument(
        "--with-original",
        action="store_true",
        help="also score the original note's rule for comparison (full resolution: slow)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=cmd_tune)
