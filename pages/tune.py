"""Tuning lab: what the thresholds do to a whole labelled set, and which ones to pick."""

from __future__ import annotations

import os

import streamlit as st

import ui.lab_browser as lb
import ui.lab_gallery as lg
import ui.lab_panels as lp
import ui.tuning_view as tv
from ui.learned_view import show_learned
from ui.sidebar import render_sidebar
from vision import rules
from vision.lab.recommend import tune
from vision.lab.report import scores_csv
from vision.lab.split import split_by_scene
from vision.profile import dumps_profile

thresholds = render_sidebar()
st.title("Tuning lab")
st.caption(
    "Run the pipeline over a labelled set once; every decision slider then re-decides all pairs at once and the "
    "charts follow live. Working resolution and keypoints (sidebar, feature settings) need a new run. The figures "
    "follow the sidebar's rule (the profile's, learned by default); every rate carries its 95 % Wilson interval and "
    "its counts."
)

# --- the labelled set and the run ---------------------------------------------
labelled = tv.choose_set()
if labelled is None:
    st.stop()
st.caption(
    f"{labelled.name}: {len(labelled.pairs)} pairs, "
    f"{sum(p.label for p in labelled.pairs)} same / {sum(1 - p.label for p in labelled.pairs)} different"
)

settings = thresholds.feature_settings
workers = os.cpu_count() or 2
with_original = st.toggle(
    "Also score the original note's rule (full resolution, slow)",
    value=False,
    key="tune_with_original",
    help="The note's pipeline at full resolution on every pair: a comparison point, not needed to tune",
)
estimate = None
if with_original and tv.run_store().originals.get(labelled.fingerprint) is None:
    estimate = lp.original_estimate_s(labelled, workers)
    st.caption(
        f"The original rule will take about {estimate:.0f} s more on {len(labelled.pairs)} pairs "
        f"({workers} workers; timed on {lp.ORIGINAL_SAMPLE} pairs)."
    )
needs = rules.get(thresholds.rule).needs
run = tv.run_store().get(labelled, settings)
if run is not None and not run.has_features_for(needs):  # the profile's rule needs more (XFeat): a new run
    st.info(f"The {thresholds.rule} rule needs more per photo than this run has: press Run to add it.")
    run = None
if (
    st.button(
        "Run" if run is None else "Run again (cached)",
        type="primary",
        key="tune_run",
        help="Features, global descriptors and matches of every pair, in parallel; cached per feature settings",
    )
    and run is None
):
    tv.run_with_progress(labelled, settings, with_original, needs)
    st.rerun()  # redraw with the cached run (and the button's new label)
if run is None:
    st.info("Press **Run** to compute features and matches for every pair (progress shown).")
    st.stop()
about = "" if estimate is None else f" (about {estimate:.0f} s)"
if with_original and run.original is None and st.button(f"Score the original rule too{about}", key="tune_add_original"):
    tv.add_original(run)
