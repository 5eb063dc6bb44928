"""The engine's workers: a local process pool, a Dask cluster (LocalCluster), and the feature cache on disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from vision.lab import cache as feature_cache
from vision.lab.data import open_folder
from vision.lab.evaluate import evaluate_folder
from vision.lab.pool import Workers, lab_workers
from vision.lab.run import TuningRun
from vision.profile import Profile

HEADER = "ref,query,label,kind\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """Three pairs of small sample photos, one with a missing query."""
    root = tmp_path_factory.mktemp("workers")
    (root / "img").mkdir()
    for name in ("roofs1.jpg", "roofs2.jpg", "river1.jpg"):
        shutil.copy(samples_dir / "images" / "vlfeat" / name, root / "img" / name)
    (root / "pairs.csv").write_text(
        HEADER
        + "img/roofs1.jpg,img/roofs2.jpg,1,viewpoint\n"
        + "img/roofs1.jpg,img/river1.jpg,0,hard_negative\n"
        + "img/roofs1.jpg,img/missing.jpg,1,viewpoint\n"
    )
    return root


@pytest.fixture(scope="module")
def threads_report(folder: Path) -> dict:
    return evaluate_folder(folder, Profile(), "fused", Workers(2, "threads"), show_progress=False)


def _same_report(a: dict, b: dict) -> None:
    for key in ("pairs", "processed", "true_accepts", "false_accepts", "roc_auc", "per_kind"):
        assert a[key] == b[key], key
    assert [f["query"] for f in a["failed"]] == [f["query"] for f in b["failed"]] == ["img/missing.jpg"]


def test_workers_validation() -> None:
    assert Workers(scheduler="tcp://127.0.0.1:8786").kind == "dask"
    with pytest.raises(ValueError, match="kind"):
        Workers(2, "gpu")
    with pytest.raises(ValueError, match="scheduler"):
        Workers(2, "dask")
    with pytest.raises(ValueError, match=">= 1"):
        Workers(0)
    assert lab_workers({"VISION_WORKERS": "3"}) == Workers(3, "processes")
    assert lab_workers({"VISION_DASK_SCHEDULER": "tcp://h:8786"}).kind == "dask"


def test_process_pool_matches_threads(folder: Path, threads_report: dict) -> None:
    _same_report(
        evaluate_folder(folder, Profile(), "fused", Workers(2, "processes"), show_progress=False), threads_report
    )


def test_dask_local_cluster_matches_threads(folder: Path, threads_report: dict) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        report = evaluate_folder(
            folder, Profile(), "fused", Workers(scheduler=cluster.scheduler_address), show_progress=False
        )
        original = evaluate_folder(
            folder, Profile(), "original", Workers(scheduler=cluster.scheduler_address), show_progress=False
        )
    _same_report(report, threads_report)
    assert original["rule"] == "original" and original["processed"] == 2


def test_unreachable_scheduler_is_a_clear_error(folder: Path) -> None:
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler"):
        evaluate_folder(
            folder,
            Profile(),
            "robust",
            Workers(scheduler="tcp://127.0.0.1:9", connect_timeout_s=2),
            show_progress=False,
        )


def test_features_cached_on_disk_by_content(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISION_CACHE_DIR", str(tmp_path / "cache"))
    calls: list[int] = []
    real = feature_cache.prepare_photo

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(feature_cache, "prepare_photo", counting)
    labelled = open_folder(folder)
    settings = Profile().feature_settings
    first = TuningRun.build(labelled, settings, Workers(1, "threads"), original=False, embed=False)
    assert len(calls) == 3  # three readable images
    again = TuningRun.build(labelled, settings, Workers(1, "threads"), original=False, embed=False)
    assert len(calls) == 3  # a rerun computes nothing
    np.testing.assert_array_equal(first.scored(Profile()).inliers, again.scored(Profile()).inliers)
    # A changed image (new content) is the only one recomputed.
    shutil.copy(folder / "img" / "roofs1.jpg", tmp_path / "roofs1.jpg")
    changed = tmp_path / "changed"
    shutil.copytree(folder, changed)
    (changed / "img" / "river1.jpg").write_bytes((folder / "img" / "roofs2.jpg").read_bytes())
    TuningRun.build(open_folder(changed), settings, Workers(1, "threads"), original=False, embed=False)
    assert len(calls) == 3  # river1.jpg now has roofs2.jpg's content: cached
    monkeypatch.setenv("VISION_CACHE_DIR", "")
    TuningRun.build(labelled, settings, Workers(1, "threads"), original=False, embed=False)
    assert len(calls) == 6  # cache off


def test_a_new_rule_is_one_module_and_one_catalogue_line(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fake_rule import THRESHOLD

    from vision.lab.report import figures
    from vision.rules.catalogue import CATALOGUE, Entry

    monkeypatch.setitem(CATALOGUE, "keypoints", Entry("fake_rule", default_ok=False))
    report = evaluate_folder(folder, Profile(), "keypoints", Workers(2, "threads"), show_progress=False)
    assert report["rule"] == "keypoints" and report["processed"] == 2
    assert [f["query"] for f in report["failed"]] == ["img/missing.jpg"]

    run = TuningRun.build(
        open_folder(folder), Profile().feature_settings, Workers(1, "threads"), original=False, embed=False
    )
    run.add_rule("keypoints", Profile())
    scored = run.scored(Profile())
    balance = run.rule_scores["keypoints"]
    expected = [bool(b >= THRESHOLD) for b in np.nan_to_num(balance[:2])] + [False]  # the missing query: never
    assert scored.available("keypoints") and figures(scored, "keypoints")["rule"] == "keypoints"
    assert list(scored.accepted_by("keypoints")) == expected
    assert report["true_accepts"] == int(expected[0]) and report["false_accepts"] == int(expected[1])
    assert list(scored.subset([0, 1]).accepted_by("keypoints")) == expected[:2]
