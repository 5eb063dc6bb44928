"""Interactive figures of the tuning lab: Vega-Lite specs authored with Altair, data kept apart.

Streamlit draws them in the browser (``st.vega_lite_chart``, the component
behind ``st.altair_chart``), so a slider move re-sends a few hundred numbers
instead of re-rendering PNGs.  Building an Altair chart costs about 0.1 s of
schema work per chart, so each chart's *structure* is authored once with
Altair and cached as a Vega-Lite dict (:func:`functools.lru_cache`) whose
layers read named datasets; everything a slider moves (the pairs, the
threshold lines, the ROC points) is data, filled in per call
(:class:`ChartSpec`).

The builders take arrays and numbers, never a :class:`ScoredSet`; the
``*_from_scored`` adapters at the bottom gather those arrays from one, so
that every line drawn comes from the rule that made the verdicts.

* :func:`histogram_chart`: counts of same and different pairs per bin, with
  the current thresholds as labelled vertical rules;
* :func:`roc_chart`: ROC curves with a logarithmic false-accept axis (symlog:
  linear below 1 %, so that a rate of 0 is on it), operating points, and the
  legend under the plot;
* :func:`scatter_chart`: every pair in the (inliers, similarity) plane with the
  fused rule's boundary; hovering names the pair, clicking selects it
  (selection :data:`PAIR_SELECTION`, field ``position``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from vision import rules
from vision.lab.chart_spec import (  # noqa: F401  (re-exported: the charts' names)
    DASHES,
    DIFFERENT,
    FAR_LINTHRESH,
    FAR_TICKS,
    INLIER_TICKS,
    LABEL_FONT,
    LABEL_NAMES,
    LINTHRESH,
    ORIGINAL,
    PAIR_SELECTION,
    POINT,
    ROBUST,
    ROBUST_ROC,
    SAME,
    TITLE_FONT,
    ChartSpec,
    named_data,
    style_chart,
)
from vision.lab.metrics import Rates
from vision.lab.report import comparison_rules, score_histogram, similarity_histogram
from vision.lab.scored import ScoredSet
from vision.rules.fusion import fused_boundary

# --------------------------------------------------------------------------
# Histograms
# --------------------------------------------------------------------------


def histogram_frame(
    edges: Sequence[float] | np.ndarray, same: Sequence[int] | np.ndarray, different: Sequence[int] | np.ndarray
) -> pd.DataFrame:
    """Long table of a histogram: ``start, end, pairs, label`` per bin and label ((2 B,) rows, B bins)."""
    e = np.asarray(edges, float)
    if e.size < 2:
        return pd.DataFrame({"start": [], "end": [], "pairs": [], "label": []})
    rows = {
        "start": np.concatenate([e[:-1], e[:-1]]),
        "end": np.concatenate([e[1:], e[1:]]),
        "pairs": np.concatenate([np.asarray(same, int), np.asarray(different, int)]),
        "label": ["same"] * (e.size - 1) + ["different"] * (e.size - 1),
    }
    return pd.DataFrame(rows)


@functools.lru_cache(maxsize=8)
def _histogram_template(x_title: str, symlog: bool, height: int, panels: bool = False) -> dict[str, Any]:
    """Bars per bin and label with the threshold rules; ``panels``: one panel per label, each its own count axis.

    Separate panels because a spike of hundreds of different pairs at 0 inliers flattens the
    same pairs' bars to a few pixels on a shared count axis (issue 19); the x axis stays shared
    so the thresholds line up.
    """
    scale = alt.Scale(type="symlog", constant=LINTHRESH) if symlog else alt.Scale(zero=False)
    axis = alt.Axis(values=list(INLIER_TICKS), grid=False) if symlog else alt.Axis()
    colour = alt.Color(
        "label:N",
        scale=alt.Scale(domain=["same", "different"], range=[SAME, DIFFERENT]),
        legend=None if panels else alt.Legend(title=None, orient="top"),
    )
    bars = (
        alt.Chart(named_data("bins"))
        .mark_rect(opacity=0.6)
        .encode(
            x=alt.X("start:Q", scale=scale, axis=axis, title=x_title),
            x2="end:Q",
            y=alt.Y("pairs:Q", stack=None, title="pairs"),
            color=colour,
            tooltip=[
                alt.Tooltip("label:N", title="pairs"),
                alt.Tooltip("start:Q", title="from", format=".3~g"),
                alt.Tooltip("end:Q", title="to", format=".3~g"),
                alt.Tooltip("pairs:Q", title="count"),
            ],
        )
    )
    marks = alt.Chart(named_data("marks"))
    rules = marks.mark_rule(color=POINT, strokeDash=[5, 3], strokeWidth=1.5).encode(x="value:Q")
    # One text line per mark (``row``), so that two close thresholds do not print over each other.
    names = marks.mark_text(align="left", baseline="top", dx=4, fontSize=13, color=POINT).encode(
        x="value:Q", y=alt.Y("ypx:Q", scale=None), text="name:N"
    )
    if not panels:
        return style_chart(alt.layer(bars, rules, names).properties(height=height, width="container"))
    rows = [
        alt.layer(bars.transform_filter(alt.datum.label == label), rules, names)
        .resolve_scale(y="independent")
        .properties(title=f"{label} pairs", height=height // 2, width="container")
        for label in ("same", "different")
    ]
    return style_chart(alt.vconcat(*rows).resolve_scale(x="shared", y="independent"))


def histogram_chart(
    frame: pd.DataFrame,
    x_title: str,
    marks: Sequence[tuple[float, str]] = (),
    symlog: bool = False,
    height: int = 340,
    panels: bool = False,
) -> ChartSpec:
    """Same and different pairs per bin (overlaid, translucent, or with ``panels`` one panel each with its own
    count axis), with vertical rules at ``marks`` ``(value, name)``."""
    rules = pd.DataFrame(
        {
            "value": [float(v) for v, _ in marks],
            "name": [n for _, n in marks],
            "ypx": [4 + 17 * k for k in range(len(marks))],
        }
    )
    return ChartSpec(_histogram_template(x_title, symlog, height, panels), {"bins": frame, "marks": rules})


# --------------------------------------------------------------------------
# ROC
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RocLine:
    """One curve: its legend name (stable while sliders move), points, colour and dash."""

    name: str
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    colour: str
    dash: str = "solid"
    auc: float = float("nan")


@dataclass(frozen=True)
class OperatingPoint:
    """A rule's current operating point, with its counts for the tooltip."""

    name: str
    far: float
    tar: float
    false_accepts: int
    negatives: int
    true_accepts: int
    positives: int
    colour: str
    shape: str = "circle"
    rule: str = ""


