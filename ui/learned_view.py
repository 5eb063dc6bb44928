"""The tuning lab's learned-rule section: both matchers' evidence, from the run the page already scored."""

from __future__ import annotations

import streamlit as st

from vision.lab.learned import learned_scores, recommend_learned, summarise_learned
from vision.lab.learned_plots import learned_histogram_chart, matcher_scatter_chart
from vision.lab.scored import ScoredSet


def show_learned(scored: ScoredSet) -> None:
    """Which matcher carried the accepted pairs, the score's distributions and the per-matcher scatter.

    ``scored`` holds the learned rule's evidence (XFeat's checked inliers, gathered once per run).
    """
    profile = scored.thresholds
    scores = learned_scores(scored)
    summary = summarise_learned(scores, profile)
    c = st.columns(2)
    c[0].metric("Accepted on AKAZE / XFeat", f"{summary['accepted_by']['akaze']} / {summary['accepted_by']['xfeat']}")
    c[1].metric("ROC AUC (learned score)", "n/a" if summary["roc_auc"] is None else f"{summary['roc_auc']:.3f}")
    left, right = st.columns(2)
    with left:
        st.vega_lite_chart(spec=learned_histogram_chart(scores, profile).to_dict(), width="stretch")
        st.caption("Learned score of same vs different pairs")
    with right:
        st.vega_lite_chart(spec=matcher_scatter_chart(scores, profile), width="stretch")
        st.caption("AKAZE vs XFeat checked inliers per pair (dotted: the learned minimum; dashed: AKAZE alone)")
    rec = recommend_learned(scores, profile)
    st.caption(
        f"Fitted leaving one scene out at a time, the learned threshold for <= 1 % false accepts accepts "
        f"{rec['held_out_true_accept_rate']:.1%} of same pairs and {rec['held_out_false_accept_rate']:.1%} of "
        f"different ones (threshold on all pairs: {rec['learned_threshold']:g}; sidebar: {profile.learned_threshold:g})."
    )
