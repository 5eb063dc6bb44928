"""Tests for evaluate_tags on a small folder and, when present, the shared data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fakes import FakeTagger

from vision.tagging.base import TaggerError
from vision.tagging.evaluate import evaluate_tags, read_tags_csv
from vision.tagging.local import LocalTagger

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "img").mkdir()
    shutil.copy(ASSETS / "chelsea.jpg", tmp_path / "img" / "cat.jpg")
    shutil.copy(ASSETS / "coffee.jpg", tmp_path / "img" / "coffee.jpg")
    (tmp_path / "img" / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "tags.csv").write_text(
        "image,labels,source\n"
        "img/cat.jpg,Tiger Cat|cat,skimage\n"
        "img/coffee.jpg,espresso,skimage\n"
        "img/broken.jpg,dog,test\n"
        "img/missing.jpg,dog,test\n",
        encoding="utf-8",
    )
    return tmp_path


def test_read_tags_csv(folder):
    rows = read_tags_csv(folder)
    assert rows[0] == (folder / "img/cat.jpg", ["Tiger Cat", "cat"])
    assert len(rows) == 4


def test_evaluate_local_tagger(folder):
    report = evaluate_tags(folder, LocalTagger(), 0.2, progress=False)
    assert report["images"] == 4 and report["evaluated"] == 2
    assert report["top5_accuracy"] == 1.0 and report["match_rate"] == 1.0
    assert report["top1_accuracy"] == 1.0  # "tiger cat" is top-1, espresso top-1
    assert report["median_latency_ms"] > 0
    assert {Path(f["image"]).name for f in report["failures"]} == {"broken.jpg", "missing.jpg"}
    errors = {Path(f["image"]).name: f["error"] for f in report["failures"]}
    assert "cannot read" in errors["missing.jpg"] and "not a JPEG" in errors["broken.jpg"]


def test_evaluate_records_tagger_errors(folder):
    report = evaluate_tags(folder, FakeTagger(error=TaggerError("quota or rate limit exceeded")), progress=False)
    assert report["evaluated"] == 0 and report["top1_accuracy"] is None
    assert sum("quota" in f["error"] for f in report["failures"]) == 2


def test_evaluate_generic_tagger_uses_concept_names(folder):
    report = evaluate_tags(folder, FakeTagger({"coffee": 0.9, "cats": 0.8}), progress=False)  # plain names, no synonyms
    by_name = {Path(r["image"]).name: r for r in report["results"]}
    assert by_name["cat.jpg"]["top5"] and not by_name["cat.jpg"]["top1"]
    assert by_name["cat.jpg"]["matched"] and not by_name["coffee.jpg"]["matched"]


@pytest.mark.shared_data
def test_shared_data_accuracy():
    report = evaluate_tags(SHARED, LocalTagger(), 0.2, progress=False)
    assert report["failures"] == []
    assert report["top1_accuracy"] >= 0.85
    assert report["top5_accuracy"] >= 0.95
    assert report["match_rate"] >= 0.85
