"""Figures of the learned rule for the tuning lab: its score's distributions and the per-matcher scatter.

Vega-Lite specs like the rest of the lab (:mod:`vision.lab.charts`): drawn in
the browser, so a threshold slider re-sends numbers, not images.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from vision.lab.charts import DIFFERENT, INLIER_TICKS, LINTHRESH, POINT, SAME, ChartSpec, histogram_chart
from vision.lab.charts import histogram_frame as _frame
from vision.lab.learned import LearnedScores
from vision.profile import Profile


def learned_histogram_chart(scores: LearnedScores, profile: Profile, n_bins: int = 30) -> ChartSpec:
    """Histograms of ``log(1 + max(AKAZE, XFeat inliers)) + w x similarity`` for same and different pairs,
    with the threshold as a labelled rule."""
    ok = scores.ok
    s = scores.scores(profile)[ok]
    lab = scores.labels[ok]
    lo = min(float(s.min(initial=0.0)), 0.0)
    hi = max(float(s.max(initial=1.0)), profile.learned_threshold + 1)
    edges = np.linspace(lo, hi, n_bins + 1)
    same, _ = np.histogram(s[lab == 1], edges)
    different, _ = np.histogram(s[lab == 0], edges)
    return histogram_chart(
        _frame(edges, same, different),
        f"log(1 + max(AKAZE, XFeat inliers)) + {profile.learned_weight:g} x similarity",
        marks=[(float(profile.learned_threshold), f"threshold {profile.learned_threshold:g}")],
    )


def matcher_frame(scores: LearnedScores, profile: Profile, names: list[str] | None = None) -> pd.DataFrame:
    """One row per usable pair: ``akaze, xfeat, label, verdict, pair`` (the scatter's data)."""
    ok = scores.ok
    accepted = scores.accepted(profile)
    idx = np.flatnonzero(ok)
    return pd.DataFrame(
        {
            "akaze": scores.akaze[idx].astype(float),
            "xfeat": scores.xfeat[idx].astype(float),
            "label": np.where(scores.labels[idx] == 1, "same", "different"),
            "verdict": np.where(accepted[idx], "accepted", "rejected"),
            "pair": [names[i] for i in idx] if names is not None else [f"pair {i}" for i in idx],
        }
    )


def matcher_scatter_chart(scores: LearnedScores, profile: Profile, names: list[str] | None = None) -> dict:
    """AKAZE vs XFeat checked inliers per pair (symlog axes): same green, different red, accepted filled;
    dotted rules at the learned minimum, dashed at the robust rule's AKAZE-alone count."""
    scale = alt.Scale(type="symlog", constant=LINTHRESH)
    points = (
        alt.Chart(matcher_frame(scores, profile, names))
        .mark_point(size=50, filled=True, opacity=0.75)
        .encode(
            x=alt.X("akaze:Q", scale=scale, axis=alt.Axis(values=list(INLIER_TICKS)), title="AKAZE checked inliers"),
            y=alt.Y("xfeat:Q", scale=scale, axis=alt.Axis(values=list(INLIER_TICKS)), title="XFeat checked inliers"),
            color=alt.Color("label:N", scale=alt.Scale(domain=["same", "different"], range=[SAME, DIFFERENT])),
            shape=alt.Shape("verdict:N", scale=alt.Scale(domain=["accepted", "rejected"], range=["circle", "cross"])),
            tooltip=["pair:N", "label:N", "verdict:N", "akaze:Q", "xfeat:Q"],
        )
    )
    k = float(profile.learned_min_inliers)
    minimum = pd.DataFrame({"v": [k]})
    vrule = alt.Chart(minimum).mark_rule(color=POINT, strokeDash=[2, 2]).encode(x="v:Q")
    hrule = alt.Chart(minimum).mark_rule(color=POINT, strokeDash=[2, 2]).encode(y="v:Q")
    alone = (
        alt.Chart(pd.DataFrame({"v": [float(profile.min_inliers)]}))
        .mark_rule(color=POINT, strokeDash=[6, 3])
        .encode(x="v:Q")
    )
    chart = alt.layer(points, vrule, hrule, alone).properties(height=420, width="container")
    return chart.configure_axis(labelFontSize=13, titleFontSize=14).configure_legend(labelFontSize=13).to_dict()