def roc_frame(lines: Sequence[RocLine]) -> pd.DataFrame:
    """Long table ``curve, far, tar, threshold, auc`` of every curve's points (infinite thresholds as None)."""
    parts = [
        pd.DataFrame(
            {
                "curve": line.name,
                "far": np.asarray(line.fpr, float),
                "tar": np.asarray(line.tpr, float),
                "threshold": [None if not np.isfinite(t) else float(t) for t in line.thresholds],
                "auc": None if not np.isfinite(line.auc) else round(float(line.auc), 3),
            }
        )
        for line in lines
    ]
    if not parts:
        return pd.DataFrame(columns=["curve", "far", "tar", "threshold", "auc"])
    return pd.concat(parts, ignore_index=True)


def points_frame(points: Sequence[OperatingPoint]) -> pd.DataFrame:
    """One row per operating point: ``curve, far, tar, rule, false accepts, true accepts``."""
    return pd.DataFrame(
        {
            "curve": [p.name for p in points],
            "far": [p.far for p in points],
            "tar": [p.tar for p in points],
            "rule": [p.rule for p in points],
            "false accepts": [f"{p.false_accepts} / {p.negatives}" for p in points],
            "true accepts": [f"{p.true_accepts} / {p.positives}" for p in points],
        }
    )


