"""The Tuning lab tunes the rule that ships: the learned rule's figures, live, from XFeat evidence gathered once."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _no_exception(at: AppTest) -> None:
    assert not at.exception, at.exception


@pytest.fixture(scope="module")
def at() -> AppTest:
    """The lab on the bundled set with the profile's default rule, learned (the original rule off)."""
    app = AppTest.from_file(APP, default_timeout=300).run()
    app.switch_page("pages/tune.py").run()
    _no_exception(app)
    assert app.sidebar.selectbox(key="th_rule").value == "learned"
    app.toggle(key="tune_with_original").set_value(False).run()
    app.button(key="tune_run").click().run()
    _no_exception(app)
    return app


def _rates(at: AppTest) -> dict[str, dict]:
    frame = next(f.value for f in at.dataframe if {"rule", "FAR (95 % interval)"} <= set(f.value.columns))
    return {row["rule"].split(" ")[0]: row for row in frame.to_dict("records")}


def test_the_figures_follow_the_learned_rule(at: AppTest) -> None:
    assert any("**learned (AKAZE + XFeat" in m.value and "the profile's" in m.value for m in at.markdown)
    rates = _rates(at)
    assert next(iter(rates)) == "learned" and {"fused", "robust"} <= set(rates)  # its companions beside it
    assert any(m.label == "ROC AUC (learned score)" for m in at.metric)


def test_a_slider_move_recomputes_no_xfeat(at: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    import vision.lab.run as tuning
    import vision.rules.learned as learned
    from vision.matchers import lighterglue, xfeat

    calls: list[str] = []

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            # The errors gallery draws the cases a move newly lists (their matches are the picture);
            # re-deciding the set, its figures and charts must run no matcher at all.
            if not any("lab_gallery" in frame.filename for frame in traceback.extract_stack()):
                calls.append(name)
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(learned, "xfeat_try", counting("lighterglue + geometry", learned.xfeat_try))
    monkeypatch.setattr(lighterglue, "match", counting("lighterglue", lighterglue.match))
    monkeypatch.setattr(xfeat, "extract", counting("xfeat", xfeat.extract))
    monkeypatch.setattr(tuning, "match_features", counting("matches", tuning.match_features))
    import vision.lab.aliked_evidence as aliked_evidence

    monkeypatch.setattr(aliked_evidence, "aliked_match", counting("lightglue (ALIKED)", aliked_evidence.aliked_match))
    monkeypatch.setattr(aliked_evidence.aliked, "extract", counting("aliked", aliked_evidence.aliked.extract))
    before = _rates(at)["learned"]["true accepts"]
    # the second opinion off first: on these pairs ALIKED accepts what a stricter threshold rejects
    at.sidebar.slider(key="th_second_opinion_min_inliers").set_value(0).run()
    at.sidebar.slider(key="th_learned_threshold").set_value(9.5).run()
    _no_exception(at)
    strict = _rates(at)["learned"]["true accepts"]
    at.sidebar.slider(key="th_learned_min_inliers").set_value(40).run()
    at.sidebar.slider(key="th_min_inliers").set_value(200).run()
    _no_exception(at)
    assert strict != before and _rates(at)["learned"]["true accepts"] != before
    assert calls == []  # every pair re-decided from the cached evidence


def test_recommend_tunes_the_learned_threshold_and_keeps_the_run(at: AppTest) -> None:
    at.button(key="tune_recommend").click().run()
    _no_exception(at)
    assert any(m.value.startswith("##### Learned rule") for m in at.markdown)
    changes = next(f.value for f in at.dataframe if "rules" in f.value.columns)
    assert set(changes["threshold"]) <= {"learned_threshold"}  # only its own number
    runs = next(f.value for f in at.dataframe if {"run", "commit", "TAR"} <= set(f.value.columns))
    assert "learned" in set(runs["rule"])  # the recommendation was kept
