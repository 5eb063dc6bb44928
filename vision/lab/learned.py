"""The learned rule in the lab: score every pair, fit the threshold with whole scenes held out, report.

The lab's :class:`~vision.lab.scored.ScoredSet` holds AKAZE's evidence; this
module adds the XFeat side for a :class:`~vision.lab.run.TuningRun` built
with ``learned=True`` (XFeat features of every image): both matchers'
checked inliers per pair, all of them (no early exit, so the figures show
what each matcher found), and the rule's verdicts as arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from vision.lab.aliked_evidence import EVIDENCE_NAME
from vision.lab.metrics import roc_auc
from vision.lab.run import TuningRun
from vision.lab.scored import ScoredSet
from vision.profile import Profile
from vision.rules.evidence import visible_inliers
from vision.rules.learned_score import fit_threshold, learned_accepts, learned_score
from vision.rules.second_opinion import counted_evidence, second_opinion_accepts


@dataclass(frozen=True)
class LearnedScores:
    """Per pair (``(N,)`` arrays; unusable pairs have ``ok`` False and zeros).

    ``akaze`` and ``xfeat`` are checked inliers (see :mod:`vision.rules.learned_steps`),
    ``similarity`` the global descriptors' cosine (0 when missing), ``aliked`` the
    second opinion's checked inliers (``nan`` where it was not scored: below its
    similarity gate, see :mod:`vision.rules.second_opinion`).
    """

    akaze: np.ndarray
    xfeat: np.ndarray
    similarity: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray
    scenes: np.ndarray
    query_scenes: np.ndarray
    ok: np.ndarray
    aliked: np.ndarray | None = None

    @property
    def evidence(self) -> np.ndarray:
        """The first stage's: ``max(AKAZE, XFeat)`` checked inliers."""
        return np.maximum(self.akaze, self.xfeat)

    def counted(self, profile: Profile) -> np.ndarray:
        """The inliers the score counts after the second opinion (ALIKED's where higher, at the gate)."""
        aliked = np.full(len(self.ok), np.nan) if self.aliked is None else self.aliked
        return counted_evidence(self.evidence, self.similarity, aliked, profile)

    def scores(self, profile: Profile) -> np.ndarray:
        return learned_score(self.counted(profile), self.similarity, profile.learned_weight)

    def accepted(self, profile: Profile) -> np.ndarray:
        """The rule's verdicts (:func:`learned_verdicts`, as the verify path)."""
        return self.ok & learned_verdicts(self, profile)

    def decided_by(self, profile: Profile) -> np.ndarray:
        """``"aliked"`` where the second opinion accepts, else ``"xfeat"`` where XFeat's evidence is the stronger,
        else ``"akaze"``."""
        first = learned_accepts(self.akaze, self.xfeat, self.similarity, profile)
        by_second = self.ok & ~first & self.accepted(profile)
        return np.where(by_second, "aliked", np.where(self.xfeat > self.akaze, "xfeat", "akaze"))


def learned_verdicts(scores: LearnedScores, profile: Profile, select: np.ndarray | slice = slice(None)) -> np.ndarray:
    """The learned rule's verdicts on ``scores[select]``: its own acceptance, then the second opinion's."""
    first = learned_accepts(scores.akaze[select], scores.xfeat[select], scores.similarity[select], profile)
    if scores.aliked is None:
        return np.asarray(first, bool)
    evidence, sim, aliked = scores.evidence[select], scores.similarity[select], scores.aliked[select]
    return second_opinion_accepts(first, evidence, sim, aliked, profile)


def score_learned(run: TuningRun, profile: Profile) -> LearnedScores:
    """Both matchers' checked inliers and the similarity of every pair of ``run`` (built with ``learned=True``).

    XFeat's inliers are the learned rule's own lab evidence (``TuningRun.add_rule``); AKAZE's the
    visible plausible inliers of the profile's geometry.
    """
    run.add_rule("learned", profile)
    return learned_scores(run.scored(profile))


def learned_scores(scored: ScoredSet) -> LearnedScores:
    """The learned rule's evidence arrays of a scored set that holds its XFeat inliers (``rule_scores``)."""
    xfeat = scored.rule_scores["learned"]
    ok = scored.ok & np.isfinite(xfeat)
    akaze = visible_inliers(scored.inliers, scored.area_fraction, scored.thresholds)
    return LearnedScores(
        akaze=np.where(ok, akaze, 0.0),
        xfeat=np.where(ok, xfeat, 0.0),
        similarity=np.where(ok, np.nan_to_num(scored.similarities, nan=0.0), 0.0),
        labels=scored.labels,
        kinds=np.array([p.kind for p in scored.pairs]),
        scenes=np.array([p.scene for p in scored.pairs]),
        query_scenes=np.array([str(Path(p.query).parent) for p in scored.pairs]),
        ok=ok,
        aliked=scored.rule_scores.get(EVIDENCE_NAME),
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
    e, sim, lab = scores.counted(profile), scores.similarity, scores.labels
    for scene in sorted(set(scores.scenes[ok].tolist())):
        test = ok & (scores.scenes == scene)
        train = ok & (scores.scenes != scene) & (scores.query_scenes != scene)
        if not ((lab[train] == 0).any() and (lab[train] == 1).any()):
            continue
        t = fit_threshold(
            e[train], sim[train], lab[train], profile.learned_weight, profile.learned_min_inliers, target_far
        )
        fitted = replace(profile, learned_threshold=t)
        accepted[test] = learned_verdicts(scores, fitted, test)
    return accepted


def recommend_learned(scores: LearnedScores, profile: Profile, target_far: float = 0.01) -> dict[str, Any]:
    """The threshold for ``target_far`` on all usable pairs, and the leave-one-scene-out figures."""
    ok = scores.ok
    t = fit_threshold(
        scores.counted(profile)[ok],
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
    decided = scores.decided_by(profile)
    auc = roc_auc(scores.scores(profile)[ok], scores.labels[ok])
    return {
        "rule": "learned",
        "pairs": len(ok),
        "processed": int(ok.sum()),
        "true_accept_rate": round(tar, 4),
        "false_accept_rate": round(far, 4),
        "roc_auc": None if auc != auc else round(auc, 4),
        "accepted_by": {k: int((accepted & (decided == k)).sum()) for k in ("akaze", "xfeat", "aliked")},
        "per_kind": per_kind,
    }
