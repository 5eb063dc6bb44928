"""AppTest of the Tuning lab on the bundled samples: run, figures, recommend + apply, exports."""

from __future__ import annotations

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


def test_run_shows_charts_rates_and_table(at: AppTest) -> None:
    captions = _captions(at)
    assert any(c.startswith("Score histogram") for c in captions)
    assert any(c.startswith("ROC curve") for c in captions)
    metrics = {m.label: m.value for m in at.metric}
    assert {"False-accept rate", "False-reject rate", "True-accept rate", "ROC AUC (inliers)"} <= set(metrics)
    assert metrics["False-accept rate"].endswith("%")
    assert len(at.dataframe) >= 1  # per-kind table
    assert any(t.label.startswith("False rejects") for t in at.tabs)


def test_slider_move_redecides_from_the_cache(at: AppTest) -> None:
    before = {m.label: m.value for m in at.metric}["True-accept rate"]
    at.sidebar.slider(key="th_min_inliers").set_value(150).run()
    _no_exception(at)
    after = {m.label: m.value for m in at.metric}["True-accept rate"]
    assert after != before
    assert at.button(key="tune_run").label.startswith("Run again")  # the run stayed cached
    at.sidebar.slider(key="th_min_inliers").set_value(15).run()


def test_recommend_and_apply_changes_the_sliders(at: AppTest) -> None:
    assert at.number_input(key="tune_target").value == 1.0
    at.button(key="tune_recommend").click().run()
    _no_exception(at)
    assert any("min inliers =" in m.value for m in at.markdown)
    before = at.sidebar.slider(key="th_min_inliers").value
    at.button(key="tune_apply").click().run()
    _no_exception(at)
    after = at.sidebar.slider(key="th_min_inliers").value
    assert after != before and at.session_state["th_min_inliers"] == after
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
