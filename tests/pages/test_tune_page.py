"""AppTest of the Tuning lab on the bundled samples: run, live charts (fused rule), intervals, recommend + apply +
undo, A/B, exports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def _charts(at: AppTest) -> dict[int, str]:
    """The Altair charts in page order: their Vega-Lite spec and data, as sent to the browser."""
    out = {}
    for k, chart in enumerate(at.get("vega_lite_chart")):
        proto = chart.proto
        data = "".join(d.data.data.hex() for d in proto.datasets) + proto.data.data.hex()
        out[k] = proto.spec + data
    return out


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def at() -> AppTest:
    """The tune page after a run on the bundled set (the original rule off: it is the slow part)."""
    app = AppTest.from_file(APP, default_timeout=120).run()
    app.switch_page("pages/tune.py").run()
    _no_exception(app)
    app.sidebar.selectbox(key="th_rule").set_value("fused").run()  # the lab's figures follow fused (or robust)
    assert app.radio(key="tune_source").value == "Bundled samples"
    app.toggle(key="tune_with_original").set_value(False).run()
    app.button(key="tune_run").click().run()
    _no_exception(app)
    return app


def _scatter_caption(at: AppTest) -> str:
    found = [c for c in _captions(at) if c.startswith("Inliers vs similarity")]
    assert len(found) == 1, _captions(at)
    return found[0]


def _frames(at: AppTest, *columns: str) -> list:
    """The tables (DataFrames, in page order) that have all of ``columns``."""
    return [f.value for f in at.dataframe if set(columns) <= set(f.value.columns)]


def _frame(at: AppTest, *columns: str):
    found = _frames(at, *columns)
    assert len(found) == 1, [list(f.value.columns) for f in at.dataframe]
    return found[0]


def _rates(at: AppTest, part: int = 0) -> dict[str, dict]:
    """The rules' table of one part (0: the first): rule -> row."""
    frame = _frames(at, "rule", "FAR (95 % interval)", "ROC AUC")[part]
    return {row["rule"].split(" ")[0]: row for row in frame.to_dict("records")}


def test_run_shows_charts_rates_and_table(at: AppTest) -> None:
    captions = _captions(at)
    assert any(c.startswith("Score histogram") for c in captions)
    assert any(c.startswith("ROC curve of the fused score") for c in captions)  # the default rule is fused
    assert len(_charts(at)) == 4  # scatter, two histograms, ROC: all Altair
    # No PNG figures left: the only images are the errors gallery's match views.
    assert all(" vs " in c for image in at.get("image") for c in image.captions)
    metrics = {m.label: m.value for m in at.metric}
    assert {"False-accept rate", "False-reject rate", "True-accept rate", "ROC AUC (fused score)"} <= set(metrics)
    assert metrics["False-accept rate"].endswith("%")
    rates = _rates(at)
    assert set(rates) == {"fused", "robust"}
    fused = rates["fused"]
    k, n = (int(x) for x in fused["false accepts"].split(" / "))
    assert f"{k / n:.1%}" == metrics["False-accept rate"]
    assert re.fullmatch(r"\d+\.\d% \(\d+\.\d-\d+\.\d %\)", fused["FAR (95 % interval)"])
    assert any(c.value.startswith(f"{k} / {n} · 95 %: ") for c in at.caption)  # counts beside the headline rate
    per_kind = _frame(at, "kind", "median inliers")
    assert {"robust accept %", "accepted"} <= set(per_kind.columns)  # per kind, beside fused
    assert any(t.label.startswith("False rejects") for t in at.tabs)
    assert any("fused (inliers + global similarity)" in m.value for m in at.markdown)


