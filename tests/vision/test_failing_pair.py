"""A pair whose scoring raises is reported under ``failed`` with its reason; the run scores the others.

The set: bundled sample photos in ``tmp_path``, one query cropped square (the
others are 4:3 or 3:4) so a patched step can recognise it from its features
alone.  The patched step raises the ``cv2.error`` of the issue
(``(-215) !model.empty()``) for that pair only.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import vision.lab.run
import vision.rules.learned
from tests.cli_runner import invoke
from vision.lab.data import open_folder
from vision.lab.evaluate import evaluate_folder
from vision.lab.isolate import failure_reason
from vision.lab.pool import Workers
from vision.lab.run import TuningRun, score_original
from vision.profile import Profile

ONE_THREAD = Workers(1, "threads")
BAD_QUERY = "img/square.jpg"
USAC_TEXT = "OpenCV(4.14.0) /io/usac/estimator.cpp:353: error: (-215:Assertion failed) !model.empty() in function 'x'"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """Three pairs: a genuine one, a negative, and a genuine one whose query is square."""
    root = tmp_path_factory.mktemp("failing_pair")
    (root / "img").mkdir()
    vlfeat = samples_dir / "images" / "vlfeat"
    for name in ("roofs1.jpg", "roofs2.jpg", "river1.jpg"):
        shutil.copy(vlfeat / name, root / "img" / name)
    image = cv2.imread(str(vlfeat / "roofs2.jpg"))
    side = min(image.shape[:2])
    cv2.imwrite(str(root / BAD_QUERY), image[:side, :side])
    (root / "pairs.csv").write_text(
        "ref,query,label,kind\n"
        "img/roofs1.jpg,img/roofs2.jpg,1,viewpoint\n"
        "img/roofs1.jpg,img/river1.jpg,0,hard_negative\n"
        f"img/roofs1.jpg,{BAD_QUERY},1,viewpoint\n",
        encoding="utf-8",
    )
    return root


def _is_square(size: tuple[int, int]) -> bool:
    return size[0] == size[1]


def _raise_usac() -> None:
    raise cv2.error(USAC_TEXT)


def _assert_isolated(report: dict) -> None:
    assert report["pairs"] == 3
    assert report["processed"] == 2
    assert [f["query"] for f in report["failed"]] == [BAD_QUERY]
    reason = report["failed"][0]["error"]
    assert "failed: error:" in reason and "!model.empty()" in reason
    assert report["per_kind"]["viewpoint"]["pairs"] == 1  # the other genuine pair is scored


def test_failure_reason_is_one_capped_line() -> None:
    reason = failure_reason("scoring", ValueError("first\nsecond \x1b[31m" + "x" * 1000))
    assert reason.startswith("scoring failed: ValueError: second")
    assert "\n" not in reason and "\x1b" not in reason and len(reason) < 300


def test_learned_evaluation_isolates_a_raising_pair(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = vision.rules.learned.xfeat_try

    def xfeat_try(ref, query_image, rotation, thresholds, query=None):  # type: ignore[no-untyped-def]
        if query is not None and _is_square(query.image_size):
            _raise_usac()
        return real(ref, query_image, rotation, thresholds, query)

    monkeypatch.setattr(vision.rules.learned, "xfeat_try", xfeat_try)
    report = evaluate_folder(folder, Profile(), rule="learned", workers=ONE_THREAD, show_progress=False)
    _assert_isolated(report)
    assert report["true_accept_rate"] == 1.0  # roofs1 / roofs2 still accepted


def test_cli_learned_evaluation_prints_a_report(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = vision.rules.learned.xfeat_try

    def xfeat_try(ref, query_image, rotation, thresholds, query=None):  # type: ignore[no-untyped-def]
        if query is not None and _is_square(query.image_size):
            _raise_usac()
        return real(ref, query_image, rotation, thresholds, query)

    monkeypatch.setattr(vision.rules.learned, "xfeat_try", xfeat_try)
    result = invoke("evaluate", folder, "--rule", "learned", "--threads", "--workers", "1")
    assert result.returncode == 0, result.stderr
    _assert_isolated(json.loads(result.stdout))


def test_robust_evaluation_isolates_a_raising_geometry(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = vision.lab.run.evaluate_match

    def evaluate_match(match, thresholds):  # type: ignore[no-untyped-def]
        if _is_square(match.query.image_size):
            _raise_usac()
        return real(match, thresholds)

    monkeypatch.setattr(vision.lab.run, "evaluate_match", evaluate_match)
    report = evaluate_folder(folder, Profile(), rule="robust", workers=ONE_THREAD, show_progress=False)
    assert report["processed"] == 2
    assert [f["query"] for f in report["failed"]] == [BAD_QUERY]
    assert "geometry failed" in report["failed"][0]["error"]


def test_a_raising_matcher_fails_its_pair_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = vision.lab.run.match_features

    def match_features(ref, query):  # type: ignore[no-untyped-def]
        if _is_square(query.image_size):
            _raise_usac()
        return real(ref, query)

    monkeypatch.setattr(vision.lab.run, "match_features", match_features)
    run = TuningRun.build(open_folder(folder), Profile().feature_settings, ONE_THREAD, original=False, embed=False)
    scored = run.scored(Profile())
    assert scored.ok.tolist() == [True, True, False]
    assert scored.errors[2] is not None and scored.errors[2].startswith("matching failed")


def test_a_raising_per_pair_scorer_fails_its_pair_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = vision.lab.run.score_pair

    def score_pair(root, pair):  # type: ignore[no-untyped-def]
        if pair.query == BAD_QUERY:
            _raise_usac()
        return real(root, pair)

    monkeypatch.setattr(vision.lab.run, "score_pair", score_pair)
    scores = score_original(open_folder(folder), ONE_THREAD)
    assert scores.errors[:2] == (None, None)
    assert scores.errors[2] is not None and "!model.empty()" in scores.errors[2]
    assert np.isnan(scores.area_px[2]) and np.isfinite(scores.area_px[:2]).all()
