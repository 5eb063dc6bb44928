"""The lab warns about a learned recommendation on the learned rule's own score, where it must fire.

A five-pair set made of bundled photos (samples/NOTICE.md): two same pairs, one of them weak
(sacre_coeur 03903474 against its 0.2-scale copy), and three different pairs, one of which
(03903474 against LightGlue's DSC_0410 facade) has a few AKAZE inliers and a fairly high
similarity.  With the learned evidence minimum at 4 and the second opinion off, the threshold
fitted between the different pairs and the weak same pair passes within two inliers of a
different pair (which one depends on the XFeat checks): the margin warning of the learned
score must show.  (With the second opinion on, ALIKED's 11 inliers on roofs2 vs DSC_0411 count
in that pair's score and lift it above the weak same pair: the threshold then sits far from both.)
At the shipped minimum (10) the weak same pair does not count and the threshold sits far from
every different pair: no margin warning.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
SAMPLES = REPO / "samples"
WEAK_SAME = (
    "images/sacre_coeur/03903474_1471484089.jpg",
    "images/sacre_coeur_synthetic/03903474_1471484089_scale0.2.jpg",
)
NEAR_DIFFERENT = ("images/sacre_coeur/03903474_1471484089.jpg", "images/lightglue/DSC_0410.JPG")
PAIRS = [
    (*WEAK_SAME, 1, "synthetic_scale"),
    ("images/lightglue/DSC_0410.JPG", "images/lightglue/DSC_0411.JPG", 1, "viewpoint"),
    (*NEAR_DIFFERENT, 0, "hard_negative"),
    ("images/vlfeat/roofs2.jpg", "images/lightglue/DSC_0411.JPG", 0, "hard_negative"),
    ("images/vlfeat/roofs2.jpg", "images/vlfeat/river2.jpg", 0, "hard_negative"),
]


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lab-margin")
    lines = ["ref,query,label,kind,source,H"]
    for ref, query, label, kind in PAIRS:
        for rel in (ref, query):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SAMPLES / rel, root / rel)
        lines.append(f"{ref},{query},{label},{kind},samples,")
    (root / "pairs.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def at(small_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppTest]:
    # runs kept in a folder of this module's own: the other xdist worker keeps runs too, and the test reads
    # back the most recent one
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VISION_RUNS_DIR", str(tmp_path_factory.mktemp("lab-margin-runs")))
        yield _opened(small_set)


def _opened(small_set: Path) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=300).run()
    app.switch_page("pages/tune.py").run()
    _no_exception(app)
    assert app.sidebar.selectbox(key="th_rule").value == "learned"
    app.radio(key="tune_source").set_value("Folder on the server").run()
    app.text_input(key="tune_folder").set_value(str(small_set)).run()
    app.toggle(key="tune_with_original").set_value(False).run()
    app.button(key="tune_run").click().run()
    _no_exception(app)
    app.button(key="tune_recommend").click().run()
    _no_exception(app)
    return app


def _learned_margin_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith("learned score: the nearest different pair")]


def test_no_margin_warning_where_the_threshold_is_far_from_every_different_pair(at: AppTest) -> None:
    assert any(m.value.startswith("##### Learned rule") for m in at.markdown)
    assert _learned_margin_warnings(at) == []
    # the FAR bound is the learned rule's own: 3 different pairs cannot show 1 %
    assert any(w.value.startswith("A target of 1.0%") and "0 / 3" in w.value for w in at.warning)
    assert any(c.value.startswith("Nearest rejected different pair (learned rule") for c in at.caption)


def test_margin_warning_in_learned_score_units_when_it_must_fire(at: AppTest) -> None:
    at.sidebar.slider(key="th_second_opinion_min_inliers").set_value(0).run()
    at.sidebar.slider(key="th_learned_min_inliers").set_value(4).run()
    _no_exception(at)
    found = _learned_margin_warnings(at)
    assert len(found) == 1, [w.value for w in at.warning]
    different = [f"({ref} vs {query})" for ref, query, label, _ in PAIRS if label == 0]
    assert any(pair in found[0] for pair in different), found[0]  # a different pair, named
    assert " score against the threshold " in found[0] and re.search(r"\b[12] more inliers?\b", found[0])
    # the warning goes with the kept run (the record of this recommendation)
    from vision.core.settings import load_settings
    from vision.lab.runs import archive_from_settings

    kept = archive_from_settings(load_settings()).recent(1)[0]
    assert kept.rule == "learned" and kept.extra["checks"]["rule"] == "learned"
    assert found[0] in kept.extra["checks"]["warnings"]