def test_scatter_with_the_boundary_follows_the_sliders(at: AppTest) -> None:
    caption = _scatter_caption(at)
    assert "56 pairs" in caption
    assert "log(1 + inliers) + 4 x similarity >= 4.8 with at least 8 inliers" in caption
    assert "geometry alone from 15 inliers" in caption
    at.sidebar.slider(key="th_fused_threshold").set_value(3.5).run()
    at.sidebar.slider(key="th_fused_min_inliers").set_value(6).run()
    _no_exception(at)
    moved = _scatter_caption(at)
    assert ">= 3.5 with at least 6 inliers" in moved
    assert "geometry alone from 15 inliers" in moved  # still min_inliers: log(1 + 15) < 3.5
    at.sidebar.slider(key="th_min_inliers").set_value(20).run()
    assert "dashed: min inliers = 20" in _scatter_caption(at)
    at.sidebar.slider(key="th_fused_threshold").set_value(4.8).run()
    at.sidebar.slider(key="th_fused_min_inliers").set_value(8).run()
    at.sidebar.slider(key="th_min_inliers").set_value(15).run()
    _no_exception(at)


def test_rule_switch_redecides_with_the_robust_rule(at: AppTest) -> None:
    robust_under_fused = _rates(at)["robust"]
    at.sidebar.selectbox(key="th_rule").set_value("robust").run()
    _no_exception(at)
    robust = {m.label: m.value for m in at.metric}
    assert "ROC AUC (fused score)" not in robust
    current = _rates(at)
    assert set(current) == {"robust"}
    for column in ("false accepts", "FAR (95 % interval)", "true accepts", "TAR (95 % interval)"):
        assert current["robust"][column] == robust_under_fused[column]
    assert any(c.startswith("ROC curve of the inliers") for c in _captions(at))
    at.sidebar.selectbox(key="th_rule").set_value("fused").run()
    _no_exception(at)


