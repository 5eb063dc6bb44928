"""The learned rule in the lab: score every pair, fit the threshold with whole scenes held out, report.

The lab's :class:`~vision.lab.scored.ScoredSet` holds AKAZE's evidence; this
module adds the XFeat side for a :class:`~vision.lab.run.TuningRun` built
with ``learned=True`` (XFeat features of every image): both matchers'
checked inliers per pair, all of them (no early exit, so the figures show
what each matcher found), and the rule's verdicts as arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vision.lab.isolate import guarded
from vision.lab.metrics import roc_auc
from vision.lab.run import TuningRun
from vision.learned import akaze_inliers, xfeat_inliers, xfeat_try
from vision.learned_rule import fit_threshold, learned_score
from vision.pipeline import PairMatch, evaluate_match
from vision.profile import Profile


@dataclass(frozen=True)
class LearnedScores:
    """Per pair (``(N,)`` arrays; unusable pairs have ``ok`` False and zeros).

    ``akaze`` and ``xfeat`` are checked inliers (see :mod:`vision.learned`),
    ``similarity`` the global descriptors' cosine (0 when missing).
    """

    akaze: np.ndarray
    xfeat: np.ndarray
    similarity: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray
    scenes: np.ndarray
    query_scenes: np.ndarray
    ok: np.ndarray
    errors: tuple[str | None, ...] = ()
    """Per pair, why its scoring raised (None when it did not); empty when nothing was recorded."""

    @property
    def evidence(self) -> np.ndarray:
        return np.maximum(self.akaze, self.xfeat)

    def scores(self, profile: Profile) -> np.ndarray:
        return learned_score(self.evidence, self.similarity, profile.learned_weight)

    def accepted(self, profile: Profile) -> np.ndarray:
        """The rule's verdicts (the robust rule's geometry alone, or the learned score)."""
        e = self.evidence
        by_score = (e >= profile.learned_min_inliers) & (self.scores(profile) >= profile.learned_threshold)
        return self.ok & ((self.akaze >= profile.min_inliers) | by_score)

    def decided_by(self) -> np.ndarray:
        """``"xfeat"`` where XFeat's evidence is the stronger, else ``"akaze"``."""
        return np.where(self.xfeat > self.akaze, "xfeat", "akaze")


def _pair_scores(match: PairMatch | str, profile: Profile) -> tuple[float, float, float, bool]:
    if isinstance(match, str) or match.ref.xfeat is None or match.query.xfeat is None:
        return 0.0, 0.0, 0.0, False
    akaze = akaze_inliers(evaluate_match(match, profile), profile)
    xf = xfeat_inliers(xfeat_try(match.ref.xfeat, None, 0, profile, match.query.xfeat).geometry, profile)
    sim = 0.0
    if match.ref.embedding is not None and match.query.embedding is not None:
        sim = float(np.dot(match.ref.embedding, match.query.embedding))
    return float(akaze), float(xf), sim, True


def score_learned(run: TuningRun, profile: Profile) -> LearnedScores:
    """Both matchers' checked inliers and the similarity of every pair of ``run`` (built with ``learned=True``).

    A pair whose scoring raises is unusable (``ok`` False) with the reason in ``errors``.
    """
    outcomes = [guarded(lambda m: _pair_scores(m, profile), m, "learned scoring") for m in run.matches]
    rows = [(0.0, 0.0, 0.0, False) if isinstance(o, str) else o for o in outcomes]
    arr = np.array(rows, dtype=float).reshape(-1, 4)
    return LearnedScores(
        akaze=arr[:, 0],
        xfeat=arr[:, 1],
        similarity=arr[:, 2],
        labels=np.array([p.label for p in run.pairs], int),
        kinds=np.array([p.kind for p in run.pairs]),
        scenes=np.array([p.scene for p in run.pairs]),
        query_scenes=np.array([str(Path(p.query).parent) for p in run.pairs]),
        ok=arr[:, 3].astype(bool),
        errors=tuple(o if isinstance(o, str) else None for o in outcomes),
    )


def _rates(accepted: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    pos, neg = labels == 1, labels == 0
    tar = float(accepted[pos].mean()) if pos.any() else math.nan
    far = float(accepted[neg].mean()) if neg.any() else math.nan
    return tar, far


def held_out_accepts(scores: LearnedScores, profile: Profile, target_far: float = 0.01) -> np.ndarray:
    """Verdicts with each scene's threshold fitted on the pairs of the other scenes (leave-one-scene-out).

    A pair belongs to the scene of its reference; the pairs fitted on touch
    neither the held-out scene's reference folder nor its queries' folders.
    """
    ok = scores.ok
    accepted = np.zeros(len(ok), bool)
    e, sim, lab = scores.evidence, scores.similarity, scores.labels
    for scene in sorted(set(scores.scenes[ok].tolist())):
        test = ok & (scores.scenes == scene)
        train = ok & (scores.scenes != scene) & (scores.query_scenes != scene)
        if not ((lab[train] == 0).any() and (lab[train] == 1).any()):
            continue
        t = fit_threshold(
            e[train], sim[train], lab[train], profile.learned_weight, profile.learned_min_inliers, target_far
        )
        by_score = (e[test] >= profile.learned_min_inliers) & (
            learned_score(e[test], sim[test], profile.learned_weight) >= t
        )
        accepted[test] = (scores.akaze[test] >= profile.min_inliers) | by_score
    return accepted


def recommend_learned(scores: LearnedScores, profile: Profile, target_far: float = 0.01) -> dict[str, Any]:
    """The threshold for ``target_far`` on all usable pairs, and the leave-one-scene-out figures."""
    ok = scores.ok
    t = fit_threshold(
        scores.evidence[ok],
        scores.similarity[ok],
        scores.labels[ok],
        profile.learned_weight,
        profile.learned_min_inliers,
        target_far,
    )
    held = held_out_accepts(scores, profile, target_far)
    tar, far = _rates(held[ok], scores.labels[ok])
    return {
        "learned_threshold": round(t, 3),
        "held_out_true_accept_rate": round(tar, 4),
        "held_out_false_accept_rate": round(far, 4),
    }


def summarise_learned(scores: LearnedScores, profile: Profile) -> dict[str, Any]:
    """Rates overall and per kind, and which matcher's evidence the accepted pairs rest on."""
    ok = scores.ok
    accepted = scores.accepted(profile)
    tar, far = _rates(accepted[ok], scores.labels[ok])
    per_kind = {}
    for kind in sorted(set(scores.kinds[ok].tolist())):
        m = ok & (scores.kinds == kind)
        per_kind[kind] = {
            "kind": kind,
            "labels": sorted({int(y) for y in scores.labels[m]}),
            "pairs": int(m.sum()),
            "accepted": int(accepted[m].sum()),
            "accept_rate": round(float(accepted[m].mean()), 4),
            "median_akaze_inliers": float(np.median(scores.akaze[m])),
            "median_xfeat_inliers": float(np.median(scores.xfeat[m])),
        }
    decided = scores.decided_by()
    auc = roc_auc(scores.scores(profile)[ok], scores.labels[ok])
    return {
        "rule": "learned",
        "pairs": len(ok),
        "processed": int(ok.sum()),
        "true_accept_rate": round(tar, 4),
        "false_accept_rate": round(far, 4),
        "roc_auc": None if auc != auc else round(auc, 4),
        "accepted_by": {k: int((accepted & (decided == k)).sum()) for k in ("akaze", "xfeat")},
        "per_kind": per_kind,
    }
