"""Figures of the learned rule for the tuning lab: its score's distributions and the per-matcher scatter.

PNG bytes (matplotlib without pyplot state), like :mod:`vision.lab.plots`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from vision.lab.learned import LearnedScores
from vision.lab.plots import DIFFERENT, POINT, SAME, _png
from vision.profile import Profile


def learned_histogram_png(scores: LearnedScores, profile: Profile, n_bins: int = 30) -> bytes:
    """Histograms of ``log(1 + max(AKAZE, XFeat inliers)) + w x similarity`` for same and different pairs.

    Pairs below the inlier minimum are drawn at their score but hatched out by
    the caption's rule; the threshold is the dashed line.
    """
    ok = scores.ok
    s = scores.scores(profile)[ok]
    lab = scores.labels[ok]
    edges = np.linspace(
        min(float(s.min(initial=0.0)), 0.0), max(float(s.max(initial=1.0)), profile.learned_threshold + 1), n_bins + 1
    )
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.subplots()
    ax.hist(s[lab == 1], edges.tolist(), color=SAME, alpha=0.6, label="same")
    ax.hist(s[lab == 0], edges.tolist(), color=DIFFERENT, alpha=0.6, label="different")
    ax.axvline(profile.learned_threshold, color=POINT, linestyle="--", label=f"threshold {profile.learned_threshold:g}")
    ax.set_xlabel(f"log(1 + max(AKAZE, XFeat inliers)) + {profile.learned_weight:g} x similarity")
    ax.set_ylabel("pairs")
    ax.legend(fontsize=7)
    return _png(fig)


def matcher_scatter_png(scores: LearnedScores, profile: Profile) -> bytes:
    """AKAZE vs XFeat checked inliers per pair (symlog axes), same green / different red, accepted filled."""
    ok = scores.ok
    accepted = scores.accepted(profile)
    fig = Figure(figsize=(5.2, 4.6))
    ax = fig.subplots()
    for label, colour, name in ((1, SAME, "same"), (0, DIFFERENT, "different")):
        for acc, marker in ((True, "o"), (False, "x")):
            m = ok & (scores.labels == label) & (accepted == acc)
            if m.any():
                ax.scatter(
                    scores.akaze[m],
                    scores.xfeat[m],
                    s=18,
                    c=colour,
                    marker=marker,
                    alpha=0.7,
                    label=f"{name}, {'accepted' if acc else 'rejected'} ({int(m.sum())})",
                )
    k = profile.learned_min_inliers
    ax.axvline(k, color=POINT, linestyle=":", linewidth=0.8)
    ax.axhline(k, color=POINT, linestyle=":", linewidth=0.8, label=f"minimum {k} inliers")
    ax.axvline(
        profile.min_inliers, color=POINT, linestyle="--", linewidth=0.8, label=f"AKAZE alone {profile.min_inliers}"
    )
    for axis in (ax.set_xscale, ax.set_yscale):
        axis("symlog", linthresh=10)
    ax.set_xlabel("AKAZE checked inliers")
    ax.set_ylabel("XFeat + LighterGlue checked inliers")
    ax.legend(fontsize=7)
    return _png(fig)
