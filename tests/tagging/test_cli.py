"""Tests for the tag and evaluate-tags commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from vision.cli import main

ASSETS = Path(__file__).resolve().parents[1] / "assets"
CAT = str(ASSETS / "chelsea.jpg")


def run(capsys, argv):
    code = main(argv)
    return code, capsys.readouterr()


def test_tag_prints_concepts(capsys):
    code, out = run(capsys, ["tag", CAT, "--top-k", "3"])
    body = json.loads(out.out)
    assert code == 0 and len(body["concepts"]) == 3 and "status" not in body
    assert "cat" in [c["name"] for c in body["concepts"]]


def test_tag_with_word_prints_contract(capsys):
    code, out = run(capsys, ["tag", CAT, "--tag", "Cats"])
    body = json.loads(out.out)
    assert code == 0
    assert (body["status"], body["message"], body["result"]) == (200, "Matched", True)
    assert "cat" in body["reason"]


def test_tag_min_confidence_flag(capsys):
    _, out = run(capsys, ["tag", CAT, "--tag", "cat", "--min-confidence", "0.999"])
    body = json.loads(out.out)
    assert body["message"] == "Not Matched" and body["min_confidence"] == 0.999


def test_tag_blank_word_is_no_tag(capsys):
    _, out = run(capsys, ["tag", CAT, "--tag", " "])
    assert json.loads(out.out)["message"] == "No Tag"


def test_tag_clarifai_without_token_is_api_fault(capsys, monkeypatch):
    monkeypatch.delenv("CLARIFAI_PAT", raising=False)
    code, out = run(capsys, ["tag", CAT, "--tag", "cat", "--backend", "clarifai"])
    body = json.loads(out.out)
    assert code == 1 and body["status"] == 500 and body["message"] == "Clarifai Api Fault"  # a backend failure
    assert "CLARIFAI_PAT" in body["reason"]
    code, out = run(capsys, ["tag", CAT, "--backend", "clarifai"])
    assert code == 1 and "CLARIFAI_PAT" in json.loads(out.out)["error"]


def test_tag_unreadable_image(capsys, tmp_path):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"nope")
    code, out = run(capsys, ["tag", str(bad)])
    assert code == 2 and "not a JPEG, PNG or WebP image" in out.err
    code, out = run(capsys, ["tag", str(tmp_path / "missing.jpg")])
    assert code == 2 and "cannot read" in out.err


def test_profile_loader_supplies_threshold(capsys):
    import argparse

    from vision.cli.tag import add_tag_commands

    parser = argparse.ArgumentParser()
    add_tag_commands(
        parser.add_subparsers(dest="cmd"),
        min_confidence=0.2,
        profile_loader=lambda name: SimpleNamespace(tag_min_confidence=0.999),
    )
    args = parser.parse_args(["tag", CAT, "--tag", "cat", "--profile", "strict"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["message"] == "Not Matched"


def test_evaluate_tags_command(capsys, tmp_path):
    shutil.copy(ASSETS / "coffee.jpg", tmp_path / "coffee.jpg")
    (tmp_path / "tags.csv").write_text("image,labels,source\ncoffee.jpg,espresso|cup,x\n", encoding="utf-8")
    code, out = run(capsys, ["evaluate-tags", str(tmp_path)])
    body = json.loads(out.out)
    assert code == 0 and body["top1_accuracy"] == 1.0 and body["match_rate"] == 1.0
    assert "results" not in body and "[1/1]" in out.err


def test_evaluate_tags_missing_csv(capsys, tmp_path):
    code, out = run(capsys, ["evaluate-tags", str(tmp_path)])
    assert code == 2 and "tags.csv" in out.err


@pytest.mark.parametrize("argv", [["tag"], ["tag", CAT, "--backend", "other"]])
def test_bad_arguments(argv):
    with pytest.raises(SystemExit):
        main(argv)
