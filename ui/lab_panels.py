"""The Tuning lab's live panels: rates with intervals, interactive charts, warnings, apply/undo, A/B, errors grid.

Widgets and layout only; the numbers come from ``vision.lab.intervals``,
``vision.lab.compare`` and ``vision.lab.charts`` on the scored set whose rule
made the verdicts.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

import ui.lab_gallery as lg
import ui.tuning_view as tv
from ui.sidebar import DECISION_CONTROLS, FUSED_CONTROLS, LEARNED_CONTROLS, apply_thresholds, current_thresholds
from vision import rules
from vision.lab.charts import (
    PAIR_SELECTION,
    inlier_histogram_from_scored,
    pair_names,
    roc_from_scored,
    scatter_from_scored,
    similarity_histogram_from_scored,
)
from vision.lab.checks import Checks
from vision.lab.compare import ABReport, compare
from vision.lab.data import LabelledSet
from vision.lab.eta import extrapolate_s
from vision.lab.intervals import Interval, rate_intervals, wilson
from vision.lab.metrics import Rates
from vision.lab.recommend import Recommendation
from vision.lab.report import comparison_rules
from vision.lab.run import TuningRun, score_original
from vision.lab.scored import ScoredSet, geometry_key
from vision.profile import Profile, loads_profile

#: Slider ranges of the decision thresholds a recommendation sets (for the edge warnings).
SLIDER_RANGES = {
    c.name: (float(c.options[0]), float(c.options[1]))
    for c in (*DECISION_CONTROLS, *FUSED_CONTROLS, *LEARNED_CONTROLS)
    if c.kind == "slider"
    and c.name in ("min_inliers", "fused_min_inliers", "fused_weight", "fused_threshold", "learned_threshold")
}
FEATURE_FIELDS = ("working_side", "max_keypoints")
ORIGINAL_SAMPLE = 2


# --------------------------------------------------------------------------
# The scored set, cached per run and geometry
# --------------------------------------------------------------------------


def cached_scored(run: TuningRun, thresholds: Profile) -> ScoredSet:
    """The run decided at ``thresholds``: the arrays are built once per geometry key, a slider move only swaps them."""
    cache: dict = st.session_state.setdefault("tune_scored_cache", {})
    rule = rules.get(thresholds.rule)
    own = tuple(getattr(thresholds, f) for f in getattr(rule, "evidence_thresholds", ()))
    key = (run.labelled.fingerprint, run.settings, geometry_key(thresholds), rule.name, own)
    held = cache.get(key)
    if held is None or held[0] is not run:  # the run itself is checked: a new run of the same set replaces it
        if len(cache) >= 4:  # a few geometry settings per session are plenty
            cache.clear()
        if not rule.geometric and run.has_features_for(rule.needs):  # its own evidence, once per evidence key
            tv.add_rule_evidence(run, thresholds)
        held = cache[key] = (run, tv.scored(run, thresholds))
    return held[1].with_thresholds(thresholds)


# --------------------------------------------------------------------------
# The original rule: opt-in, with a time estimate first
# --------------------------------------------------------------------------


def original_estimate_s(labelled: LabelledSet, workers: int) -> float:
    """Seconds the original rule would take on the whole set, from timing it on :data:`ORIGINAL_SAMPLE` pairs."""
    store = tv.run_store()
    per_pair = store.original_pace.get(labelled.fingerprint)
    if per_pair is None:
        sample = replace(labelled, pairs=labelled.pairs[:ORIGINAL_SAMPLE])
        start = time.perf_counter()
        with st.spinner(f"Timing the original rule on {len(sample.pairs)} pairs..."):
            score_original(sample, workers=1)
        per_pair = (time.perf_counter() - start) / max(len(sample.pairs), 1)
        store.original_pace[labelled.fingerprint] = per_pair
    return extrapolate_s(per_pair, 1, len(labelled.pairs), workers)


# --------------------------------------------------------------------------
# Rates with intervals
# --------------------------------------------------------------------------


def _intervals(rates: Rates) -> tuple[Interval, Interval, Interval]:
    r = rate_intervals(rates.true_accept, rates.n_positive, rates.false_accept, rates.n_negative)
    return r.far, r.tar, r.frr


def _row(rule: str, rates: Rates, auc: float) -> dict[str, Any]:
    far, tar, _ = _intervals(rates)
    return {
        "rule": rule,
        "false accepts": far.counts(),
        "FAR (95 % interval)": far.text(),
        "true accepts": tar.counts(),
        "TAR (95 % interval)": tar.text(),
        "ROC AUC": "n/a" if not np.isfinite(auc) else f"{auc:.3f}",
    }


def rates_frame(part: ScoredSet) -> pd.DataFrame:
    """The current rule's rates, then the robust (under fused) and the original rule's, with counts and intervals."""
    rows = [_row(f"{part.rule} (current)", part.rates(), part.auc())]
    for companion in rules.get(part.rule).companions:
        if part.available(companion):
            rows.append(_row(companion, part.rates(companion), part.auc(companion)))
    for other in comparison_rules(part, part.rule):
        rows.append(_row(f"{other} (for comparison)", part.rates(other), part.auc(other)))
    return pd.DataFrame(rows)


def show_rates(parts: dict[str, ScoredSet]) -> None:
    """Per part: headline metrics of the current rule with their intervals and counts, and the rules' table."""
    for name, part in parts.items():
        ok = part.ok
        positives, negatives = int(part.labels[ok].sum()), int((part.labels[ok] == 0).sum())
        unusable = len(part) - int(ok.sum())
        st.markdown(
            f"**{name}**: {int(ok.sum())} pairs ({positives} same, {negatives} different)"
            + (f", {unusable} unusable" if unusable else "")
        )
        far, tar, frr = _intervals(part.rates())
        cols = st.columns(4)
        for col, label, iv in (
            (cols[0], "False-accept rate", far),
            (cols[1], "False-reject rate", frr),
            (cols[2], "True-accept rate", tar),
        ):
            col.metric(label, "n/a" if not iv.n else f"{iv.rate:.1%}", help=f"{part.rule} rule, Wilson 95 % interval")
            col.caption(f"{iv.counts()} · 95 %: {iv.low:.1%}-{iv.high:.1%}")
        auc_label = f"ROC AUC ({rules.get(part.rule).score_name})"
        auc = part.auc()
        cols[3].metric(auc_label, "n/a" if not np.isfinite(auc) else f"{auc:.3f}")
        st.dataframe(rates_frame(part), hide_index=True, width="stretch", key=f"tune_rates_{name}")