@functools.lru_cache(maxsize=16)
def _roc_template(
    curves: tuple[tuple[str, str, str], ...], points: tuple[tuple[str, str, str], ...], height: int
) -> dict[str, Any]:
    """Curves ``(name, colour, dash)`` and points ``(name, colour, shape)``: the legend's entries and styles."""
    far_axis = alt.X(
        "far:Q",
        scale=alt.Scale(type="symlog", constant=FAR_LINTHRESH, domain=[0, 1]),
        axis=alt.Axis(values=list(FAR_TICKS), format=".1~%", labelOverlap=False),
        title="false-accept rate (log scale; linear below 1 %)",
    )
    tar_axis = alt.Y("tar:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%"), title="true-accept rate")
    legend = alt.Legend(title=None, orient="bottom", direction="vertical", columns=1)
    colour_scale = alt.Scale(domain=[c[0] for c in curves + points], range=[c[1] for c in curves + points])
    lines = (
        alt.Chart(named_data("curves"))
        .mark_line(interpolate="step-after", strokeWidth=2)
        .encode(
            x=far_axis,
            y=tar_axis,
            color=alt.Color("curve:N", scale=colour_scale, legend=legend),
            strokeDash=alt.StrokeDash(
                "curve:N",
                scale=alt.Scale(domain=[c[0] for c in curves], range=[DASHES[c[2]] for c in curves]),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip("curve:N"),
                alt.Tooltip("auc:Q", title="AUC", format=".3f"),
                alt.Tooltip("threshold:Q", format=".3~f", title="accept from"),
                alt.Tooltip("far:Q", format=".1%", title="FAR"),
                alt.Tooltip("tar:Q", format=".1%", title="TAR"),
            ],
        )
    )
    dots = (
        alt.Chart(named_data("points"))
        .mark_point(size=140, filled=True, stroke=POINT, strokeWidth=1.2, opacity=1)
        .encode(
            x="far:Q",
            y="tar:Q",
            color=alt.Color("curve:N", scale=colour_scale, legend=legend),
            shape=alt.Shape(
                "curve:N", scale=alt.Scale(domain=[p[0] for p in points], range=[p[2] for p in points]), legend=None
            ),
            tooltip=["curve:N", "rule:N", "false accepts:N", "true accepts:N"],
        )
    )
    chance = (
        alt.Chart(alt.Data(values=[{"far": 0.0, "tar": 0.0}, {"far": 1.0, "tar": 1.0}]))
        .mark_line(color="#bbbbbb")
        .encode(x="far:Q", y="tar:Q")
    )
    return style_chart(alt.layer(chance, lines, dots).properties(height=height, width="container"))


def roc_chart(lines: Sequence[RocLine], points: Sequence[OperatingPoint], height: int = 560) -> ChartSpec:
    """ROC curves (step after) on a symlog false-accept axis, operating points on top, legend under the plot."""
    template = _roc_template(
        tuple((line.name, line.colour, line.dash) for line in lines),
        tuple((p.name, p.colour, p.shape) for p in points),
        height,
    )
    return ChartSpec(template, {"curves": roc_frame(lines), "points": points_frame(points)})


# --------------------------------------------------------------------------
# Scatter
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _scatter_template(height: int) -> dict[str, Any]:
    x_scale = alt.Scale(type="symlog", constant=LINTHRESH, nice=False)
    x_axis = alt.Axis(values=list(INLIER_TICKS), gridOpacity=0.5)
    y_scale = alt.Scale(zero=False, nice=False)
    pick = alt.selection_point(name=PAIR_SELECTION, fields=["position"], on="click", clear="dblclick")
    base = alt.Chart(named_data("pairs")).encode(
        x=alt.X(
            "x:Q", scale=x_scale, axis=x_axis, title="inliers of a plausible homography (0 = none; log scale above 10)"
        ),
        y=alt.Y("similarity:Q", scale=y_scale, title="similarity of the global descriptors"),
        tooltip=[
            alt.Tooltip("pair:N"),
            alt.Tooltip("kind:N"),
            alt.Tooltip("label:N", title="truth"),
            alt.Tooltip("verdict:N"),
            alt.Tooltip("inliers:Q", format=".0f"),
            alt.Tooltip("similarity:Q", format=".3f"),
            alt.Tooltip("outline:Q", format=".1%"),
        ],
    )
    points = (
        base.mark_point(filled=True, size=60)
        .encode(
            color=alt.Color(
                "label:N",
                scale=alt.Scale(domain=["same", "different"], range=[SAME, DIFFERENT]),
                legend=alt.Legend(title="truth", orient="right"),
            ),
            shape=alt.Shape(
                "label:N", scale=alt.Scale(domain=["same", "different"], range=["circle", "cross"]), legend=None
            ),
            opacity=alt.condition(pick, alt.value(0.85), alt.value(0.25)),
        )
        .add_params(pick)
    )
    rings = base.transform_filter(alt.datum.wrong).mark_point(size=260, color=POINT, strokeWidth=1.2, filled=False)
    edge = (
        alt.Chart(named_data("boundary"))
        .mark_line(color=POINT, strokeWidth=2)
        .encode(x=alt.X("x:Q", scale=x_scale), y=alt.Y("similarity:Q", scale=y_scale), order="order:Q")
    )
    robust = (
        alt.Chart(named_data("robust"))
        .mark_rule(color=ROBUST, strokeDash=[6, 3], strokeWidth=1.5)
        .encode(x=alt.X("x:Q", scale=x_scale))
    )
    return style_chart(alt.layer(edge, robust, rings, points).properties(height=height, width="container"))


