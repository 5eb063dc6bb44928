"""vision.lab.evaluate (and vision.lab.data.read_pairs): pairs.csv parsing, the folder evaluation and its report."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from vision.lab.data import LabelledPair, read_pairs
from vision.lab.evaluate import evaluate_folder
from vision.lab.pool import progress
from vision.profile import Profile

REPORT_KEYS = {
    "rule",
    "thresholds",
    "pairs",
    "processed",
    "positives",
    "negatives",
    "true_accept_rate",
    "false_accept_rate",
    "true_accepts",
    "false_accepts",
    "roc_auc",
    "per_kind",
    "failed",
    "median_latency_ms",
}
HEADER = "ref,query,label,kind\n"


def write_csv(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pairs.csv").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory, samples_dir) -> Path:
    """Two good pairs of small sample photos plus one pair whose query file is missing."""
    folder = tmp_path_factory.mktemp("small_eval")
    for name in ("roofs1.jpg", "roofs2.jpg", "river1.jpg"):
        (folder / "img").mkdir(exist_ok=True)
        shutil.copy(samples_dir / "images" / "vlfeat" / name, folder / "img" / name)
    return write_csv(
        folder,
        HEADER
        + (
            "img/roofs1.jpg,img/roofs2.jpg,1,viewpoint\n"
            "img/roofs1.jpg,img/river1.jpg,0,hard_negative\n"
            "img/roofs1.jpg,img/missing.jpg,1,viewpoint\n"
        ),
    )


# -- read_pairs --------------------------------------------------------------


def test_read_pairs_samples(samples_dir):
    pairs = read_pairs(samples_dir)
    assert len(pairs) >= 50
    assert all(isinstance(p, LabelledPair) and p.label in (0, 1) for p in pairs)
    assert {p.label for p in pairs} == {0, 1}
    assert all((samples_dir / p.ref).is_file() and (samples_dir / p.query).is_file() for p in pairs)
    assert pairs[0].scene == "images/lightglue"


def test_read_pairs_missing_csv(tmp_path):
    with pytest.raises(ValueError, match=r"pairs\.csv"):
        read_pairs(tmp_path)


def test_read_pairs_missing_column(tmp_path):
    write_csv(tmp_path, "ref,query,label\na.jpg,b.jpg,1\n")
    with pytest.raises(ValueError, match="lacks column\\(s\\) kind"):
        read_pairs(tmp_path)


def test_read_pairs_bad_label_line_number(tmp_path):
    write_csv(tmp_path, HEADER + "a.jpg,b.jpg,1,x\na.jpg,c.jpg,yes,x\n")
    with pytest.raises(ValueError, match=r"pairs.csv:3: label must be 0 or 1, got 'yes'"):
        read_pairs(tmp_path)


def test_read_pairs_empty_and_defaults(tmp_path):
    write_csv(tmp_path / "empty", HEADER)
    with pytest.raises(ValueError, match="no pairs"):
        read_pairs(tmp_path / "empty")
    write_csv(tmp_path / "extra", "ref,query,label,kind,source,H\nx/a.jpg,x/b.jpg,0,,somewhere,\n")
    [pair] = read_pairs(tmp_path / "extra")
    assert pair == LabelledPair("x/a.jpg", "x/b.jpg", 0, "unknown")


# -- evaluate_folder ---------------------------------------------------------


@pytest.fixture(scope="module")
def samples_report(samples_evaluation):
    return samples_evaluation(Profile(), "robust")


def test_samples_report(samples_report, samples_dir):
    r = samples_report
    assert set(r) >= REPORT_KEYS
    json.dumps(r)
    n = len(read_pairs(samples_dir))
    assert r["rule"] == "robust" and r["pairs"] == r["processed"] == n and r["failed"] == []
    assert r["thresholds"] == Profile().to_dict()
    assert r["positives"] + r["negatives"] == n
    assert r["true_accept_rate"] >= 0.75
    assert r["false_accept_rate"] == 0.0 and r["false_accepts"] == 0
    assert 0.0 <= r["roc_auc"] <= 1.0 and r["roc_auc"] >= 0.85
    assert r["median_latency_ms"] > 0


def test_samples_per_kind(samples_report):
    per_kind = samples_report["per_kind"]
    assert {"viewpoint", "hard_negative", "synthetic_rotation", "synthetic_scale"} <= set(per_kind)
    assert per_kind["hard_negative"]["labels"] == [0] and per_kind["hard_negative"]["accept_rate"] == 0.0
    assert per_kind["viewpoint"]["labels"] == [1] and per_kind["viewpoint"]["accept_rate"] >= 0.75
    assert sum(k["pairs"] for k in per_kind.values()) == samples_report["processed"]
    assert all(0 <= k["accept_rate"] <= 1 for k in per_kind.values())


@pytest.mark.parametrize("rule", ["robust", "original"])
def test_missing_image_reported_not_raised(small_folder, rule):
    r = evaluate_folder(small_folder, Profile(), rule, workers=1, show_progress=False)
    assert set(r) >= REPORT_KEYS
    assert r["rule"] == rule and r["pairs"] == 3 and r["processed"] == 2
    assert len(r["failed"]) == 1
    failed = r["failed"][0]
    assert failed["ref"] == "img/roofs1.jpg" and failed["query"] == "img/missing.jpg"
    assert "missing.jpg" in failed["error"] or "No such file" in failed["error"]
    assert r["positives"] == 1 and r["negatives"] == 1
    if rule == "robust":  # the note's rule is known to accept almost anything
        assert r["true_accepts"] == 1 and r["false_accepts"] == 0


def test_undecodable_image_reported(tmp_path, samples_dir):
    shutil.copy(samples_dir / "images" / "vlfeat" / "roofs1.jpg", tmp_path / "a.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    write_csv(tmp_path, HEADER + "a.jpg,broken.jpg,1,viewpoint\n")
    r = evaluate_folder(tmp_path, Profile(), show_progress=False)
    assert r["processed"] == 0 and len(r["failed"]) == 1
    assert r["true_accept_rate"] is None and r["median_latency_ms"] is None


def test_unknown_rule(small_folder):
    with pytest.raises(ValueError, match="rule"):
        evaluate_folder(small_folder, Profile(), "magic", show_progress=False)


def test_progress_bar():
    stream = io.StringIO()
    assert list(progress(iter("abc"), 3, "work", stream=stream)) == ["a", "b", "c"]
    text = stream.getvalue()
    assert "work" in text and "3/3" in text and text.endswith("\n")


@pytest.mark.shared_data
def test_read_pairs_shared_data(data_dir):
    """The evaluation data (skipped where absent) parses, and every listed image exists."""
    pairs = read_pairs(data_dir)
    assert {p.label for p in pairs} == {0, 1}
    missing = [p for p in pairs for rel in (p.ref, p.query) if not (data_dir / rel).is_file()]
    assert missing == []
