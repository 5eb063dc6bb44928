"""vision.lab.runs: a kept run round-trips through a folder and an S3 bucket (moto), and two compare."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from api_fixtures import DUMMY_KEY_ID, DUMMY_SECRET, s3_client
from cli_runner import invoke

from vision.lab.data import open_folder
from vision.lab.runs import LocalRunArchive, S3RunArchive, archive_from_settings, compare, content_hash, record_of
from vision.lab.scored import ScoredSet
from vision.profile import Profile, load_profile

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _record(tmp_path: Path, inliers: list[float], profile: Profile = Profile(rule="robust")):
    (tmp_path / "pairs.csv").write_text("ref,query,label,kind\na.jpg,b.jpg,1,viewpoint\na.jpg,c.jpg,0,easy\n")
    for name in "abc":
        (tmp_path / f"{name}.jpg").write_bytes(name.encode() * 10)
    labelled = open_folder(tmp_path)
    scored = ScoredSet.from_arrays([1, 0], inliers, thresholds=profile, kinds=["viewpoint", "easy"])
    return labelled, record_of("tune", labelled, scored, {"target_far": 0.01})


def test_a_record_says_what_was_measured_on_what(tmp_path: Path) -> None:
    labelled, record = _record(tmp_path, [40, 3])
    assert record.data == {"name": str(tmp_path), "content_hash": content_hash(labelled), "pairs": 2}
    assert record.rule == "robust" and record.figures["true_accepts"] == 1
    assert record.figures["intervals"]["false_accept_rate"]["n"] == 1 and record.per_kind["easy"]["accepted"] == 0
    assert len(record.commit) >= 7
    (tmp_path / "c.jpg").write_bytes(b"changed")
    assert content_hash(labelled) != record.data["content_hash"]  # the hash follows the images' content


def test_local_archive_round_trip_and_compare(tmp_path: Path) -> None:
    archive = LocalRunArchive(tmp_path / "runs")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, a = _record(tmp_path / "a", [40, 3])
    _, b = _record(tmp_path / "b", [40, 30], Profile(rule="robust", min_inliers=20))
    b = replace(b, run_id=a.run_id[:-8] + "ffffffff")  # later in the listing
    for record in (a, b):
        archive.save(record)
    assert [r.run_id for r in archive.recent()] == [b.run_id, a.run_id]
    assert archive.load(a.run_id) == a
    diff = compare(a, b)
    assert diff["changed_thresholds"] == {"min_inliers": {"a": 15, "b": 20}}
    assert diff["figures"]["false_accepts"] == {"a": 0, "b": 1}
    assert diff["same_data"]  # same files in two folders: the same content hash
    with pytest.raises(ValueError, match="not a run id"):
        archive.load("../../etc/passwd")
    with pytest.raises(KeyError):
        archive.load("20200101T000000Z-00000000")
    (tmp_path / "runs" / "20200101T000000Z-deadbeef.json").write_text("{not json")
    assert len(archive.recent()) == 2  # a damaged record is skipped, not fatal


def test_two_runs_of_one_second_come_newest_first(tmp_path: Path) -> None:
    """Ids sort by the second only: the record made later comes first even when its random tail sorts lower."""
    archive = LocalRunArchive(tmp_path / "runs")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, first = _record(tmp_path / "a", [40, 3])
    _, later = _record(tmp_path / "b", [40, 30])
    second = first.run_id[:-8]
    first = replace(first, run_id=second + "ffffffff", created_at="2026-12-03T12:00:00.100000+00:00")
    later = replace(later, run_id=second + "00000000", created_at="2026-12-03T12:00:00.900000+00:00")
    for record in (first, later):
        archive.save(record)
    assert [r.run_id for r in archive.recent(1)] == [later.run_id]
    assert [r.run_id for r in archive.recent()] == [later.run_id, first.run_id]


def test_s3_archive_round_trip(tmp_path: Path, moto_url: str) -> None:
    bucket = f"runs-{uuid.uuid4().hex[:10]}"
    s3_client(moto_url).create_bucket(Bucket=bucket)
    settings = {
        "VISION_STORE": "s3",
        "VISION_S3_BUCKET": bucket,
        "VISION_S3_ENDPOINT_URL": moto_url,
        "VISION_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": DUMMY_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
    }
    archive = archive_from_settings(settings)
    assert isinstance(archive, S3RunArchive)
    _, record = _record(tmp_path, [40, 3])
    where = archive.save(record)
    assert where == f"s3://{bucket}/runs/{record.run_id}.json"
    assert archive.load(record.run_id) == record and [r.run_id for r in archive.recent()] == [record.run_id]


def test_tune_writes_a_profile_with_provenance_and_keeps_the_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VISION_RUNS_DIR", str(tmp_path / "runs"))
    out = tmp_path / "profile.json"
    result = invoke("tune", SAMPLES, "--rule", "robust", "--holdout", "0.3", "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    saved = json.loads(out.read_text())
    prov = saved["provenance"]
    assert prov["data"]["content_hash"] == content_hash(open_folder(SAMPLES)) and prov["data"]["pairs"] == 56
    assert prov["commit"] and prov["rule"] == "robust" and prov["held_out"] == body["figures"]["holdout"]
    assert prov["figures"]["intervals"]["false_accept_rate"]["n"] == body["figures"]["all"]["negatives"]
    assert load_profile(out) == Profile.from_dict(saved["thresholds"])  # loading reads the thresholds only
    kept = LocalRunArchive(tmp_path / "runs").load(prov["run_id"])
    assert kept.profile == saved["thresholds"] and Path(body["run"]).is_file()
