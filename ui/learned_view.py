"""The tuning lab's learned-rule section: scored once per set and geometry settings, re-decided live."""

from __future__ import annotations

import os

import streamlit as st

from vision.lab.data import LabelledSet
from vision.lab.learned import LearnedScores, recommend_learned, score_learned, summarise_learned
from vision.lab.learned_plots import learned_histogram_chart, matcher_scatter_chart
from vision.lab.run import TuningRun
from vision.matchers.akaze import FeatureSettings
from vision.profile import Profile


@st.cache_resource(show_spinner="XFeat + LighterGlue on every pair (once per set and geometry settings)...")
def learned_scores(
    _labelled: LabelledSet, fingerprint: str, settings: FeatureSettings, geometry: tuple
) -> LearnedScores:
    """Both matchers' checked inliers for every pair (``geometry``: the profile fields they depend on)."""
    run = TuningRun.build(_labelled, settings, workers=os.cpu_count() or 2, original=False, learned=True)
    profile = Profile(**dict(geometry))
    return score_learned(run, profile)


def geometry_key(profile: Profile) -> tuple:
    """The profile fields the learned scores depend on (the rest only re-decides)."""
    names = (
        "ratio",
        "ransac_method",
        "ransac_reproj_px",
        "min_area_fraction",
        "learned_max_stretch",
        "learned_min_coverage",
    )
    return tuple((n, getattr(profile, n)) for n in names)


def show_learned(labelled: LabelledSet, profile: Profile) -> None:
    """Rates, the score's distributions and the per-matcher scatter at the sidebar's learned thresholds."""
    scores = learned_scores(labelled, labelled.fingerprint, profile.feature_settings, geometry_key(profile))
    summary = summarise_learned(scores, profile)
    c = st.columns(4)
    c[0].metric("True-accept rate", f"{summary['true_accept_rate']:.1%}")
    c[1].metric("False-accept rate", f"{summary['false_accept_rate']:.1%}")
    c[2].metric("Accepted on AKAZE / XFeat", f"{summary['accepted_by']['akaze']} / {summary['accepted_by']['xfeat']}")
    c[3].metric("ROC AUC (learned score)", "n/a" if summary["roc_auc"] is None else f"{summary['roc_auc']:.3f}")
    left, right = st.columns(2)
    with left:
        st.vega_lite_chart(spec=learned_histogram_chart(scores, profile).to_dict(), width="stretch")
        st.caption("Learned score of same vs different pairs")
    with right:
        st.vega_lite_chart(spec=matcher_scatter_chart(scores, profile), width="stretch")
        st.caption("AKAZE vs XFeat checked inliers per pair (dotted: the learned minimum; dashed: AKAZE alone)")
    rec = recommend_learned(scores, profile)
    st.caption(
        f"Threshold for <= 1 % false accepts on this set: {rec['learned_threshold']:g} (sidebar: "
        f"{profile.learned_threshold:g}); fitted leaving one scene out at a time it accepts "
        f"{rec['held_out_true_accept_rate']:.1%} of same pairs and {rec['held_out_false_accept_rate']:.1%} "
        "of different ones."
    )
