"""``python -m vision``: one JSON document on stdout, exit 0 when it ran and 2 for unusable input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run_cli

REPO_DIR = Path(__file__).resolve().parents[2]
SAMPLE_IMAGES = REPO_DIR / "samples" / "images"
SAME_REF = SAMPLE_IMAGES / "lightglue" / "DSC_0410.JPG"
SAME_QUERY = SAMPLE_IMAGES / "lightglue" / "DSC_0411.JPG"
DIFFERENT_QUERY = SAMPLE_IMAGES / "vlfeat" / "river1.jpg"
CONTRACT = {"status", "message", "result"}


@pytest.fixture
def strict_profile(tmp_path) -> Path:
    path = tmp_path / "strict.toml"
    path.write_text('[thresholds]\nrule = "robust"\nmin_inliers = 10000\nmin_keypoints = 1000000\n')
    return path


def test_register():
    rc, body, _ = run_cli("register", SAME_REF)
    assert rc == 0
    assert set(body) >= CONTRACT
    assert body["status"] == 200 and body["message"] == "Good Picture" and body["result"] is True
    assert body["keypoints"] > 80 and "timings_ms" in body


def test_register_not_an_image(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    rc, body, _ = run_cli("register", bad)
    assert rc == 2  # unusable input: the contract body, with its error, and exit 2
    assert body["status"] == 400 and body["message"] == "Take Picture Again" and body["result"] is False
    assert body["error"] == "NotAnImageError"


def test_verify_robust():
    rc, body, _ = run_cli("verify", SAME_REF, SAME_QUERY, "--rule", "robust")
    assert rc == 0
    assert body["status"] == 200 and body["message"] == "Complete" and body["result"] is True
    assert body["rule"] == "robust"
    assert body["inliers"] >= 15 and body["reason"]
    stages = {"ref_decode", "ref_features", "decode", "features", "match", "ransac", "decision"}
    assert stages <= set(body["timings_ms"])


def test_verify_different():
    rc, body, _ = run_cli("verify", SAME_REF, DIFFERENT_QUERY)
    assert rc == 0
    assert body["message"] == "You took wrong picture" and body["result"] is False


def test_verify_original_rule():
    rc, body, _ = run_cli("verify", SAME_REF, SAME_QUERY, "--rule", "original")
    assert rc == 0
    assert set(body) >= CONTRACT
    assert body["rule"] == "original" and body["result"] is True
    assert body["reason"].startswith("original rule") and body["area_px"] > 30


def test_verify_profile_changes_result(strict_profile):
    rc, body, _ = run_cli("verify", SAME_REF, SAME_QUERY, "--profile", strict_profile)
    assert rc == 0
    assert body["message"] == "You took wrong picture" and body["result"] is False
    assert "< 10000 required" in body["reason"]


def test_register_profile_changes_result(strict_profile):
    rc, body, _ = run_cli("register", SAME_REF, "--profile", strict_profile)
    assert rc == 0 and body["message"] == "Too Little Features" and body["status"] == 400


def test_verify_bad_reference(tmp_path):
    bad = tmp_path / "ref.jpg"
    bad.write_bytes(b"\x00" * 64)
    rc, body, _ = run_cli("verify", bad, SAME_QUERY)
    assert rc == 2 and body["status"] == 500 and body["message"] == "Missing Std Picture" and body["error"]
    rc, body, _ = run_cli("verify", SAME_REF, bad, "--rule", "original")
    assert rc == 2 and body["status"] == 400 and body["message"] == "Missing Picture" and body["error"]


@pytest.mark.parametrize(
    "args",
    [
        ("register", "no/such/photo.jpg"),
        ("verify", "no/such/ref.jpg", str(SAME_QUERY)),
        ("evaluate", "no/such/folder"),
        ("register", str(SAME_REF), "--profile", "no/such/profile.toml"),
    ],
    ids=["register", "verify", "evaluate", "profile"],
)
def test_missing_file_exit_2(args):
    rc, body, _ = run_cli(*args)
    assert rc == 2
    assert set(body) == {"error"} and body["error"]


def test_bad_profile_exit_2(tmp_path):
    profile = tmp_path / "bad.toml"
    profile.write_text("[thresholds]\nnot_a_threshold = 3\n")
    rc, body, _ = run_cli("register", SAME_REF, "--profile", profile)
    assert rc == 2 and "not_a_threshold" in body["error"]


def test_evaluate(tmp_path, samples_dir):
    (tmp_path / "img").mkdir()
    for name in ("roofs1.jpg", "roofs2.jpg", "river1.jpg"):
        shutil.copy(samples_dir / "images" / "vlfeat" / name, tmp_path / "img" / name)
    (tmp_path / "pairs.csv").write_text(
        "ref,query,label,kind\nimg/roofs1.jpg,img/roofs2.jpg,1,viewpoint\nimg/roofs1.jpg,img/river1.jpg,0,hard_negative\n"
    )
    rc, body, stderr = run_cli("evaluate", tmp_path, "--workers", "1", "--rule", "robust")
    assert rc == 0
    assert body["rule"] == "robust" and body["pairs"] == 2 and body["processed"] == 2
    assert body["true_accept_rate"] == 1.0 and body["false_accept_rate"] == 0.0
    assert "features" in stderr  # the progress bar goes to stderr, not stdout
    rc, body, stderr = run_cli("evaluate", tmp_path, "--rule", "original", "--quiet")
    assert rc == 0 and body["rule"] == "original" and body["pairs"] == 2
    assert "original [" not in stderr  # --quiet: no progress bar


def test_module_entry_point():
    """``python -m vision`` itself (the other tests call ``vision.cli.main`` in-process)."""
    proc = subprocess.run(
        [sys.executable, "-m", "vision", "register", str(SAME_REF)],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["message"] == "Good Picture"