st.caption("Seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in run.timings_s.items()))

scored = lp.cached_scored(run, thresholds)

# --- hold-out split ------------------------------------------------------------
holdout = st.toggle("Hold out whole scenes to judge the recommendation", key="tune_holdout")
split = None
if holdout:
    c1, c2 = st.columns(2)
    fraction = c1.slider("Held-out share of pairs", 0.1, 0.6, 0.3, 0.05, key="tune_holdout_fraction")
    seed = c2.number_input("Seed", 0, 10_000, 0, key="tune_seed")
    split = split_by_scene(scored.pairs, fraction, int(seed))
    if split.holdout.size == 0:
        st.warning("The set has a single scene: nothing to hold out.")
        split = None
    else:
        st.caption(f"Held-out scenes: {', '.join(split.holdout_scenes)}")
parts = (
    {"all pairs": scored}
    if split is None
    else {"train": scored.subset(split.train), "held-out": scored.subset(split.holdout)}
)

# --- figures at the current sliders -----------------------------------------------
st.subheader("At the current sliders")
st.markdown(tv.rule_caption(scored))
lp.show_rates(parts)
lp.show_charts(scored, parts, run)
st.dataframe(lp.per_kind_frame(scored), hide_index=True, key="tune_per_kind")

if rules.get("learned").lab_available(scored):
    st.subheader("The learned rule's two matchers")
    show_learned(scored)

# --- recommendation --------------------------------------------------------------
st.subheader("Recommend thresholds")
target = st.number_input("Target false-accept rate (%)", 0.0, 50.0, 1.0, 0.5, key="tune_target") / 100.0
if st.button("Recommend for target FAR", key="tune_recommend"):
    st.session_state["tune_recommend_on"] = True
report = None
if st.session_state.get("tune_recommend_on"):
    report = tune(scored, target, split, ranges=lp.SLIDER_RANGES)
    rec = report.recommendation
    kept = st.session_state.get("tune_kept_recommendation")
    signature = (labelled.fingerprint, str(rec.thresholds), target, str(split))
    if kept is None or kept[0] != signature:  # every new recommendation is kept once, with its held-out figures
        extra = {"target_far": target, "held_out": report.holdout, "checks": report.to_json()["checks"]}
        record = tv.lab_record(labelled, scored.with_thresholds(rec.thresholds), extra)
        st.session_state["tune_kept_recommendation"] = (signature, record, tv.keep_run(record))
    tv.show_recommendation(rec, "train" if split else "all")
    if report.checks is not None:  # computed on the rule tuned: the learned rule's own verdicts and score
        lp.show_checks(report.checks)
    st.dataframe(
        tv.recommendation_frame(rec, {"train" if split else "all": report.train, "held-out": report.holdout}),
        hide_index=True,
    )
    st.markdown("Apply changes these numbers (and the verdicts of the rules named):")
    st.dataframe(tv.recommendation_changes(rec), hide_index=True, key="tune_apply_changes")
    st.button(
        "Apply to sliders",
        key="tune_apply",
        on_click=lp.apply_with_undo,
        args=(rec,),
    )
lp.show_applied(run, scored)

# --- A/B ---------------------------------------------------------------------------
st.subheader("A/B: the sliders against another profile, on the same pairs")
lp.ab_view(run, scored, report.recommendation.thresholds if report else None)

# --- the whole set ---------------------------------------------------------------------
st.subheader(f"Every pair, as the {scored.rule} rule decides it at the current sliders")
lb.browse(labelled, scored)

# --- errors gallery ------------------------------------------------------------------
st.subheader(f"Errors of the {scored.rule} rule at the current sliders (most wrong first)")
lg.errors_gallery(run, scored)

# --- kept runs ----------------------------------------------------------------------------
st.subheader("Kept runs")
if st.button("Keep the figures at the current sliders", key="tune_keep"):
    where = tv.keep_run(tv.lab_record(labelled, scored))
    if where:
        st.caption(f"Kept: {where}")
tv.show_runs()

# --- downloads ----------------------------------------------------------------------------
st.subheader("Export")
profile = report.recommendation.thresholds if report else thresholds
held = st.session_state.get("tune_kept_recommendation") if report else None


def exported_profile() -> str:
    """The profile with its provenance (which data, which commit, which rates): the recommendation's kept run,
    or for the current sliders a run kept when the button is pressed (not on every slider move)."""
    assert labelled is not None  # the page stopped above without a set
    record = held[1] if held else tv.lab_record(labelled, scored, {"exported": True})
    if not held:
        tv.keep_run(record)
    return dumps_profile(profile, "json", record.provenance())


c1, c2 = st.columns(2)
c1.download_button(
    "Profile JSON, with its provenance" + (" (recommended)" if report else " (current sliders)"),
    exported_profile,
    "profile.json",
    "application/json",
    key="tune_download_profile",
)
# The CSV (a reason per pair) is made when the button is pressed, not on every slider move.
c2.download_button(
    "Per-pair scores CSV", lambda: scores_csv(scored, split), "scores.csv", "text/csv", key="tune_download_csv"
)
