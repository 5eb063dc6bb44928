"""The learned rule's second-opinion evidence for a labelled set: ALIKED + LightGlue inliers per pair.

The verify path runs the second opinion only in the grey zone
(:mod:`vision.rules.second_opinion`: rejected, similarity at least
``second_opinion_min_similarity``).  The lab scores every pair whose
similarity reaches that gate (a superset of the grey zone whatever the
decision sliders say), so moving a decision slider re-decides from arrays;
lowering the gate scores the newly included pairs only.  Pairs below the gate
stay ``nan``: the rule never reads them.

ALIKED runs on each photo's working image, as a verification does (decoded
upright, shrunk to ``working_side``).  Both the features (per image content)
and the inliers (per pair and the evidence thresholds that change them:
stretch bound and coverage) are kept on disk under ``VISION_CACHE_DIR``, so a
second run or a new session only reads them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from vision.core.errors import ImageInputError
from vision.lab.cache import cache_dir, evidence_entry, read_evidence, write_evidence
from vision.lab.data import LabelledSet
from vision.lab.pool import Progress, ProgressFn
from vision.matchers import aliked
from vision.matchers.akaze import FeatureSettings, decode_working
from vision.matchers.keypoints import LearnedKeypoints
from vision.profile import Profile
from vision.rules.second_opinion import ALIKED_EVIDENCE, aliked_match

EVIDENCE_NAME = ALIKED_EVIDENCE
"""The ``rule_scores`` key (and cache tag) of the second opinion's inliers."""
_VERSION = "aliked-n16rot-1"  # changes when the model or the extraction changes: old entries are then ignored


def evidence_key(profile: Profile) -> tuple[object, ...]:
    """The thresholds the inliers depend on (the gate only says which pairs are scored)."""
    return (_VERSION, profile.learned_max_stretch, profile.learned_min_coverage, profile.learned_outline)


def image_aliked(path: Path, settings: FeatureSettings, folder: Path | None) -> LearnedKeypoints:
    """ALIKED features of one photo on its working image; read from / written to ``folder`` when given."""
    data = path.read_bytes()
    entry = None
    if folder is not None:
        name = f"{hashlib.sha256(data).hexdigest()}-{settings.working_side}-{aliked.MAX_KEYPOINTS}-{_VERSION}.npz"
        entry = folder / "aliked" / name
        if entry.is_file():
            try:
                with np.load(entry, allow_pickle=False) as z:
                    size = (int(z["size"][0]), int(z["size"][1]))
                    return LearnedKeypoints(z["keypoints"], z["scores"], z["descriptors"], size)
            except (OSError, ValueError, KeyError):
                pass  # damaged: recompute
    working, _ = decode_working(data, settings)
    found = aliked.extract(working)
    if entry is not None:
        _save(entry, found)
    return found


def _save(entry: Path, found: LearnedKeypoints) -> None:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                keypoints=found.keypoints,
                scores=found.scores,
                descriptors=found.descriptors,
                size=np.array(found.image_size, np.int64),
            )
        os.replace(tmp, entry)
    except OSError:
        pass  # a failed write only costs time


def gather_aliked(
    labelled: LabelledSet,
    similarity: np.ndarray | None,
    profile: Profile,
    known: np.ndarray | None = None,
    on_progress: ProgressFn | None = None,
) -> tuple[np.ndarray, dict[int, str], float]:
    """``(N,)`` ALIKED checked inliers for the pairs at or above the gate, ``nan`` elsewhere.

    ``known`` (same shape) holds values gathered earlier with the same
    :func:`evidence_key`; only its ``nan`` pairs inside the gate are scored.
    Returns the inliers, the pairs that failed (``{index: reason}``, left
    ``nan``) and the seconds spent.  ALIKED and LightGlue each hold one ONNX
    session per process (both cores already), so pairs run one after another.
    """
    n = len(labelled.pairs)
    out = np.full(n, np.nan) if known is None else np.array(known, float, copy=True)
    if similarity is None or profile.second_opinion_min_inliers <= 0:
        return out, {}, 0.0
    sim = np.nan_to_num(np.asarray(similarity, float), nan=-np.inf)
    todo = [i for i in range(n) if sim[i] >= profile.second_opinion_min_similarity and np.isnan(out[i])]
    folder = cache_dir()
    settings = profile.feature_settings
    features: dict[str, LearnedKeypoints] = {}
    errors: dict[int, str] = {}
    start = time.perf_counter()
    key = evidence_key(profile)
    for done, i in enumerate(todo, start=1):
        pair = labelled.pairs[i]
        try:
            out[i] = _pair_inliers(labelled.root, pair.ref, pair.query, settings, profile, key, folder, features)
        except (ImageInputError, OSError, ValueError, RuntimeError) as exc:
            errors[i] = f"second opinion: {type(exc).__name__}: {str(exc)[:200]}"
        if on_progress is not None:
            on_progress(Progress("second opinion (ALIKED)", 1, 1, done, len(todo), time.perf_counter() - start))
    return out, errors, time.perf_counter() - start


def _pair_inliers(
    root: Path,
    ref: str,
    query: str,
    settings: FeatureSettings,
    profile: Profile,
    key: tuple[object, ...],
    folder: Path | None,
    features: dict[str, LearnedKeypoints],
) -> float:
    path = None
    if folder is not None:
        digest = hashlib.sha256()
        for rel in (ref, query):
            digest.update(hashlib.sha256((root / rel).read_bytes()).digest())
        path = folder / "pairs" / evidence_entry(digest.hexdigest(), EVIDENCE_NAME.replace(":", "-"), key)
        cached = read_evidence(path)
        if cached is not None:
            return cached
    for rel in (ref, query):
        if rel not in features:
            features[rel] = image_aliked(root / rel, settings, folder)
    _, inliers = aliked_match(features[ref], features[query], profile)
    if path is not None:
        write_evidence(path, float(inliers))
    return float(inliers)