def per_kind_frame(scored: ScoredSet) -> pd.DataFrame:
    """One row per kind: pairs, accepted with its interval, median inliers (and similarity)."""
    ok = scored.ok
    kinds = np.array([p.kind for p in scored.pairs], dtype=object)
    accepted = scored.accepted
    chosen = rules.get(scored.rule)
    others = {
        name: scored.accepted_by(name)
        for name in (*chosen.companions, *comparison_rules(scored, scored.rule))
        if scored.available(name)
    }
    rows = []
    for kind in sorted(set(kinds[ok].tolist())):
        m = ok & (kinds == kind)
        n = int(m.sum())
        row: dict[str, Any] = {
            "kind": kind,
            "truth": "same" if scored.labels[m][0] else "different",
            "accepted": wilson(int(accepted[m].sum()), n).counts(),
            f"accept % ({scored.rule}, 95 %)": wilson(int(accepted[m].sum()), n).text(),
        }
        for name, verdicts in others.items():
            row[f"{name} accept %"] = wilson(int(verdicts[m].sum()), n).text()
        row["median inliers"] = float(np.median(scored.inliers[m]))
        if scored.similarity is not None:
            sims = scored.similarity[m & scored.has_similarity]
            row["median similarity"] = round(float(np.median(sims)), 3) if sims.size else None
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# Charts and the pair a click opens
# --------------------------------------------------------------------------


