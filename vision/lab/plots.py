"""Figures of the tuning lab (matplotlib, no pyplot state: safe in a server's threads).

Each function returns PNG bytes, which ``st.image`` shows and a test can check.
Every figure follows the scored set's current rule (``ScoredSet.rule``:
``fused`` or ``robust``), with the original note's rule as a comparison point.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from vision.fusion import fused_boundary, geometry_alone_inliers
from vision.lab.report import score_histogram, similarity_histogram
from vision.lab.scored import ScoredSet

SAME, DIFFERENT, ORIGINAL, POINT, ROBUST, BOUNDARY = "#2e9d4f", "#d2453a", "#8a6bbf", "#1f1f1f", "#3b6fb6", "#1f1f1f"
#: The inlier axis is linear up to this count, logarithmic above (most pairs sit near 0 or in the hundreds).
LINTHRESH = 10


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _inlier_axis(ax: Axes, top: float) -> None:
    ax.set_xscale("symlog", linthresh=LINTHRESH)
    ax.set_xlim(0, max(top, 2.0 * LINTHRESH))


def _inlier_histogram(ax: Axes, scored: ScoredSet, n_bins: int) -> None:
    hist = score_histogram(scored, n_bins)
    widths = np.diff(hist.edges)
    ax.bar(hist.edges[:-1], hist.same, widths, align="edge", color=SAME, alpha=0.6, label="same scene")
    ax.bar(hist.edges[:-1], hist.different, widths, align="edge", color=DIFFERENT, alpha=0.6, label="different scene")
    t = scored.thresholds
    if scored.rule == "fused":
        ax.axvline(t.fused_min_inliers, color=POINT, linestyle=":", label=f"geometric minimum = {t.fused_min_inliers}")
        ax.axvline(
            geometry_alone_inliers(t),
            color=ROBUST,
            linestyle="--",
            label=f"geometry alone = {geometry_alone_inliers(t)}",
        )
    else:
        ax.axvline(t.min_inliers, color=POINT, linestyle="--", label=f"min inliers = {t.min_inliers}")
    _inlier_axis(ax, float(hist.edges[-1]))
    ax.set_xlabel("inliers of a plausible homography (0 = none)")
    ax.set_ylabel("pairs")
    ax.legend(fontsize=7)


def histogram_png(scored: ScoredSet, n_bins: int = 30) -> bytes:
    """Inlier histograms of same and different pairs, the current thresholds marked.

    With similarities, a second panel shows the similarity histograms (the
    fused rule's other axis).
    """
    sims = similarity_histogram(scored)
    fig = Figure(figsize=(6.0, 3.2) if sims is None else (9.0, 3.2))
    axes = fig.subplots(1, 1 if sims is None else 2, squeeze=False)[0]
    _inlier_histogram(axes[0], scored, n_bins)
    if sims is not None:
        ax = axes[1]
        widths = np.diff(sims.edges)
        ax.bar(sims.edges[:-1], sims.same, widths, align="edge", color=SAME, alpha=0.6, label="same scene")
        ax.bar(
            sims.edges[:-1], sims.different, widths, align="edge", color=DIFFERENT, alpha=0.6, label="different scene"
        )
        ax.set_xlabel("similarity of the global descriptors (cosine)")
        ax.set_ylabel("pairs")
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return _png(fig)


def _score_name(scored: ScoredSet) -> str:
    return "fused score" if scored.rule == "fused" else "inliers"


def roc_png(parts: dict[str, ScoredSet], show_original: bool = True) -> bytes:
    """ROC curves of the current rule's score per part (e.g. train/held-out), current operating points marked.

    Under the fused rule the score is :meth:`ScoredSet.fused_scores` (the ROC
    sweeps ``fused_threshold`` with the gates fixed) and the inlier count's
    curve is drawn thin for comparison.  The note's rule is drawn as a dotted
    curve with its own operating point (area > ``original_min_area_px``)
    where its scores are known.
    """
    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.subplots()
    styles = ["-", "--", "-."]
    for k, (name, scored) in enumerate(parts.items()):
        curve, rates = scored.roc(), scored.rates()
        auc = scored.auc()
        line = ax.step(
            curve.fpr,
            curve.tpr,
            where="post",
            linestyle=styles[k % 3],
            label=f"{_score_name(scored)}, {name} (AUC {auc:.3f})",
        )[0]
        ax.plot(
            [rates.far],
            [rates.tar],
            "o",
            color=line.get_color(),
            markersize=8,
            markeredgecolor=POINT,
            label=f"current {scored.rule}, {name}: FAR {rates.far:.1%}, TAR {rates.tar:.1%}",
        )
        if scored.rule == "fused":
            rc, rr = scored.roc("robust"), scored.rates("robust")
            ax.step(
                rc.fpr,
                rc.tpr,
                where="post",
                linestyle=styles[k % 3],
                color=ROBUST,
                alpha=0.5,
                linewidth=0.9,
                label=f"inliers, {name} (AUC {scored.auc('robust'):.3f})",
            )
            ax.plot(
                [rr.far],
                [rr.tar],
                "D",
                color=ROBUST,
                markersize=6,
                markeredgecolor=POINT,
                alpha=0.8,
                label=f"robust >= {scored.thresholds.min_inliers}, {name}",
            )
        if show_original and scored.available("original"):
            original, oc = scored.rates("original"), scored.roc("original")
            ax.step(
                oc.fpr,
                oc.tpr,
                where="post",
                linestyle=":",
                color=ORIGINAL,
                alpha=0.7,
                label=f"original rule, {name} (AUC {scored.auc('original'):.3f})",
            )
            ax.plot(
                [original.far],
                [original.tar],
                "s",
                color=ORIGINAL,
                markersize=8,
                markeredgecolor=POINT,
                label=f"original > {scored.thresholds.original_min_area_px:g} px², {name}",
            )
    ax.plot([0, 1], [0, 1], color="#bbbbbb", linewidth=0.8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("false-accept rate")
    ax.set_ylabel("true-accept rate")
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def scatter_png(scored: ScoredSet) -> bytes:
    """Every pair in the (inliers, similarity) plane with the fused rule's decision boundary.

    x: inliers of a plausible homography (linear below :data:`LINTHRESH`,
    logarithmic above); y: the global descriptors' similarity.  Same pairs
    are green dots, different pairs red crosses; the current rule's errors are
    ringed.  The boundary (:func:`vision.fusion.fused_boundary`) is the solid
    line, the accepted side shaded; the dashed vertical line is the robust
    rule's ``min_inliers`` (geometry alone).  Pairs with a homography but too
    small an outline (below ``min_area_fraction``) are rejected wherever they
    lie and drawn hollow.  Pairs without inliers are spread a little around 0
    (a fixed jitter) so that they do not hide one another.  Pairs without a
    similarity are left out.
    """
    t = scored.thresholds
    m = scored.ok & scored.has_similarity
    inl, sim, lab = scored.inliers[m], scored.similarities[m], scored.labels[m]
    small = (scored.area_fraction[m] < t.min_area_fraction) & (inl > 0)
    x = np.where(inl == 0, np.random.default_rng(0).uniform(-0.6, 0.6, inl.size), inl)
    wrong = scored.accepted[m] != lab.astype(bool)
    top = max(float(inl.max()) * 1.3 if inl.size else 0.0, 3.0 * max(t.min_inliers, LINTHRESH))
    bottom = min(float(sim.min()) - 0.03 if sim.size else 0.0, 0.0)

    fig = Figure(figsize=(8.4, 4.4))
    ax = fig.subplots()
    xs, ys = fused_boundary(t, (0, top), n=300)
    ax.fill_between(xs, ys, 1.02, color=SAME, alpha=0.07, step=None, linewidth=0)
    ax.plot(
        xs,
        ys,
        color=BOUNDARY,
        linewidth=1.8,
        label=f"fused boundary: log(1+n) + {t.fused_weight:g}·s >= {t.fused_threshold:g}, n >= {t.fused_min_inliers}",
    )
    ax.axvline(
        t.min_inliers,
        color=ROBUST,
        linestyle="--",
        linewidth=1.2,
        label=f"geometry alone (robust): n >= {t.min_inliers}",
    )
    for label, color, marker, name in ((1, SAME, "o", "same"), (0, DIFFERENT, "x", "different")):
        sel = lab == label
        full, hollow = sel & ~small, sel & small
        ax.scatter(
            x[full],
            sim[full],
            s=22,
            c=color,
            marker=marker,
            alpha=0.75,
            linewidths=1.2,
            label=f"{name} ({int(sel.sum())})",
        )
        if hollow.any():
            ax.scatter(
                x[hollow],
                sim[hollow],
                s=22,
                facecolors="none",
                edgecolors=color,
                marker="o",
                alpha=0.75,
                label=f"{name}, outline < {t.min_area_fraction:.1%}",
            )
    if wrong.any():
        ax.scatter(
            x[wrong],
            sim[wrong],
            s=110,
            facecolors="none",
            edgecolors=POINT,
            linewidths=0.9,
            label=f"wrong under {scored.rule} ({int(wrong.sum())})",
        )
    ax.set_xscale("symlog", linthresh=LINTHRESH)
    ax.set_xlim(-1.0, top)
    ax.set_ylim(bottom, 1.02)
    ax.set_xlabel("inliers of a plausible homography (0 = none; log scale above 10)")
    ax.set_ylabel("similarity of the global descriptors")
    ax.grid(alpha=0.2)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return _png(fig)