def test_slider_move_redecides_from_the_cache(at: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A decision slider changes the figures; no feature, match or homography is computed again."""
    import vision.lab.run as tuning

    calls: list[str] = []

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(tuning.FeatureCache, "get", counting("features", tuning.FeatureCache.get))
    monkeypatch.setattr(tuning, "match_features", counting("matches", tuning.match_features))
    monkeypatch.setattr(tuning, "evaluate_match", counting("geometry", tuning.evaluate_match))
    before_charts = _charts(at)
    before = {m.label: m.value for m in at.metric}["True-accept rate"]
    at.sidebar.slider(key="th_min_inliers").set_value(150).run()
    _no_exception(at)
    after = {m.label: m.value for m in at.metric}["True-accept rate"]
    assert after != before
    after_charts = _charts(at)
    assert set(after_charts) == set(before_charts)
    changed = [key for key in before_charts if before_charts[key] != after_charts[key]]
    assert len(changed) >= 3, changed  # scatter (robust line, verdicts), inlier histogram (its rule), ROC
    at.sidebar.slider(key="th_fused_threshold").set_value(3.0).run()
    _no_exception(at)
    assert _charts(at) != after_charts
    assert calls == []  # everything came from the cached run
    assert at.button(key="tune_run").label.startswith("Run again")  # the run stayed cached
    at.sidebar.slider(key="th_fused_threshold").set_value(4.8).run()
    at.sidebar.slider(key="th_min_inliers").set_value(15).run()


FUSED_KEYS = ("th_fused_threshold", "th_fused_min_inliers", "th_fused_weight")


def _recommended(at: AppTest) -> dict[str, float]:
    """The fused pick as the page states it: ``**fused threshold = T**, **weight = W**, **geometric minimum = K``."""
    text = next(m.value for m in at.markdown if "fused threshold =" in m.value)
    found = re.search(
        r"fused threshold = ([\d.]+)\*\*, \*\*weight = ([\d.]+)\*\*, "
        r"\*\*geometric minimum = (\d+)",
        text,
    )
    assert found, text
    return dict(zip(FUSED_KEYS, (float(found[1]), int(found[3]), float(found[2])), strict=True))


def test_recommend_and_apply_changes_the_sliders(at: AppTest) -> None:
    assert at.number_input(key="tune_target").value == 1.0
    at.button(key="tune_recommend").click().run()
    _no_exception(at)
    assert any("min inliers =" in m.value for m in at.markdown)
    assert any(m.value.startswith("##### Fused rule") for m in at.markdown)
    recommended = _recommended(at)
    before = at.sidebar.slider(key="th_min_inliers").value
    fused_before = {key: at.sidebar.slider(key=key).value for key in FUSED_KEYS}
    assert fused_before != recommended  # the defaults are not what the bundled set asks for
    to_change = _frame(at, "threshold", "before", "after", "rules")  # what Apply will change, and for which rules
    assert "fused" in to_change.set_index("threshold").loc["fused_threshold", "rules"]
    assert "robust" in to_change.set_index("threshold").loc["min_inliers", "rules"]
    at.button(key="tune_apply").click().run()
    _no_exception(at)
    after = at.sidebar.slider(key="th_min_inliers").value
    assert after != before and at.session_state["th_min_inliers"] == after
    fused_after = {key: at.sidebar.slider(key=key).value for key in FUSED_KEYS}
    assert fused_after == pytest.approx(recommended)
    assert {key: at.session_state[key] for key in FUSED_KEYS} == pytest.approx(recommended)
    assert (
        f"{recommended['th_fused_threshold']:g} with at least {recommended['th_fused_min_inliers']} inliers"
        in _scatter_caption(at)
    )  # the boundary drawn is the applied one
    assert {m.label: m.value for m in at.metric}["False-accept rate"] == "0.0%"
    # Before/after of the applied fields, with both profiles' rates on this set.
    fields = [f for f in _frames(at, "threshold", "before", "after") if "rules" not in f.columns]
    assert len(fields) == 1 and "fused_threshold" in set(fields[0]["threshold"])
    assert _frame(at, "threshold", "before", "after", "rules").empty  # applied: nothing left to change
    rates = _frames(at, "profile", "FAR (95 % interval)")[0]  # then the A/B view's (B: the recommendation)
    assert list(rates["profile"].str.split(" ").str[0]) == ["before", "after"]


def test_ab_view_compares_with_the_profile_before_apply(at: AppTest) -> None:
    at.radio(key="tune_ab_source").set_value("Before the last Apply").run()
    _no_exception(at)
    assert "0 pairs flip" in " ".join(m.value for m in at.markdown)  # the recommendation keeps every verdict here
    applied = at.sidebar.slider(key="th_fused_threshold").value
    min_inliers = at.sidebar.slider(key="th_min_inliers").value
    at.sidebar.slider(key="th_fused_threshold").set_value(9.0).run()  # A now rejects what only similarity accepted
    at.sidebar.slider(key="th_min_inliers").set_value(150).run()  # and what geometry alone accepted
    _no_exception(at)
    rates = _frames(at, "profile", "FAR (95 % interval)")[-1]  # after the Apply panel's
    assert list(rates["profile"].str.split(" (", regex=False).str[0]) == ["A: sliders", "B"]
    assert all("%" in v for v in rates["FAR (95 % interval)"])
    _frame(at, "kind", "A: sliders accepted", "B accepted")
    flips = _frame(at, "pair", "right")  # the applied profile decides some pairs otherwise
    assert len(flips) >= 1 and set(flips["right"]) <= {"A: sliders", "B"}
    summary = next(m.value for m in at.markdown if "pairs flip: B gets" in m.value)
    # The Apply panel still compares the profile Apply set, not the sliders moved since.
    assert any(m.value.startswith("0 pairs flip: after gets") for m in at.markdown)
    assert summary.startswith(f"{len(flips)} pairs flip")
    at.selectbox(key="tune_ab_open").set_value(0).run()  # a flipped pair's match view
    _no_exception(at)
    assert any(
        flips["pair"][0].split(" vs ")[0] in c
        for c in _captions(at) + [i for im in at.get("image") for i in im.captions]
    )
    at.selectbox(key="tune_ab_open").set_value(None).run()
    at.sidebar.slider(key="th_fused_threshold").set_value(applied).run()
    at.sidebar.slider(key="th_min_inliers").set_value(min_inliers).run()


def test_undo_puts_the_previous_thresholds_back(at: AppTest) -> None:
    applied = {key: at.sidebar.slider(key=key).value for key in FUSED_KEYS}
    at.button(key="tune_undo").click().run()
    _no_exception(at)
    restored = {key: at.sidebar.slider(key=key).value for key in FUSED_KEYS}
    assert restored != applied
    assert restored == pytest.approx({"th_fused_threshold": 4.8, "th_fused_min_inliers": 8, "th_fused_weight": 4.0})
    assert not any(b.key == "tune_undo" for b in at.button)


def test_holdout_shows_both_parts(at: AppTest) -> None:
    at.toggle(key="tune_holdout").set_value(True).run()
    _no_exception(at)
    labels = [m.label for m in at.metric]
    assert labels.count("False-accept rate") == 2
    assert any(m.value.startswith("**held-out**") for m in at.markdown)
    # The recommendation judged on the held-out scenes: its counts beside its rates, with intervals.
    held = _frame(at, "part", "false accepts", "FAR (95 % interval)").set_index("part").loc["held-out"]
    held = held.iloc[0] if held.ndim > 1 else held
    assert re.fullmatch(r"\d+ / \d+", held["false accepts"]) and re.fullmatch(r"\d+ / \d+", held["true accepts"])
    k, n = (int(x) for x in held["true accepts"].split(" / "))
    assert held["TAR (95 % interval)"].startswith(f"{k / n:.1%} (")
    at.toggle(key="tune_holdout").set_value(False).run()


def test_exports_are_offered(at: AppTest) -> None:
    keys = {d.key for d in at.get("download_button")}
    assert {"tune_download_profile", "tune_download_csv"} <= keys


def _gallery_captions(at: AppTest) -> list[str]:
    return [c for image in at.get("image") for c in image.captions]


def test_errors_gallery_opens_on_the_tab_with_cases_in_a_grid_filtered_by_kind(at: AppTest) -> None:
    at.sidebar.slider(key="th_fused_threshold").set_value(9.0).run()
    at.sidebar.slider(key="th_min_inliers").set_value(150).run()  # nothing accepted: false rejects only
    _no_exception(at)
    counts = next(c.value for c in at.caption if c.value.endswith("false rejects"))
    assert counts.startswith("0 false accepts")
    tabs = [t for t in at.tabs if t.label in ("False accepts", "False rejects")]
    assert [t.label for t in tabs] == ["False accepts", "False rejects"]
    shown = _gallery_captions(at)
    assert shown and all(c.startswith("false reject: ") for c in shown)  # the open tab is the one with cases
    # Three to a row: the grid's columns hold the match views.
    assert len(shown) == min(9, int(counts.split(", ")[1].split(" ")[0]))
    one = re.search(r" \(([^()]+)\) - ", shown[-1])[1]  # the kind of the last case shown
    kinds = at.multiselect(key="tune_gallery_kinds")
    assert one in kinds.options
    kinds.set_value([one]).run()
    _no_exception(at)
    filtered = _gallery_captions(at)
    assert filtered and all(f"({one})" in c for c in filtered)
    assert next(c.value for c in at.caption if c.value.endswith("of the kinds chosen"))
    at.multiselect(key="tune_gallery_kinds").set_value([]).run()
    at.sidebar.slider(key="th_fused_threshold").set_value(4.8).run()
    at.sidebar.slider(key="th_min_inliers").set_value(15).run()
    _no_exception(at)


def test_original_rule_is_opt_in_with_a_time_estimate_first(at: AppTest) -> None:
    assert not at.toggle(key="tune_with_original").value  # off by default: it is the slow part
    assert not any(c.value.startswith("The original rule will take") for c in at.caption)
    at.toggle(key="tune_with_original").set_value(True).run()  # times it on two pairs, scores nothing yet
    _no_exception(at)
    estimate = next(c.value for c in at.caption if c.value.startswith("The original rule will take"))
    found = re.search(r"about (\d+) s more on (\d+) pairs \((\d+) workers; timed on 2 pairs\)", estimate)
    assert found and int(found[2]) == 56, estimate
    assert at.button(key="tune_add_original").label == f"Score the original rule too (about {found[1]} s)"
    assert set(_rates(at)) == {"fused", "robust"}  # nothing scored until asked
    at.toggle(key="tune_with_original").set_value(False).run()
