"""The engine's expensive step: features once per image, matches once per pair, evidence per geometry key.

Three layers of cache, from expensive to free:

1. :class:`TuningRun` holds, per pair, the cached :class:`vision.flows.prepare.PairMatch`
   (decode, AKAZE features, kNN matches) for one :class:`FeatureSettings`, the
   similarity of the two photos' global descriptors (the fused rule's second
   number, :mod:`vision.rules.fusion`), and the original note's score (its pipeline at
   full resolution, which depends on no threshold at all).  Building it is the only slow step: features
   and the original rule run on :class:`vision.lab.pool.Workers` (local processes, threads or Dask),
   features come from the disk cache (:mod:`vision.lab.cache`) when an image was seen before, and
   progress is reported through a callback.
2. :meth:`TuningRun.evidence` keeps the :class:`MatchEvidence` of every pair per
   geometry key ``(ratio, ransac_method, ransac_reproj_px)``: changing one of these
   reruns the ratio test and MAGSAC over the cached matches (about a second for 273 pairs).
3. :class:`vision.lab.scored.ScoredSet` is the evidence reduced to arrays; the
   decision thresholds are applied to those arrays, so a slider move costs nothing.

No Streamlit here: the lab page, ``python -m vision tune`` and ``python -m vision evaluate`` share it.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from vision.lab.aliked_evidence import EVIDENCE_NAME, evidence_key, gather_aliked
from vision.lab.cache import cache_dir, evidence_entry, image_features, pair_digest, read_evidence, write_evidence
from vision.lab.data import LabelledPair, LabelledSet, open_folder
from vision.lab.isolate import guarded, isolated_score
from vision.lab.pool import DEFAULT_WORKERS, ProgressFn, Workers, as_workers, local_threads, parallel
from vision.lab.scored import OriginalScores, ScoredSet, geometry_key
from vision.matchers.akaze import Features, FeatureSettings
from vision.profile import Profile
from vision.rules import get as get_rule
from vision.rules.base import Needs
from vision.rules.evidence import MatchEvidence, PairMatch, evaluate_match, match_features, pair_similarity
from vision.rules.original import score_pair


class FeatureCache:
    """Features of every image of a data folder, computed once per settings (and cached on disk, :mod:`vision.lab.cache`).

    With ``embed`` (the fused rule) each image's global descriptor is computed
    once too and kept in its features' ``embedding``.
    """

    def __init__(
        self,
        data_dir: str | Path,
        settings: FeatureSettings,
        embed: bool = False,
        folder: Path | None = None,
        learned: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.settings = settings
        self.embed = embed or learned
        self.learned = learned  # XFeat features too (the learned rule)
        self.folder = folder
        self._features: dict[str, Features | str] = {}
        self.prepare_ms: dict[str, float] = {}

    def compute(
        self,
        paths: Iterable[str],
        workers: int | Workers = DEFAULT_WORKERS,
        on_progress: ProgressFn | None = None,
        stage: tuple[int, int] = (1, 1),
    ) -> None:
        """Compute the missing features on ``workers`` (a count: that many local processes)."""
        todo = sorted({p for p in paths if p not in self._features})
        one = functools.partial(
            image_features,
            self.data_dir,
            settings=self.settings,
            embed=self.embed,
            folder=self.folder,
            learned=self.learned,
        )
        results = parallel(one, todo, as_workers(workers), ("features", *stage), on_progress)
        for path, (value, ms) in zip(todo, results, strict=True):
            self._features[path] = value
            self.prepare_ms[path] = ms

    def get(self, rel: str) -> Features | str:
        """Features, or the error text when the image could not be used."""
        if rel not in self._features:
            self.compute([rel], workers=Workers(1, "threads"))
        return self._features[rel]


def score_rule(
    labelled: LabelledSet,
    name: str,
    profile: Profile,
    workers: int | Workers = DEFAULT_WORKERS,
    on_progress: ProgressFn | None = None,
) -> OriginalScores:
    """Run a rule with its own per-pair score (its module's ``score_pair``) on every pair, on ``workers``.

    Errors become ``nan`` scores (never accepted) with the error text kept; a scorer that
    raises fails that pair only (:func:`vision.lab.isolate.isolated_score`).
    """
    rule = get_rule(name)
    scorer = getattr(rule, "score_pair", None)
    if rule.geometric or scorer is None:
        raise ValueError(f"the {name} rule has no per-pair score of its own (it is scored from the geometry)")
    start = time.perf_counter()
    one = functools.partial(isolated_score, scorer, labelled.root, profile=profile)
    outcomes = parallel(one, labelled.pairs, as_workers(workers), (name, 1, 1), on_progress)
    errors = tuple(o[1] for o in outcomes)
    scores = np.array([np.nan if e else o[0] for o, e in zip(outcomes, errors, strict=True)], float)
    return OriginalScores(scores, errors, time.perf_counter() - start, np.array([o[2] for o in outcomes], float))


def score_original(
    labelled: LabelledSet,
    workers: int | Workers = DEFAULT_WORKERS,
    on_progress: ProgressFn | None = None,
    stage: tuple[int, int] = (1, 1),
) -> OriginalScores:
    """Run the note's pipeline (full resolution) on every pair, in threads."""
    start = time.perf_counter()
    root = labelled.root
    outcomes = parallel(
        functools.partial(isolated_score, score_pair, root),
        labelled.pairs,
        as_workers(workers),
        ("original", *stage),
        on_progress,
    )
    return OriginalScores(
        np.array([o[0] for o in outcomes], float),
        tuple(o[1] for o in outcomes),
        time.perf_counter() - start,
        np.array([o[2] for o in outcomes], float),
    )


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
    workers: int | Workers = DEFAULT_WORKERS
    max_geometry_keys: int = 8
    latency_ms: np.ndarray | None = None
    rule_scores: dict[str, np.ndarray] = field(default_factory=dict)
    #: The evidence thresholds each ``rule_scores`` entry was gathered with (see :meth:`add_rule`).
    rule_keys: dict[str, tuple] = field(default_factory=dict)
    geometry_errors: dict[tuple, dict[int, str]] = field(default_factory=dict)
    """Per geometry key, the pairs whose evidence raised: ``{pair index: reason}`` (reported as failed)."""
    rule_errors: dict[str, dict[int, str]] = field(default_factory=dict)
    """Per rule, the pairs whose own evidence (``add_rule``) raised: ``{pair index: reason}``."""
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
        workers: int | Workers = DEFAULT_WORKERS,
        on_progress: ProgressFn | None = None,
        original: OriginalScores | bool = True,
        embed: bool = True,
        learned: bool = False,
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
        learned : bool
            Compute each image's XFeat features too (:mod:`vision.lab.learned` scores the learned rule).
        """
        n_stages = 3 if original is True else 2
        cache = FeatureCache(labelled.root, settings, embed=embed or learned, folder=cache_dir(), learned=learned)
        images = sorted({p.ref for p in labelled.pairs} | {p.query for p in labelled.pairs})
        start = time.perf_counter()
        cache.compute(images, workers, on_progress, (1, n_stages))
        timings = {"features": time.perf_counter() - start}
        start = time.perf_counter()

        def one(pair: LabelledPair) -> PairMatch | str:
            ref, query = cache.get(pair.ref), cache.get(pair.query)
            if isinstance(ref, str) or isinstance(query, str):
                return ref if isinstance(ref, str) else str(query)
            return guarded(lambda _: match_features(ref, query), pair, "matching")

        matches = parallel(one, labelled.pairs, local_threads(workers), ("matches", 2, n_stages), on_progress)
        timings["matches"] = time.perf_counter() - start
        similarity = pair_similarities(matches) if embed or learned else None
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

        def one(match: PairMatch | str) -> MatchEvidence | str | None:
            return (
                None if isinstance(match, str) else guarded(lambda m: evaluate_match(m, thresholds), match, "geometry")
            )

        outcomes = parallel(one, self.matches, local_threads(self.workers), ("geometry", 1, 1), on_progress)
        evidence = [None if isinstance(o, str) else o for o in outcomes]
        with self._lock:
            self.geometry_errors[key] = {i: o for i, o in enumerate(outcomes) if isinstance(o, str)}
            self._evidence[key] = evidence
            while len(self._evidence) > self.max_geometry_keys:
                self.geometry_errors.pop(self._evidence.popitem(last=False)[0], None)
            self.timings_s["geometry"] = time.perf_counter() - start
        return evidence

    def add_rule(self, name: str, profile: Profile, on_progress: ProgressFn | None = None) -> None:
        """Gather a non-geometric rule's own per-pair evidence into this run, once.

        A rule with ``pair_evidence(pair, profile)`` reads this run's cached
        matches and features (XFeat's, when the run was built with
        ``learned``); one with ``score_pair(root, pair, profile)`` reads the
        files on the workers (:func:`score_rule`).  A pair whose evidence
        raises is ``nan`` (never accepted) and the run goes on.  Gathered
        again only when one of the rule's ``evidence_thresholds`` changed
        (decision thresholds re-decide from these arrays, instantly).
        """
        rule = get_rule(name)
        if rule.needs.aliked:
            self._add_aliked(profile, on_progress)
        # The evidence depends on the features (in the digest) and the rule's evidence thresholds, nothing else.
        key_values = tuple(getattr(profile, f) for f in getattr(rule, "evidence_thresholds", ()))
        if name in self.rule_scores and self.rule_keys.get(name) == key_values:
            return
        self.rule_keys[name] = key_values
        from_pair = getattr(rule, "pair_evidence", None)
        if from_pair is None:
            self.rule_scores[name] = score_rule(self.labelled, name, profile, self.workers, on_progress).area_px
            return
        start = time.perf_counter()
        folder = cache_dir()

        def one(match: PairMatch | str) -> float:
            if isinstance(match, str):
                return float("nan")
            path = None
            if folder is not None:  # on disk beside the features: a new run or a new session reads it back
                path = folder / "pairs" / evidence_entry(pair_digest(match.ref, match.query), name, key_values)
                cached = read_evidence(path)
                if cached is not None:
                    return cached
            value = float(from_pair(match, profile))
            if path is not None:
                write_evidence(path, value)
            return value

        outcomes = parallel(
            functools.partial(guarded, one, stage=f"{name} evidence"),
            self.matches,
            local_threads(self.workers),
            (name, 1, 1),
            on_progress,
        )
        self.rule_errors[name] = {i: o for i, o in enumerate(outcomes) if isinstance(o, str)}
        self.rule_scores[name] = np.array([np.nan if isinstance(o, str) else o for o in outcomes], float)
        self.timings_s[name] = time.perf_counter() - start

    def has_rule_evidence(self, name: str, profile: Profile) -> bool:
        """Whether :meth:`add_rule` would compute nothing for ``name`` at ``profile`` (a slider move is instant)."""
        rule = get_rule(name)
        key_values = tuple(getattr(profile, f) for f in getattr(rule, "evidence_thresholds", ()))
        if name not in self.rule_scores or self.rule_keys.get(name) != key_values:
            return False
        if not rule.needs.aliked or profile.second_opinion_min_inliers <= 0 or self.similarity is None:
            return True
        if self.rule_keys.get(EVIDENCE_NAME) != evidence_key(profile):
            return False
        found = self.rule_scores[EVIDENCE_NAME]
        wanted = np.nan_to_num(self.similarity, nan=-np.inf) >= profile.second_opinion_min_similarity
        failed = np.zeros(len(found), bool)
        failed[list(self.rule_errors.get(EVIDENCE_NAME, {}))] = True
        return not bool((wanted & np.isnan(found) & ~failed).any())

    def _add_aliked(self, profile: Profile, on_progress: ProgressFn | None) -> None:
        """The second opinion's ALIKED inliers for the pairs at the gate (:mod:`vision.lab.aliked_evidence`)."""
        key = evidence_key(profile)
        known = self.rule_scores.get(EVIDENCE_NAME) if self.rule_keys.get(EVIDENCE_NAME) == key else None
        values, errors, seconds = gather_aliked(self.labelled, self.similarity, profile, known, on_progress)
        self.rule_scores[EVIDENCE_NAME] = values
        self.rule_keys[EVIDENCE_NAME] = key
        self.rule_errors[EVIDENCE_NAME] = {
            **(self.rule_errors.get(EVIDENCE_NAME, {}) if known is not None else {}),
            **errors,
        }
        self.timings_s[EVIDENCE_NAME] = self.timings_s.get(EVIDENCE_NAME, 0.0) + seconds

    def has_features_for(self, needs: Needs) -> bool:
        """Whether this run's features carry what ``needs`` ask (XFeat's: built with ``learned``)."""
        usable = [m for m in self.matches if not isinstance(m, str)]
        if not usable:
            return True
        first = usable[0]
        if needs.xfeat and (first.ref.xfeat is None or first.query.xfeat is None):
            return False
        return not (needs.embedding and self.similarity is None)

    def has_evidence(self, thresholds: Profile) -> bool:
        """Whether :meth:`evidence` for these thresholds is already cached (instant)."""
        return geometry_key(thresholds) in self._evidence

    def scored(self, thresholds: Profile, on_progress: ProgressFn | None = None) -> ScoredSet:
        """The set's scores under ``thresholds`` (decisions applied lazily by :class:`ScoredSet`)."""
        evidence = self.evidence(thresholds, on_progress)
        failed = dict(self.geometry_errors.get(geometry_key(thresholds), {}))
        for by_pair in self.rule_errors.values():  # a pair whose rule evidence raised is unusable, and said so
            for i, reason in by_pair.items():
                failed.setdefault(i, reason)
        errors = tuple(m if isinstance(m, str) else failed.get(i) for i, m in enumerate(self.matches))
        scored = ScoredSet.from_evidence(self.pairs, evidence, errors, thresholds, self.original, self.similarity)
        return replace(scored, rule_scores=dict(self.rule_scores)) if self.rule_scores else scored

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
    workers: int | Workers = DEFAULT_WORKERS,
    on_progress: ProgressFn | None = None,
    original: bool = True,
    embed: bool = True,
) -> TuningRun:
    """:meth:`TuningRun.build` on a folder (``LabelledSetError`` when it is not a labelled set)."""
    return TuningRun.build(open_folder(data_dir), thresholds.feature_settings, workers, on_progress, original, embed)
