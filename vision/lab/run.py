"""The engine's expensive step: features once per image, matches once per pair, evidence per geometry key.

Three layers of cache, from expensive to free:

1. :class:`TuningRun` holds, per pair, the cached :class:`vision.pipeline.PairMatch`
   (decode, AKAZE features, kNN matches) for one :class:`FeatureSettings`, the
   similarity of the two photos' global descriptors (the fused rule's second
   number, :mod:`vision.fusion`), and the original note's score (its pipeline at
   full resolution, which depends on no threshold at all).  Building it is the only slow step; it runs on
   the worker pool of :mod:`vision.lab.pool` and reports progress through a callback.
2. :meth:`TuningRun.evidence` keeps the :class:`MatchEvidence` of every pair per
   geometry key ``(ratio, ransac_method, ransac_reproj_px)``: changing one of these
   reruns the ratio test and MAGSAC over the cached matches (about a second for 273 pairs).
3. :class:`vision.lab.scored.ScoredSet` is the evidence reduced to arrays; the
   decision thresholds are applied to those arrays, so a slider move costs nothing.

No Streamlit here: the lab page, ``python -m vision tune`` and ``python -m vision evaluate`` share it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vision.decision import MatchEvidence
from vision.errors import ImageInputError
from vision.features import Features, FeatureSettings
from vision.imageio import decode_image
from vision.lab.data import LabelledPair, LabelledSet, open_folder
from vision.lab.pool import DEFAULT_WORKERS, ProgressFn, parallel
from vision.lab.scored import OriginalScores, ScoredSet, geometry_key
from vision.original import original_evidence
from vision.pipeline import PairMatch, evaluate_match, match_features, pair_similarity, prepare_photo
from vision.profile import Profile


class FeatureCache:
    """Features of every image of a data folder, computed once per settings.

    With ``embed`` (the fused rule) each image's global descriptor is computed
    once too and kept in its features' ``embedding``.
    """

    def __init__(self, data_dir: str | Path, settings: FeatureSettings, embed: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.settings = settings
        self.embed = embed
        self._features: dict[str, Features | str] = {}
        self.prepare_ms: dict[str, float] = {}

    def compute(
        self,
        paths: Iterable[str],
        workers: int = DEFAULT_WORKERS,
        on_progress: ProgressFn | None = None,
        stage: tuple[int, int] = (1, 1),
    ) -> None:
        """Compute the missing features, in parallel threads (OpenCV releases the GIL)."""
        todo = sorted({p for p in paths if p not in self._features})
        results = parallel(self._compute_one, todo, workers, ("features", *stage), on_progress)
        for path, value in zip(todo, results, strict=True):
            self._features[path] = value

    def _compute_one(self, rel: str) -> Features | str:
        try:
            data = (self.data_dir / rel).read_bytes()
            photo = prepare_photo(data, self.settings, embed=self.embed)
            self.prepare_ms[rel] = sum(photo.timings.values())
            return photo.features
        except (OSError, ImageInputError) as exc:
            return f"{rel}: {exc}"

    def get(self, rel: str) -> Features | str:
        """Features, or the error text when the image could not be used."""
        if rel not in self._features:
            self.compute([rel], workers=1)
        return self._features[rel]


def score_original(
    labelled: LabelledSet,
    workers: int = DEFAULT_WORKERS,
    on_progress: ProgressFn | None = None,
    stage: tuple[int, int] = (1, 1),
) -> OriginalScores:
    """Run the note's pipeline (full resolution) on every pair, in threads."""
    start = time.perf_counter()
    root = labelled.root
    outcomes = parallel(lambda p: original_pair(root, p), labelled.pairs, workers, ("original", *stage), on_progress)
    return OriginalScores(
        np.array([o[0] for o in outcomes], float),
        tuple(o[1] for o in outcomes),
        time.perf_counter() - start,
        np.array([o[2] for o in outcomes], float),
    )


def original_pair(root: Path, pair: LabelledPair) -> tuple[float, str | None, float]:
    """The note's pipeline on one pair at full resolution: ``(area px², error or None, milliseconds)``."""
    start = time.perf_counter()
    try:
        ref = decode_image((root / pair.ref).read_bytes()).bgr
        query = decode_image((root / pair.query).read_bytes()).bgr
    except (OSError, ImageInputError) as exc:
        return 0.0, str(exc), 0.0
    evidence = original_evidence(ref, query)
    return float(evidence.score), None, (time.perf_counter() - start) * 1000


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
    latency_ms : np.ndarray or None
        ``(N,)`` milliseconds a verification of each pair costs (the query's
        decode and features, the matching; ``nan`` for an unusable pair).
    """

    labelled: LabelledSet
    settings: FeatureSettings
    matches: list[PairMatch | str]
    original: OriginalScores | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    similarity: np.ndarray | None = None
    workers: int = DEFAULT_WORKERS
    max_geometry_keys: int = 8
    latency_ms: np.ndarray | None = None
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
        cache.compute(images, workers, on_progress, (1, n_stages))
        timings = {"features": time.perf_counter() - start}
        start = time.perf_counter()

        def one(pair: LabelledPair) -> PairMatch | str:
            ref, query = cache.get(pair.ref), cache.get(pair.query)
            if isinstance(ref, str) or isinstance(query, str):
                return ref if isinstance(ref, str) else str(query)
            return match_features(ref, query)

        matches = parallel(one, labelled.pairs, workers, ("matches", 2, n_stages), on_progress)
        timings["matches"] = time.perf_counter() - start
        similarity = pair_similarities(matches) if embed else None
        if original is True:
            original = score_original(labelled, workers, on_progress, (3, 3))
        if isinstance(original, OriginalScores):
            timings["original"] = original.seconds
        latency = np.array(
            [
                np.nan if isinstance(m, str) else m.match_ms + cache.prepare_ms.get(p.query, 0.0)
                for p, m in zip(labelled.pairs, matches, strict=True)
            ]
        )
        return cls(labelled, settings, matches, original or None, timings, similarity, workers, latency_ms=latency)

    def evidence(self, thresholds: Profile, on_progress: ProgressFn | None = None) -> list[MatchEvidence | None]:
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

        evidence = parallel(one, self.matches, self.workers, ("geometry", 1, 1), on_progress)
        with self._lock:
            self._evidence[key] = evidence
            while len(self._evidence) > self.max_geometry_keys:
                self._evidence.popitem(last=False)
            self.timings_s["geometry"] = time.perf_counter() - start
        return evidence

    def has_evidence(self, thresholds: Profile) -> bool:
        """Whether :meth:`evidence` for these thresholds is already cached (instant)."""
        return geometry_key(thresholds) in self._evidence

    def scored(self, thresholds: Profile, on_progress: ProgressFn | None = None) -> ScoredSet:
        """The set's scores under ``thresholds`` (decisions applied lazily by :class:`ScoredSet`)."""
        evidence = self.evidence(thresholds, on_progress)
        errors = tuple(m if isinstance(m, str) else None for m in self.matches)
        return ScoredSet.from_evidence(self.pairs, evidence, errors, thresholds, self.original, self.similarity)

    def _check_settings(self, thresholds: Profile) -> None:
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
    thresholds: Profile = Profile(),
    workers: int = DEFAULT_WORKERS,
    on_progress: ProgressFn | None = None,
    original: bool = True,
    embed: bool = True,
) -> TuningRun:
    """:meth:`TuningRun.build` on a folder (``LabelledSetError`` when it is not a labelled set)."""
    return TuningRun.build(open_folder(data_dir), thresholds.feature_settings, workers, on_progress, original, embed)
