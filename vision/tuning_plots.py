"""Figures of the tuning lab (matplotlib, no pyplot state: safe in a server's threads).

Each function returns PNG bytes, which ``st.image`` shows and a test can check.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from vision.tuning import ScoredSet, score_histogram

SAME, DIFFERENT, ORIGINAL, POINT = "#2e9d4f", "#d2453a", "#8a6bbf", "#1f1f1f"


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def histogram_png(scored: ScoredSet, n_bins: int = 30) -> bytes:
    """Inlier-score histograms of same and different pairs, with the current threshold marked."""
    hist = score_histogram(scored, n_bins)
    fig = Figure(figsize=(6.0, 3.2))
    ax = fig.subplots()
    widths = np.diff(hist.edges)
    ax.bar(hist.edges[:-1], hist.same, widths, align="edge", color=SAME, alpha=0.6, label="same scene")
    ax.bar(hist.edges[:-1], hist.different, widths, align="edge", color=DIFFERENT, alpha=0.6,
           label="different scene")
    ax.axvline(scored.thresholds.min_inliers, color=POINT, linestyle="--",
               label=f"min inliers = {scored.thresholds.min_inliers}")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(0, max(float(hist.edges[-1]), 20.0))
    ax.set_xlabel("inliers of a plausible homography (0 = none)")
    ax.set_ylabel("pairs")
    ax.legend(fontsize=8)
    return _png(fig)


def roc_png(parts: dict[str, ScoredSet], show_original: bool = True) -> bytes:
    """ROC curves of the inlier score per part (e.g. train/held-out), current operating points marked.

    The note's rule is drawn as a dotted curve with its own operating point
    (area > ``original_min_area_px``) where its scores are known.
    """
    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.subplots()
    styles = ["-", "--", "-."]
    for k, (name, scored) in enumerate(parts.items()):
        curve, rates = scored.roc(), scored.rates()
        auc = scored.auc()
        line = ax.step(curve.fpr, curve.tpr, where="post", linestyle=styles[k % 3],
                       label=f"inliers, {name} (AUC {auc:.3f})")[0]
        ax.plot([rates.far], [rates.tar], "o", color=line.get_color(), markersize=8,
                markeredgecolor=POINT, label=f"current, {name}: FAR {rates.far:.1%}, TAR {rates.tar:.1%}")
        original = scored.original_rates()
        if show_original and original is not None:
            oc = scored.original_roc()
            ax.step(oc.fpr, oc.tpr, where="post", linestyle=":", color=ORIGINAL, alpha=0.7,
                    label=f"original rule, {name} (AUC {scored.original_auc():.3f})")
            ax.plot([original.far], [original.tar], "s", color=ORIGINAL, markersize=8, markeredgecolor=POINT,
                    label=f"original > {scored.thresholds.original_min_area_px:g} px², {name}")
    ax.plot([0, 1], [0, 1], color="#bbbbbb", linewidth=0.8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("false-accept rate")
    ax.set_ylabel("true-accept rate")
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)
