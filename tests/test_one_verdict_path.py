"""One verdict path: every rule of the catalogue decides the same pairs the same way in the lab and in ``verify``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from vision import rules
from vision.flows.prepare import prepare_photo
from vision.flows.verify import verify_photo
from vision.lab.data import open_folder
from vision.lab.evaluate import score_folder
from vision.lab.pool import Workers
from vision.profile import Profile
from vision.rules.catalogue import rule_names
from vision.rules.learned_score import learned_accepts

PROFILE = Profile()


def _subset(samples_dir: Path, tmp_path: Path, step: int) -> Path:
    """Every ``step``-th bundled pair (both labels), in a folder of its own."""
    rows = list(csv.DictReader(io.StringIO((samples_dir / "pairs.csv").read_text())))[::step]
    assert {r["label"] for r in rows} == {"0", "1"}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    (tmp_path / "pairs.csv").write_text(out.getvalue())
    (tmp_path / "images").symlink_to(samples_dir / "images")
    return tmp_path


@pytest.mark.parametrize("name", rule_names())
def test_the_lab_decides_every_pair_as_verify_does(
    name: str, samples_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISION_CACHE_DIR", "")
    rule = rules.get(name)
    step = 11 if rule.needs.full_images else 6  # the note's rule works at full resolution: fewer pairs
    labelled = open_folder(_subset(samples_dir, tmp_path, step))
    scored, _ = score_folder(labelled, PROFILE, name, Workers(1, "threads"))
    lab = scored.accepted_by(name)
    by_verify = []
    for pair in labelled.pairs:
        ref_bytes, query_bytes = (labelled.root / pair.ref).read_bytes(), (labelled.root / pair.query).read_bytes()
        ref = prepare_photo(ref_bytes, PROFILE.feature_settings, needs=rule.needs)
        result = verify_photo(ref.features, query_bytes, PROFILE, rule=name, ref_image=ref_bytes)
        assert result.verdict.extra["rule"] in (name, *rule.companions)
        by_verify.append(result.verdict.result)
    assert len(by_verify) >= 5 and any(by_verify) and not all(by_verify)
    assert list(lab) == by_verify, [p.query for p, a, b in zip(labelled.pairs, lab, by_verify, strict=True) if a != b]


def test_an_akaze_decided_learned_verdict_says_akaze(pair_same: tuple[bytes, bytes]) -> None:
    ref = prepare_photo(pair_same[0], PROFILE.feature_settings, needs=rules.get("learned").needs)
    result = verify_photo(ref.features, pair_same[1], PROFILE, rule="learned")
    extra = result.verdict.extra
    assert result.verdict.result and extra["akaze_inliers"] >= PROFILE.min_inliers
    assert extra["decided_by"] == "akaze" and "AKAZE" in result.verdict.reason
    assert result.evidence is result.alignment  # the replay check aligns by AKAZE's homography


def test_the_learned_acceptance_keeps_the_robust_say() -> None:
    """AKAZE 20 inliers with similarity -0.5: robust accepts, so the learned rule does (the old unused copy did not)."""
    assert bool(learned_accepts(20, 0, -0.5, PROFILE))
    assert not bool(learned_accepts(9, 9, 1.0, PROFILE))  # below the evidence minimum whatever the similarity
