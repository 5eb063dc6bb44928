"""Widgets and caches of the Tuning page (the computing lives in ``vision.lab``).

Runs are kept in a server-wide store (``st.cache_resource``) keyed by the
labelled set's fingerprint and the feature settings, so moving a slider, or
coming back to the page, reuses the expensive step; the original note's
scores, which depend on no setting, are kept per set.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from ui.disputes_view import disputes_set
from ui.photo import SAMPLES_DIR
from ui.sidebar import apply_thresholds, current_thresholds
from vision.core.errors import ImageInputError
from vision.core.settings import load_settings
from vision.lab.data import LabelledSet, LabelledSetError, open_folder, open_zip
from vision.lab.eta import SteadyEta, eta_text
from vision.lab.intervals import rate_intervals
from vision.lab.pool import Progress, lab_workers
from vision.lab.recommend import Recommendation, threshold_changes
from vision.lab.report import comparison_rules
from vision.lab.run import TuningRun, score_original
from vision.lab.runs import RunRecord, archive_from_settings, compare, content_hash, record_of
from vision.lab.scored import OriginalScores, ScoredSet
from vision.matchers.akaze import FeatureSettings, decode_working
from vision.profile import Profile
from vision.rules import get as get_rule
from vision.rules.base import Needs
from vision.rules.fusion import FUSED_FIELDS, geometry_alone_inliers

SOURCES = ("Bundled samples", "Folder on the server", "Upload a zip", "Disputes")
DEFAULT_SERVER_FOLDER = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
MAX_RUNS = 6
GALLERY_STEP = 9  # three rows of the errors grid


class RunStore:
    """Runs per (set fingerprint, feature settings) and original scores per set, LRU-bounded."""

    def __init__(self, max_runs: int = MAX_RUNS) -> None:
        self.max_runs = max_runs
        self.runs: OrderedDict[tuple[str, FeatureSettings], TuningRun] = OrderedDict()
        self.originals: dict[str, OriginalScores] = {}
        #: Seconds per pair of the original rule, timed on a sample, per set fingerprint.
        self.original_pace: dict[str, float] = {}
        self.lock = threading.Lock()

    def get(self, labelled: LabelledSet, settings: FeatureSettings) -> TuningRun | None:
        with self.lock:
            run = self.runs.get((labelled.fingerprint, settings))
            if run is not None:
                self.runs.move_to_end((labelled.fingerprint, settings))
                if run.original is None and labelled.fingerprint in self.originals:
                    run.original = self.originals[labelled.fingerprint]
            return run

    def put(self, labelled: LabelledSet, run: TuningRun) -> None:
        with self.lock:
            self.runs[(labelled.fingerprint, run.settings)] = run
            while len(self.runs) > self.max_runs:
                self.runs.popitem(last=False)
            if run.original is not None:
                self.originals[labelled.fingerprint] = run.original


@st.cache_resource(show_spinner=False)
def run_store() -> RunStore:
    """The server-wide store of tuning runs."""
    return RunStore()


def choose_set() -> LabelledSet | None:
    """The labelled set picker: bundled samples, a server folder, an uploaded zip or the disputed pairs."""
    source = st.radio("Labelled set", SOURCES, horizontal=True, key="tune_source")
    try:
        if source == SOURCES[0]:
            return open_folder(SAMPLES_DIR, name="bundled samples")
        if source == SOURCES[1]:
            default = str(DEFAULT_SERVER_FOLDER) if DEFAULT_SERVER_FOLDER.is_dir() else ""
            folder = st.text_input("Folder with pairs.csv", value=default, key="tune_folder")
            return open_folder(folder) if folder else None
        if source == SOURCES[3]:
            return disputes_set()
        return _uploaded_set()
    except LabelledSetError as exc:
        st.error(f"Not a usable labelled set: {exc}")
        return None


def _uploaded_set() -> LabelledSet | None:
    upload = st.file_uploader(
        "Zip with pairs.csv and the images (at its root or in one folder)", type=["zip"], key="tune_zip"
    )
    if upload is None:
        return None
    held = st.session_state.get("tune_zip_set")
    if held is not None and held[0] == upload.file_id:
        return held[1]
    # The previous upload's files go when nothing (no cached run) refers to it any more.
    labelled = open_zip(upload.getvalue(), upload.name)
    st.session_state["tune_zip_set"] = (upload.file_id, labelled)
    return labelled


def _progress_reporter(bar: Any) -> Callable[[Progress], None]:
    eta = SteadyEta()

    def report(state: Progress) -> None:
        left = eta_text(eta.update(state.stage, state.done, state.total, state.elapsed_s))
        text = f"{state.stage} ({state.stage_index}/{state.n_stages}): {state.done}/{state.total}"
        bar.progress(state.fraction, text=f"{text}, {left}" if left else text)

    return report


def run_with_progress(
    labelled: LabelledSet, settings: FeatureSettings, with_original: bool, needs: Needs = Needs()
) -> TuningRun:
    """Build a run (features, matches, what the profile's rule ``needs``, the original rule if asked) under a bar."""
    store = run_store()
    bar = st.progress(0.0, text="Starting...")
    original: OriginalScores | bool = store.originals.get(labelled.fingerprint) or with_original
    run = TuningRun.build(
        labelled,
        settings,
        workers=lab_workers(),
        on_progress=_progress_reporter(bar),
        original=original,
        learned=needs.xfeat,
    )
    store.put(labelled, run)
    bar.empty()
    return run


def add_rule_evidence(run: TuningRun, thresholds: Profile) -> None:
    """The profile's rule's own per-pair evidence (XFeat + LighterGlue for the learned rule), under a bar.

    Cached on disk per pair (:mod:`vision.lab.cache`) and in the run per evidence threshold, so a decision
    slider never recomputes it.
    """
    rule = get_rule(thresholds.rule)
    if run.has_rule_evidence(rule.name, thresholds):
        return
    bar = st.progress(0.0, text=f"The {rule.name} rule's own evidence on every pair...")
    run.add_rule(rule.name, thresholds, _progress_reporter(bar))
    bar.empty()


def add_original(run: TuningRun) -> None:
    """Score the original rule for a run that lacks it, under a progress bar."""
    bar = st.progress(0.0, text="Original rule...")
    run.original = score_original(run.labelled, run.workers, _progress_reporter(bar))
    run.timings_s["original"] = run.original.seconds
    run_store().put(run.labelled, run)
    bar.empty()


def scored(run: TuningRun, thresholds: Profile) -> ScoredSet:
    """The run decided at ``thresholds`` (reruns RANSAC with a bar only for new ratio/RANSAC settings)."""
    if run.has_evidence(thresholds):
        return run.scored(thresholds)
    bar = st.progress(0.0, text="Ratio test and homographies...")
    result = run.scored(thresholds, _progress_reporter(bar))
    bar.empty()
    return result


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def rule_caption(scored_set: ScoredSet) -> str:
    """Which rule the figures follow, and why (the profile's, unless this run lacks its evidence)."""
    shown, asked = scored_set.rule, scored_set.thresholds.rule
    label = get_rule(shown).label
    others = ", ".join((*get_rule(shown).companions, *comparison_rules(scored_set, shown)))
    beside = f"; {others} beside it for comparison" if others else ""
    if shown == asked:
        return f"Figures follow the **{label}** rule, the profile's{beside}."
    return f"Figures follow the **{label}** rule: this run lacks the evidence of the profile's {asked} rule{beside}."


def _recommendation_row(part: str, rule: str, f: dict, counts: dict) -> dict:
    """One part and rule: counts out of the part's pairs and Wilson intervals (so a held-out 0 % reads as 0 / 7)."""
    r = rate_intervals(counts["true_accepts"], f["positives"], counts["false_accepts"], f["negatives"])
    return {
        "part": part,
        "rule": rule,
        "pairs": f["processed"],
        "false accepts": r.far.counts(),
        "FAR (95 % interval)": r.far.text(),
        "true accepts": r.tar.counts(),
        "TAR (95 % interval)": r.tar.text(),
    }


def recommendation_frame(rec: Recommendation, parts: dict[str, dict | None]) -> pd.DataFrame:
    """The recommended thresholds' figures per part (train / held-out): the current rule's, and the robust
    rule's under fused, each with its counts and 95 % interval."""
    rows = []
    for name, f in parts.items():
        if f is None:
            continue
        rows.append(_recommendation_row(name, f["rule"], f, f))
        for companion in get_rule(f["rule"]).companions:
            if companion in f:
                rows.append(_recommendation_row(name, companion, f, f[companion]))
    return pd.DataFrame(rows)


RECOMMENDED_FIELDS = ("min_inliers", "min_area_fraction", *FUSED_FIELDS)


def apply_recommendation(rec: Recommendation) -> None:
    """``on_click``: put every recommended number that differs on the sliders (:func:`recommendation_changes`)."""
    now = current_thresholds()
    changed = {row["threshold"]: row["after"] for row in threshold_changes(now, rec.thresholds)}
    apply_thresholds(replace(now, **changed))


def recommendation_changes(rec: Recommendation) -> pd.DataFrame:
    """What Apply would change: each number, before and after, and the rules whose verdicts it moves."""
    rows = threshold_changes(current_thresholds(), rec.thresholds)
    return pd.DataFrame(rows, columns=["threshold", "before", "after", "rules"]).astype(str)


def show_recommendation(rec: Recommendation, trained_on: str) -> None:
    """The pick of the rule tuned: the learned rule's threshold, or the robust and the fused rule's side by side."""
    t = rec.thresholds
    if rec.learned is not None:
        m = rec.learned
        below = "none rejected" if m["margin_below"] is None else f"margin {m['margin_below']:g}"
        above = "none accepted" if m["margin_above"] is None else f"margin {m['margin_above']:g}"
        st.markdown(
            f"##### Learned rule\n**learned threshold = {m['learned_threshold']:g}** (tuned on {trained_on} pairs, "
            f"AKAZE alone still from {t.min_inliers} inliers). Nearest different pair below it: {below}; "
            f"weakest same pair above it: {above} (in score units, log(1 + inliers) + w x similarity)."
        )
        return
    left, right = st.columns(2)
    with left:
        st.markdown("##### Robust rule (inliers only)")
        st.markdown(
            f"**min inliers = {t.min_inliers}**, **min outline area = {t.min_area_fraction:.1%}** "
            f"(tuned on {trained_on} pairs). The nearest rejected different pair has "
            f"{rec.highest_rejected_negative:g} inliers (margin {rec.margin_below:g}); the weakest accepted "
            f"same pair has {rec.lowest_accepted_positive:g} (margin {rec.margin_above:g}). The smallest "
            f"threshold with the same training figures is {rec.tightest_min_inliers}."
        )
        if not rec.feasible:
            st.warning("No threshold in the slider's range meets the target on these pairs.")
    with right:
        st.markdown("##### Fused rule (inliers + similarity)")
        f = rec.fused
        if f is None:
            st.caption("This run has no global descriptors: nothing to pick.")
            return
        st.markdown(
            f"**fused threshold = {f['fused_threshold']:g}**, **weight = {f['fused_weight']:g}**, "
            f"**geometric minimum = {f['fused_min_inliers']} inliers**; geometry alone from "
            f"{geometry_alone_inliers(t)} inliers (robust pick: min inliers = {t.min_inliers}). On the {trained_on} "
            f"pairs: TAR "
            f"{_pct(f['true_accept_rate'])}, FAR {_pct(f['false_accept_rate'])}; FAR "
            f"{_pct(f['stressed_false_accept_rate'])} even if every different pair had "
            f"{f['fused_min_inliers']} inliers. Margin to the nearest pairs: "
            f"{f['similarity_margin']:.3f} in similarity."
        )


def boundary_caption(scored_set: ScoredSet) -> str:
    """The scatter's caption: what is drawn and the boundary's current thresholds."""
    t = scored_set.thresholds
    n = int((scored_set.ok & scored_set.has_similarity).sum())
    return (
        f"Inliers vs similarity: {n} pairs (same green, different red; ringed: wrong under the "
        f"{scored_set.rule} rule). Fused decision boundary: log(1 + inliers) + {t.fused_weight:g} x similarity "
        f">= {t.fused_threshold:g} with at least {t.fused_min_inliers} inliers; geometry alone from "
        f"{geometry_alone_inliers(t)} inliers (dashed: min inliers = {t.min_inliers})."
    )


@st.cache_data(show_spinner=False, max_entries=128)
def working_photo(path: str, fingerprint: str, working_side: int) -> np.ndarray | None:
    """A set's image at working resolution (BGR), or None when unreadable; cached for the gallery."""
    try:
        return decode_working(Path(path).read_bytes(), FeatureSettings(working_side=working_side))[0]
    except (OSError, ImageInputError):
        return None


# --------------------------------------------------------------------------
# Kept runs (vision.lab.runs): every recommendation and every "Keep", side by side
# --------------------------------------------------------------------------


@st.cache_data(show_spinner="Hashing the set's content...", max_entries=16)
def _data_hash(fingerprint: str, _labelled: LabelledSet) -> str:
    return content_hash(_labelled)


def lab_record(labelled: LabelledSet, scored_set: ScoredSet, extra: dict | None = None) -> RunRecord:
    """The record of the figures on screen (the current rule at the current sliders)."""
    return record_of("lab", labelled, scored_set, extra, data_hash=_data_hash(labelled.fingerprint, labelled))


def keep_run(record: RunRecord) -> str | None:
    """Save ``record`` in the configured archive; the error is shown, never raised."""
    try:
        return archive_from_settings(load_settings()).save(record)
    except Exception as exc:  # a full disk or an unreachable bucket must not break the page
        st.error(f"The run could not be kept: {type(exc).__name__}: {exc}")
        return None


def show_runs() -> None:
    """The kept runs, newest first, and any two of them side by side."""
    try:
        records = archive_from_settings(load_settings()).recent(50)
    except Exception as exc:
        st.error(f"The kept runs cannot be read: {type(exc).__name__}: {exc}")
        return
    if not records:
        st.caption("No run kept yet: Recommend or Keep saves one.")
        return
    frame = pd.DataFrame(
        [
            {
                "run": r.run_id,
                "kind": r.kind,
                "data": f"{r.data.get('name')} ({r.data.get('pairs')} pairs, {str(r.data.get('content_hash'))[:10]})",
                "commit": r.commit[:12],
                "rule": r.rule,
                "TAR": r.figures.get("true_accept_rate"),
                "FAR": r.figures.get("false_accept_rate"),
            }
            for r in records
        ]
    )
    st.dataframe(frame, hide_index=True, key="tune_runs_table")
    ids = [r.run_id for r in records]
    left, right = st.columns(2)
    a = left.selectbox("Run A", ids, index=min(1, len(ids) - 1), key="tune_run_a")
    b = right.selectbox("Run B", ids, index=0, key="tune_run_b")
    by_id = {r.run_id: r for r in records}
    diff = compare(by_id[a], by_id[b])
    if not diff["same_data"]:
        st.warning("The two runs were measured on different data (content hashes differ).")
    st.dataframe(
        pd.DataFrame([{"figure": k, "A": v["a"], "B": v["b"]} for k, v in diff["figures"].items()]).astype(str),
        hide_index=True,
        key="tune_runs_figures",
    )
    changed = diff["changed_thresholds"]
    st.caption(
        "Thresholds that differ: " + (", ".join(f"{k} {v['a']} -> {v['b']}" for k, v in changed.items()) or "none")
    )
    st.dataframe(
        pd.DataFrame([{"kind": k, "A": v["a"], "B": v["b"]} for k, v in diff["per_kind"].items()]).astype(str),
        hide_index=True,
        key="tune_runs_kinds",
    )
