"""``python -m vision tune`` end to end on the bundled samples, then ``evaluate`` with its profile.

The profile holds the thresholds of the rule tuned (``--rule``, default the profile's: learned).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import invoke

from vision.profile import Profile, save_profile
from vision.rules.fusion import FUSED_FIELDS

REPO = Path(__file__).resolve().parents[1]


_vision = invoke


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("tune") / "profile.json"
    done = _vision(
        "tune",
        "samples",
        "--rule",
        "fused",
        "--target-far",
        "0.01",
        "--out",
        str(out),
        "--holdout",
        "0.3",
        "--seed",
        "0",
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), out


def _every_nth_pair(tmp_path: Path, step: int) -> Path:
    """A folder holding every ``step``-th bundled pair (both labels kept), images linked, not copied."""
    data = tmp_path / "data"
    data.mkdir()
    lines = (REPO / "samples" / "pairs.csv").read_text().splitlines()
    rows = lines[1::step]
    assert {x.split(",")[2] for x in rows} == {"0", "1"}
    (data / "pairs.csv").write_text("\n".join([lines[0], *rows]) + "\n")
    (data / "images").symlink_to(REPO / "samples" / "images")
    return data


def test_tune_by_default_tunes_the_shipped_learned_rule_as_evaluate_scores_it(tmp_path: Path) -> None:
    # a third of the samples: the learned rule runs ALIKED on every pair, twice (tune, then evaluate),
    # and the check is that the two commands agree, which any mixed subset shows
    data = _every_nth_pair(tmp_path, 3)
    out = tmp_path / "learned.json"
    args = ("--target-far", "0.01", "--out", str(out), "--holdout", "0.3", "--threads", "--workers", "1", "--quiet")
    done = _vision("tune", str(data), *args)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["rule"] == "learned" and body["recommendation"]["learned"] is not None
    assert body["figures"]["all"]["pairs"] == len((data / "pairs.csv").read_text().splitlines()) - 1
    changed = {k for k, v in body["thresholds"].items() if v != Profile().to_dict()[k]}
    assert changed <= {"learned_threshold"}  # AKAZE's own numbers are not moved under the learned rule
    checks = body["checks"]  # the sample-size warnings, on the learned rule's own verdicts and score
    assert checks["rule"] == "learned" and checks["false_accepts"]["n"] == body["figures"]["train"]["negatives"]
    assert any(n["path"] == "learned score" and n["units"] == "score" for n in checks["nearest_negatives"])
    assert checks["warnings"] and body["provenance"]["warnings"] == checks["warnings"]
    assert json.loads(Path(body["run"]).read_text())["extra"]["checks"] == checks  # kept with the run
    report = json.loads(
        _vision("evaluate", str(data), "--profile", str(out), "--threads", "--workers", "1", "--quiet").stdout
    )
    assert report["rule"] == "learned"
    for key in ("true_accepts", "false_accepts", "pairs"):
        assert report[key] == body["figures"]["all"][key], key


def test_tune_writes_a_profile_and_reports_both_parts(tuned: tuple[dict, Path]) -> None:
    body, out = tuned
    profile = json.loads(out.read_text())["thresholds"]
    assert profile == body["thresholds"]
    rec = body["recommendation"]
    assert 4 <= profile["min_inliers"] <= 200 and profile["min_inliers"] == rec["min_inliers"]
    assert rec["target_far"] == 0.01 and rec["feasible"] is True
    figures = body["figures"]
    assert figures["train"]["false_accept_rate"] <= 0.01
    assert figures["train"]["pairs"] + figures["holdout"]["pairs"] == figures["all"]["pairs"] == 56
    assert not set(body["split"]["train_scenes"]) & set(body["split"]["holdout_scenes"])
    assert body["split"]["seed"] == 0 and body["seconds"]["total"] > 0
    assert "original" not in figures["all"]  # opt-in: --with-original


def test_tune_profile_has_the_fused_thresholds(tuned: tuple[dict, Path]) -> None:
    body, out = tuned
    profile = json.loads(out.read_text())["thresholds"]
    assert profile["rule"] == "fused" and body["rule"] == "fused"  # --rule fused: tuned and reported
    fused = body["recommendation"]["fused"]
    assert {name: profile[name] for name in FUSED_FIELDS} == {name: fused[name] for name in FUSED_FIELDS}
    assert fused["false_accept_rate"] <= 0.01 and 0 < fused["true_accept_rate"] <= 1
    defaults = Profile().to_dict()
    assert any(profile[name] != defaults[name] for name in ("min_inliers", *FUSED_FIELDS))  # something was tuned
    # the figures printed are the fused rule's on both parts, with the robust rule's beside them
    for part in ("train", "holdout", "all"):
        assert body["figures"][part]["rule"] == "fused" and "robust" in body["figures"][part]
    assert body["figures"]["train"]["true_accept_rate"] == body["recommendation"]["train"]["true_accept_rate"]


def test_evaluate_reads_the_tuned_profile(tuned: tuple[dict, Path]) -> None:
    body, out = tuned
    done = _vision("evaluate", "samples", "--profile", str(out), "--rule", "fused", "--quiet")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {"pairs", "true_accept_rate", "false_accept_rate", "roc_auc", "per_kind", "failed"} <= set(report)
    assert report["rule"] == "fused" and report["thresholds"] == body["thresholds"]
    assert report["thresholds"]["min_inliers"] == body["thresholds"]["min_inliers"]
    assert report["pairs"] == 56 and report["failed"] == []
    assert report["false_accept_rate"] == body["figures"]["all"]["false_accept_rate"]
    assert report["true_accept_rate"] == body["figures"]["all"]["true_accept_rate"]
    assert 0.5 <= report["true_accept_rate"] <= 1 and report["roc_auc"] > 0.8


def test_tune_keeps_a_robust_base_profile_robust(tmp_path: Path) -> None:
    """A base profile with ``rule = robust``: the tuned profile stays robust and so do its figures."""
    data = tmp_path / "data"
    data.mkdir()
    lines = (REPO / "samples" / "pairs.csv").read_text().splitlines()
    rows = [x for x in lines[1:] if x.split(",")[2] == "1"][:3] + [x for x in lines[1:] if x.split(",")[2] == "0"][:3]
    (data / "pairs.csv").write_text("\n".join([lines[0], *rows]) + "\n")
    (data / "images").symlink_to(REPO / "samples" / "images")
    base = save_profile(Profile(rule="robust", fused_weight=3.0), tmp_path / "base.toml")
    out = tmp_path / "tuned.json"
    done = _vision("tune", str(data), "--profile", str(base), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    profile = json.loads(out.read_text())["thresholds"]
    assert profile["rule"] == "robust" and body["rule"] == "robust" and body["figures"]["all"]["rule"] == "robust"
    assert set(FUSED_FIELDS) <= set(profile) and body["recommendation"]["fused"] is not None
    assert profile["fused_threshold"] == body["recommendation"]["fused"]["fused_threshold"]


def test_tune_reports_a_bad_folder_as_json(tmp_path: Path) -> None:
    done = _vision("tune", str(tmp_path), "--quiet")
    assert done.returncode == 2
    assert "pairs.csv" in json.loads(done.stdout)["error"]