def scatter_chart(
    frame: pd.DataFrame, boundary: tuple[np.ndarray, np.ndarray], min_inliers: float, height: int = 480
) -> ChartSpec:
    """Pairs in the (inliers, similarity) plane, the fused boundary and the robust rule's ``min_inliers``.

    ``frame`` has one row per pair: ``position`` (selection key), ``pair`` (name),
    ``kind``, ``label`` (``same``/``different``), ``x`` (inliers, jittered at 0),
    ``inliers``, ``similarity``, ``outline`` (fraction), ``verdict`` and ``wrong`` (bool).
    Wrong pairs are ringed.  Clicking a point selects it (:data:`PAIR_SELECTION`).
    The axes span the pairs, the boundary and the dashed ``min_inliers`` line.
    """
    xs, ys = (np.asarray(a, float) for a in boundary)
    line = pd.DataFrame({"x": xs, "similarity": ys, "order": np.arange(xs.size)})
    robust = pd.DataFrame({"x": [float(min_inliers)]})
    return ChartSpec(_scatter_template(height), {"pairs": frame, "boundary": line, "robust": robust})


# --------------------------------------------------------------------------
# From a scored set (the arrays of the rule that made the verdicts)
# --------------------------------------------------------------------------


def pair_names(scored: ScoredSet) -> list[str]:
    """``ref vs query`` per pair."""
    return [f"{p.ref} vs {p.query}" for p in scored.pairs]


def inlier_histogram_from_scored(scored: ScoredSet, n_bins: int = 30) -> ChartSpec:
    """The inlier histogram with the current rule's inlier thresholds marked."""
    hist = score_histogram(scored, n_bins)
    frame = histogram_frame(hist.edges, hist.same, hist.different)
    # Panels: the different pairs' spike at 0 inliers would flatten the same pairs' bars.
    title = "inliers (0 = no plausible homography)"
    return histogram_chart(frame, title, inlier_marks(scored), symlog=True, height=420, panels=True)


def inlier_marks(scored: ScoredSet) -> list[tuple[float, str]]:
    """The current rule's inlier counts (its thresholds named ``*min_inliers``), one mark per value."""
    t = scored.thresholds
    by_value: dict[float, list[str]] = {}
    for name in rules.get(scored.rule).thresholds:
        if name.endswith("min_inliers"):
            by_value.setdefault(float(getattr(t, name)), []).append(name)
    words = {value: " = ".join(n.replace("_", " ") for n in names) for value, names in by_value.items()}
    return [(value, f"{words[value]} {value:g}") for value in sorted(words)]


def similarity_histogram_from_scored(scored: ScoredSet, n_bins: int = 25) -> ChartSpec | None:
    """The similarity histogram (None without similarities)."""
    hist = similarity_histogram(scored, n_bins)
    if hist is None:
        return None
    frame = histogram_frame(hist.edges, hist.same, hist.different)
    return histogram_chart(frame, "similarity of the global descriptors (cosine)")


def _point(name: str, rates: Rates, colour: str, shape: str, rule: str) -> OperatingPoint:
    return OperatingPoint(
        name,
        float(np.nan_to_num(rates.far)),
        float(np.nan_to_num(rates.tar)),
        rates.false_accept,
        rates.n_negative,
        rates.true_accept,
        rates.n_positive,
        colour,
        shape,
        rule,
    )


