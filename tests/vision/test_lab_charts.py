"""The lab's Vega-Lite specs from constructed scores: data per call, structure cached, axes and legends as meant."""

from __future__ import annotations

import json

import pytest

from vision.lab.charts import (
    FAR_LINTHRESH,
    PAIR_SELECTION,
    _histogram_template,
    _roc_template,
    _scatter_template,
    histogram_frame,
    inlier_histogram_from_scored,
    roc_from_scored,
    scatter_from_scored,
    similarity_histogram_from_scored,
)
from vision.lab.scored import ScoredSet
from vision.profile import Profile


@pytest.fixture(scope="module")
def scored() -> ScoredSet:
    labels = [1, 1, 1, 1, 0, 0, 0, 1]
    inliers = [120, 40, 9, 0, 0, 3, 11, 300]
    similarity = [0.9, 0.7, 0.8, 0.2, 0.1, 0.5, 0.75, 0.95]
    kinds = ["same", "same", "same", "same", "other", "other", "lookalike", "same"]
    return ScoredSet.from_arrays(labels, inliers, similarity=similarity, kinds=kinds, original_area=[9e3] * 8)


def _layers(spec: dict) -> list[dict]:
    return spec["layer"]


def test_histogram_frame_is_long_per_label() -> None:
    frame = histogram_frame([0, 1, 2], [3, 4], [5, 6])
    assert list(frame["label"]) == ["same", "same", "different", "different"]
    assert list(frame["pairs"]) == [3, 4, 5, 6] and list(frame["end"]) == [1, 2, 1, 2]
    assert histogram_frame([0], [], []).empty


def test_slider_move_changes_data_not_structure(scored: ScoredSet) -> None:
    _scatter_template.cache_clear()
    a = scatter_from_scored(scored)
    b = scatter_from_scored(scored.with_thresholds(Profile(min_inliers=50, fused_threshold=6.0)))
    assert a.spec is b.spec  # one cached structure
    assert _scatter_template.cache_info().misses == 1
    assert list(a.datasets["robust"]["x"]) == [15.0] and list(b.datasets["robust"]["x"]) == [50.0]
    assert not a.datasets["boundary"].equals(b.datasets["boundary"])
    assert list(a.datasets["pairs"]["verdict"]) != list(b.datasets["pairs"]["verdict"])


def test_scatter_names_pairs_and_selects_by_position(scored: ScoredSet) -> None:
    chart = scatter_from_scored(scored)
    spec = chart.to_dict()
    assert set(spec["datasets"]) == {"pairs", "boundary", "robust"}
    points = _layers(spec)[-1]
    (param,) = spec["params"]  # Altair lifts a layer's selection to the top, naming its view
    assert param["name"] == PAIR_SELECTION and param["views"] == [points["name"]]
    assert param["select"]["fields"] == ["position"] and param["select"]["on"] == "click"
    tooltip = [t["field"] for t in points["encoding"]["tooltip"]]
    assert tooltip[:4] == ["pair", "kind", "label", "verdict"]
    pairs = chart.datasets["pairs"]
    assert pairs["pair"][0] == "scene/ref0.jpg vs scene/query0.jpg"
    # Pair 6 (a lookalike with 11 inliers and similarity 0.75) is accepted by the fused rule: ringed as wrong.
    row = pairs[pairs["position"] == 6].iloc[0]
    assert (row["verdict"], bool(row["wrong"])) == ("accepted", True)
    assert "datasets" not in chart.spec  # the cached structure stays data-free
    json.dumps({k: v for k, v in spec.items() if k != "datasets"})


def test_roc_has_a_log_far_axis_and_the_legend_below(scored: ScoredSet) -> None:
    chart = roc_from_scored({"all pairs": scored})
    spec = chart.to_dict()
    curves = _layers(spec)[1]
    x = curves["encoding"]["x"]
    assert x["scale"]["type"] == "symlog" and x["scale"]["constant"] == FAR_LINTHRESH
    assert 0.01 in x["axis"]["values"] and 0.05 in x["axis"]["values"]
    assert curves["encoding"]["color"]["legend"]["orient"] == "bottom"
    assert spec["config"]["legend"]["labelLimit"] == 0  # no cut legend text
    assert spec["config"]["axis"]["labelFontSize"] >= 12
    names = set(chart.datasets["curves"]["curve"])
    assert names == {"fused score, all pairs", "robust rule, all pairs", "original rule, all pairs"}
    points = chart.datasets["points"].set_index("curve")
    rates = scored.rates()
    assert points.loc["current fused, all pairs", "false accepts"] == f"{rates.false_accept} / {rates.n_negative}"
    assert points.loc["current fused, all pairs", "far"] == pytest.approx(rates.far)


def test_roc_structure_is_reused_while_sliders_move(scored: ScoredSet) -> None:
    _roc_template.cache_clear()
    roc_from_scored({"all pairs": scored})
    roc_from_scored({"all pairs": scored.with_thresholds(Profile(min_inliers=30, fused_threshold=5.5))})
    assert _roc_template.cache_info().misses == 1
    split = {"train": scored.subset([0, 1, 4, 5]), "held-out": scored.subset([2, 3, 6, 7])}
    roc_from_scored(split)  # other parts: a second structure
    assert _roc_template.cache_info().misses == 2


def test_histograms_mark_the_current_thresholds(scored: ScoredSet) -> None:
    _histogram_template.cache_clear()
    inl = inlier_histogram_from_scored(scored)
    marks = inl.datasets["marks"]
    assert list(marks["value"]) == [8.0, 15.0]  # geometric minimum, geometry alone
    robust = inlier_histogram_from_scored(scored.with_thresholds(Profile(rule="robust", min_inliers=20)))
    assert list(robust.datasets["marks"]["name"]) == ["min inliers 20"]
    assert inl.datasets["bins"]["pairs"].sum() == len(scored)  # every pair counted once
    sims = similarity_histogram_from_scored(scored)
    assert sims is not None and sims.datasets["bins"]["pairs"].sum() == len(scored)
    assert _histogram_template.cache_info().misses == 2  # inliers (symlog) and similarity


def test_no_similarity_no_scatter() -> None:
    plain = ScoredSet.from_arrays([1, 0], [30, 2])
    assert scatter_from_scored(plain) is None
    assert similarity_histogram_from_scored(plain) is None


def test_inlier_histogram_has_a_panel_per_label_with_its_own_count_axis() -> None:
    # 250 different pairs at 0 inliers beside a few same pairs: the spike of issue 19
    labels = [0] * 250 + [1] * 6
    inliers = [0] * 250 + [20, 35, 60, 90, 150, 400]
    spec = inlier_histogram_from_scored(ScoredSet.from_arrays(labels, inliers))
    chart = spec.to_dict()
    assert "vconcat" in chart and len(chart["vconcat"]) == 2
    assert chart["resolve"]["scale"] == {"x": "shared", "y": "independent"}  # thresholds line up, counts do not
    titles, filters = [], []
    for panel in chart["vconcat"]:
        bars, rule, text = panel["layer"]
        titles.append(panel["title"])
        filters.append(bars["transform"][0]["filter"])
        assert bars["encoding"]["y"]["field"] == "pairs" and rule["mark"]["type"] == "rule"
        assert text["encoding"]["text"]["field"] == "name"  # every panel names the thresholds
    assert titles == ["same pairs", "different pairs"]
    assert filters == ["(datum.label === 'same')", "(datum.label === 'different')"]
    bins = spec.datasets["bins"]  # one table for both panels: each filters its label
    assert bins.loc[bins["label"] == "same", "pairs"].sum() == 6 and bins["pairs"].sum() == 256