def show_charts(scored: ScoredSet, parts: dict[str, ScoredSet], run: TuningRun) -> None:
    """Scatter (click a pair to open its match view), histograms and ROC, all Altair."""
    scatter = scatter_from_scored(scored)
    if scatter is not None:
        st.markdown("**Inliers vs similarity**: hover a point for its pair, click it to open its match view.")
        event = st.vega_lite_chart(
            spec=scatter.to_dict(),
            on_select="rerun",
            selection_mode=PAIR_SELECTION,
            key="tune_scatter",
            width="stretch",
        )
        st.caption(tv.boundary_caption(scored))
        picked = (event.selection.get(PAIR_SELECTION) or []) if event is not None else []
        if picked:
            lg.show_pair(int(picked[0]["position"]), run, scored)
    left, right = st.columns(2)
    with left:
        st.vega_lite_chart(spec=inlier_histogram_from_scored(scored).to_dict(), width="stretch")
        sims = similarity_histogram_from_scored(scored)
        if sims is not None:
            st.vega_lite_chart(spec=sims.to_dict(), width="stretch")
        st.caption("Score histograms: inliers (and similarity) of same vs different pairs; dashed: the thresholds")
    with right:
        st.vega_lite_chart(spec=roc_from_scored(parts).to_dict(), width="stretch")
        score_name = rules.get(scored.rule).score_name
        st.caption(f"ROC curve of the {score_name}, current operating point and the other rules")


# --------------------------------------------------------------------------
# Recommendation: warnings, apply with before/after, undo
# --------------------------------------------------------------------------


def show_checks(checks: Checks) -> None:
    """A recommendation's sample-size warnings, then the nearest different pair of each way the rule accepts."""
    for warning in checks.warnings:
        st.warning(warning)
    if checks.nearest:
        parts = [
            f"{n.path}: {n.value:g} {n.units} vs {n.threshold:g} (margin {n.margin:.3g}, {n.short} inliers short)"
            for n in checks.nearest
        ]
        st.caption(f"Nearest rejected different pair ({checks.rule} rule, on the pairs tuned on): " + "; ".join(parts))


def apply_with_undo(rec: Recommendation) -> None:
    """``on_click``: apply the recommendation and remember the thresholds before, for the undo and the A/B view."""
    before = current_thresholds()
    tv.apply_recommendation(rec)
    st.session_state["tune_applied"] = (before, current_thresholds())


def undo_apply() -> None:
    """``on_click``: put the thresholds from before the last Apply back."""
    applied = st.session_state.pop("tune_applied", None)
    if applied is not None:
        apply_thresholds(applied[0])


def changed_fields(before: Profile, after: Profile) -> pd.DataFrame:
    """``threshold, before, after`` for every field that differs."""
    a, b = before.to_dict(), after.to_dict()
    rows = [{"threshold": k, "before": str(a[k]), "after": str(b[k])} for k in a if a[k] != b[k]]
    return pd.DataFrame(rows, columns=["threshold", "before", "after"])


def on_features(profile: Profile, run_profile: Profile) -> Profile:
    """``profile`` with the run's feature settings (its decision and geometry thresholds kept)."""
    return replace(profile, **{f: getattr(run_profile, f) for f in FEATURE_FIELDS})


def show_applied(run: TuningRun, scored: ScoredSet) -> None:
    """After an Apply: what changed, the rates before and after it (with intervals), and Undo."""
    applied = st.session_state.get("tune_applied")
    if applied is None:
        return
    before, after = applied
    with st.container(border=True):
        st.markdown("**Applied to the sliders**: before and after on this set")
        st.dataframe(changed_fields(before, after), hide_index=True, key="tune_applied_fields")
        # The profile Apply put on the sliders, not the sliders now (they may have moved since).
        sets = [cached_scored(run, on_features(p, scored.thresholds)) for p in (before, after)]
        show_ab(run, sets[0], sets[1], ("before", "after"), key="tune_applied_ab", flips=False)
        st.button("Undo: put the previous thresholds back", key="tune_undo", on_click=undo_apply)


# --------------------------------------------------------------------------
# A/B
# --------------------------------------------------------------------------


def ab_report(a: ScoredSet, b: ScoredSet) -> ABReport:
    """:func:`vision.lab.compare.compare` of two decisions of the same pairs."""
    kinds = [p.kind for p in a.pairs]
    return compare(a.labels, kinds, pair_names(a), a.accepted, b.accepted, a.ok & b.ok)