PART_COLOURS = ("#1f77b4", "#ff7f0e", "#17becf")
#: Colour and point shape of each companion rule's ROC (the first is the robust rule's usual grey).
COMPANION_MARKS = ((ROBUST_ROC, "diamond"), ("#9467bd", "triangle-up"), ("#8c564b", "cross"))


def roc_from_scored(parts: dict[str, ScoredSet], show_original: bool = True) -> ChartSpec:
    """ROC of the current rule's score per part; under fused the inlier count's; the note's rule where scored.

    Legend names stay the same while sliders move (the AUCs and thresholds are in the tooltips and
    the rates table), so the chart's cached structure is reused.
    """
    lines: list[RocLine] = []
    points: list[OperatingPoint] = []
    for k, (name, scored) in enumerate(parts.items()):
        dash = ("solid", "dashed", "dotted")[k % 3]
        chosen = rules.get(scored.rule)
        curve, colour, t = scored.roc(), PART_COLOURS[k % 3], scored.thresholds
        lines.append(
            RocLine(f"{chosen.score_name}, {name}", curve.fpr, curve.tpr, curve.thresholds, colour, dash, scored.auc())
        )
        now = f"{chosen.score_name} >= {chosen.lab_threshold(t):g}"
        points.append(_point(f"current {scored.rule}, {name}", scored.rates(), colour, "circle", now))
        for j, companion in enumerate(c for c in chosen.companions if scored.available(c)):
            other = rules.get(companion)
            rc = scored.roc(companion)
            auc = scored.auc(companion)
            colour, shape = COMPANION_MARKS[j % len(COMPANION_MARKS)]  # one mark per rule, never shared
            lines.append(RocLine(f"{companion} rule, {name}", rc.fpr, rc.tpr, rc.thresholds, colour, dash, auc))
            at = f"{other.score_name} >= {other.lab_threshold(t):g}"
            points.append(_point(f"{companion} point, {name}", scored.rates(companion), colour, shape, at))
        for comparison in comparison_rules(scored, scored.rule) if show_original else ():
            other = rules.get(comparison)
            oc = scored.roc(comparison)
            auc = scored.auc(comparison)
            lines.append(RocLine(f"{comparison} rule, {name}", oc.fpr, oc.tpr, oc.thresholds, ORIGINAL, "dotted", auc))
            at = f"{other.score_name} > {other.lab_threshold(t):g}"
            points.append(_point(f"{comparison} point, {name}", scored.rates(comparison), ORIGINAL, "square", at))
    return roc_chart(lines, points)


def scatter_frame(scored: ScoredSet) -> pd.DataFrame:
    """One row per usable pair with a similarity: what :func:`scatter_chart` draws and names."""
    m = scored.ok & scored.has_similarity
    idx = np.flatnonzero(m)
    inl = scored.inliers[m]
    # A fixed jitter spreads the pairs without inliers around 0 so they do not hide one another.
    jitter = np.random.default_rng(0).uniform(-0.6, 0.6, inl.size)
    accepted = scored.accepted[m]
    labels = scored.labels[m]
    names = pair_names(scored)
    return pd.DataFrame(
        {
            "position": idx,
            "pair": [names[i] for i in idx],
            "kind": [scored.pairs[i].kind for i in idx],
            "label": [LABEL_NAMES[int(y)] for y in labels],
            "x": np.where(inl == 0, jitter, inl),
            "inliers": inl,
            "similarity": scored.similarities[m],
            "outline": scored.area_fraction[m],
            "verdict": np.where(accepted, "accepted", "rejected"),
            "wrong": accepted != labels.astype(bool),
        }
    )


def scatter_from_scored(scored: ScoredSet) -> ChartSpec | None:
    """The (inliers, similarity) scatter with the current boundary; None without similarities."""
    if scored.similarity is None or not (scored.ok & scored.has_similarity).any():
        return None
    t = scored.thresholds
    frame = scatter_frame(scored)
    top = max(float(frame["inliers"].max()) * 1.3, 3.0 * max(t.min_inliers, LINTHRESH))
    return scatter_chart(frame, fused_boundary(t, (0, top), n=120), t.min_inliers)
