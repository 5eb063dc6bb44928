"""AppTest of the Tuning lab on the bundled samples: run, figures (fused rule), recommend + apply, exports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _captions(at: AppTest) -> list[str]:
    return [c for image in at.get("image") for c in image.captions]


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def at() -> AppTest:
    """The tune page after a run on the bundled set (the original rule off: it is the slow part)."""
    app = AppTest.from_file(APP, default_timeout=120).run()
    app.switch_page("pages/tune.py").run()
    _no_exception(app)
    assert app.radio(key="tune_source").value == "Bundled samples"
    app.toggle(key="tune_with_original").set_value(False).run()
    app.button(key="tune_run").click().run()
    _no_exception(app)
    return app


def _scatter_caption(at: AppTest) -> str:
    found = [c for c in _captions(at) if c.startswith("Inliers vs similarity")]
    assert len(found) == 1, _captions(at)
    return found[0]


def test_run_shows_charts_rates_and_table(at: AppTest) -> None:
    captions = _captions(at)
    assert any(c.startswith("Score histogram") for c in captions)
    assert any(c.startswith("ROC curve of the fused score") for c in captions)  # the default rule is fused
    metrics = {m.label: m.value for m in at.metric}
    assert {
        "False-accept rate",
        "False-reject rate",
        "True-accept rate",
        "ROC AUC (inliers)",
        "ROC AUC (fused score)",
        "Robust rule FAR / TAR",
    } <= set(metrics)
    assert metrics["False-accept rate"].endswith("%")
    assert len(at.dataframe) >= 1  # per-kind table
    assert any("robust accept %" in frame.value.columns for frame in at.dataframe)  # per kind, beside fused
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
    fused = {m.label: m.value for m in at.metric}
    at.sidebar.selectbox(key="th_rule").set_value("robust").run()
    _no_exception(at)
    robust = {m.label: m.value for m in at.metric}
    assert "ROC AUC (fused score)" not in robust
    assert f"{robust['False-accept rate']} / {robust['True-accept rate']}" == fused["Robust rule FAR / TAR"]
    assert any(c.startswith("ROC curve of the inlier score") for c in _captions(at))
    at.sidebar.selectbox(key="th_rule").set_value("fused").run()
    _no_exception(at)


def test_slider_move_redecides_from_the_cache(at: AppTest) -> None:
    before = {m.label: m.value for m in at.metric}["True-accept rate"]
    at.sidebar.slider(key="th_min_inliers").set_value(150).run()
    _no_exception(at)
    after = {m.label: m.value for m in at.metric}["True-accept rate"]
    assert after != before
    assert at.button(key="tune_run").label.startswith("Run again")  # the run stayed cached
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


def test_holdout_shows_both_parts(at: AppTest) -> None:
    at.toggle(key="tune_holdout").set_value(True).run()
    _no_exception(at)
    labels = [m.label for m in at.metric]
    assert labels.count("False-accept rate") == 2
    assert any(m.value.startswith("**held-out**") for m in at.markdown)
    at.toggle(key="tune_holdout").set_value(False).run()


def test_exports_are_offered(at: AppTest) -> None:
    keys = {d.key for d in at.get("download_button")}
    assert {"tune_download_profile", "tune_download_csv"} <= keys