def show_ab(
    run: TuningRun, a: ScoredSet, b: ScoredSet, names: tuple[str, str], key: str, flips: bool = True
) -> ABReport:
    """Rates of A and B with intervals, per kind side by side, and (optionally) the pairs that flip."""
    report = ab_report(a, b)
    rows = []
    for name, scored, rates in ((names[0], a, report.a), (names[1], b, report.b)):
        rows.append(
            {
                "profile": f"{name} ({scored.rule})",
                "false accepts": rates.far.counts(),
                "FAR (95 % interval)": rates.far.text(),
                "true accepts": rates.tar.counts(),
                "TAR (95 % interval)": rates.tar.text(),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key=f"{key}_rates")
    kinds = pd.DataFrame(
        [
            {
                "kind": r.kind,
                "truth": "same" if r.label else "different",
                f"{names[0]} accepted": r.a.counts(),
                f"{names[0]} accept % (95 %)": r.a.text(),
                f"{names[1]} accepted": r.b.counts(),
                f"{names[1]} accept % (95 %)": r.b.text(),
            }
            for r in report.kinds
        ]
    )
    st.dataframe(kinds, hide_index=True, width="stretch", key=f"{key}_kinds")
    summary = (
        f"{len(report.flips)} pairs flip: {names[1]} gets {report.fixed_by_b} right that {names[0]} got wrong, "
        f"and {report.broken_by_b} wrong that {names[0]} got right."
    )
    st.markdown(summary)
    if flips and report.flips:
        frame = pd.DataFrame(
            [
                {
                    "pair": f.name,
                    "kind": f.kind,
                    "truth": "same" if f.label else "different",
                    names[0]: "accept" if f.a_accepts else "reject",
                    names[1]: "accept" if f.b_accepts else "reject",
                    "right": names[0] if f.right == "A" else names[1],
                }
                for f in report.flips
            ]
        )
        st.dataframe(frame, hide_index=True, width="stretch", key=f"{key}_flips")
        choice = st.selectbox(
            "Open a flipped pair's match view",
            [None, *range(len(report.flips))],
            format_func=lambda i: "-" if i is None else report.flips[i].name,
            key=f"{key}_open",
        )
        if choice is not None:
            lg.show_pair(report.flips[choice].position, run, b)
    return report


AB_SOURCES = ("Recommendation", "Before the last Apply", "Profile file (JSON or TOML)")


def profile_b(recommended: Profile | None) -> Profile | None:
    """Profile B as chosen: the recommendation, the thresholds before the last Apply, or an uploaded file."""
    source = st.radio("Profile B", AB_SOURCES, horizontal=True, key="tune_ab_source")
    if source == AB_SOURCES[0]:
        if recommended is None:
            st.caption("Press **Recommend for target FAR** first.")
        return recommended
    if source == AB_SOURCES[1]:
        applied = st.session_state.get("tune_applied")
        if applied is None:
            st.caption("Nothing applied yet.")
            return None
        return applied[0]
    upload = st.file_uploader("Profile B file", type=["json", "toml"], key="tune_ab_file")
    if upload is None:
        return None
    try:
        return loads_profile(upload.getvalue().decode("utf-8", errors="replace"))
    except ValueError as exc:
        st.error(f"{upload.name[:80]!r} is not a usable profile: {exc}")
        return None


def ab_view(run: TuningRun, a: ScoredSet, recommended: Profile | None) -> None:
    """A = the current sliders, B = another profile, decided on the same cached matches."""
    b_thresholds = profile_b(recommended)
    if b_thresholds is None:
        return
    differ = [f for f in FEATURE_FIELDS if getattr(b_thresholds, f) != getattr(a.thresholds, f)]
    if differ:
        st.caption(
            f"B's feature settings ({', '.join(differ)}) differ: B is decided on this run's features, "
            "with its own decision and geometry thresholds."
        )
        b_thresholds = on_features(b_thresholds, a.thresholds)
    show_ab(run, a, cached_scored(run, b_thresholds), ("A: sliders", "B"), key="tune_ab")
