"""The fused rule through the pipeline, the reference store, the evaluation and the CLI."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_runner import cli_json
from rule_helpers import decide_pair

from vision.core import verdict as v
from vision.flows.prepare import prepare_photo, register_photo
from vision.flows.references import load_reference, save_reference
from vision.flows.verify import verify_photo
from vision.lab.evaluate import evaluate_folder
from vision.matchers.akaze import features_from_bytes, features_to_bytes
from vision.profile import Profile
from vision.rules.base import Needs
from vision.rules.fused import FUSED_UNAVAILABLE
from vision.store import LocalReferenceStore

REPO = Path(__file__).resolve().parents[2]
FUSED = Profile(rule="fused")  # (the learned rule is the default)
ROBUST = replace(FUSED, rule="robust")


@pytest.fixture(scope="module")
def registered(pair_same):
    return register_photo(pair_same[0], FUSED)


@pytest.fixture(scope="module")
def fused_result(registered, pair_same):
    return verify_photo(registered[1].features, pair_same[1], FUSED)


def test_register_stores_the_embedding_under_fused(registered, pair_same):
    verdict, photo = registered
    assert verdict.message == v.GOOD_PICTURE
    assert photo.features.embedding is not None and photo.features.embedding.shape == (1280,)
    assert set(verdict.extra["timings_ms"]) == {"decode", "features", "embedding"}
    assert features_from_bytes(features_to_bytes(photo.features)).embedding is not None
    # the robust rule does not pay for it
    verdict2, photo2 = register_photo(pair_same[0], ROBUST)
    assert photo2.features.embedding is None and "embedding" not in verdict2.extra["timings_ms"]


def test_register_too_plain_photo_skips_the_embedding(blank_jpeg):
    verdict, photo = register_photo(blank_jpeg, FUSED)
    assert verdict.message == v.TOO_LITTLE_FEATURES and photo.features.embedding is None


def test_verify_fused_same_pair(fused_result):
    r = fused_result
    assert r.verdict.body() == {"status": 200, "message": v.COMPLETE, "result": True}
    assert r.rule == "fused" and r.similarity is not None and r.similarity > 0.8
    extra = r.verdict.extra
    assert extra["rule"] == "fused" and extra["similarity"] == r.similarity
    assert extra["decided_by"] == "geometry" and extra["inliers"] >= 100
    assert {"decode", "features", "embedding", "match", "ransac", "decision"} == set(r.timings)
    assert r.query.features.embedding is not None
    json.dumps(r.to_json())


def test_verify_fused_different_pair(registered, pair_different):
    r = verify_photo(registered[1].features, pair_different[1], FUSED)
    assert r.verdict.message == v.WRONG_PICTURE and r.rule == "fused"
    assert r.similarity < 0.6


def test_reference_without_embedding(pair_same):
    plain = prepare_photo(pair_same[0], FUSED.feature_settings).features
    # no descriptor and no image: the robust rule decides, and says why
    r = verify_photo(plain, pair_same[1], FUSED)
    assert r.rule == "robust" and r.similarity is None and "embedding" not in r.timings
    assert r.verdict.extra["fused_unavailable"] == FUSED_UNAVAILABLE and r.verdict.result
    # with the reference's image, its descriptor is computed
    r2 = verify_photo(plain, pair_same[1], FUSED, ref_image=pair_same[0])
    assert r2.rule == "fused" and r2.similarity > 0.8 and r2.verdict.result
    # an explicit rule overrides the profile's
    r3 = verify_photo(plain, pair_same[1], FUSED, rule="robust", ref_image=pair_same[0])
    assert r3.rule == "robust" and "fused_unavailable" not in r3.verdict.extra


def test_decide_pair_switches_rule_on_cached_matches(fused_result):
    pair = fused_result.pair
    _, robust, _ = decide_pair(pair, FUSED, "robust")
    _, fused, _ = decide_pair(pair, FUSED)
    assert robust.extra["rule"] == "robust" and "similarity" not in robust.extra
    assert fused.extra["rule"] == "fused" and fused.extra["similarity"] == pytest.approx(fused_result.similarity)
    # a strict fused threshold moves the verdict without recomputing anything
    _, strict, _ = decide_pair(pair, replace(FUSED, fused_threshold=20.0, min_inliers=10_000))
    assert not strict.result and strict.extra["decided_by"] == "fused_score"
    with pytest.raises(ValueError, match="full resolution"):
        decide_pair(pair, FUSED, "original")


def test_store_round_trip_and_backfill(tmp_path, pair_same, registered):
    store = LocalReferenceStore(tmp_path / "refs")
    record = save_reference(store, "alice", pair_same[0], registered[1])
    stored = features_from_bytes(store.load_features(record.key))
    np.testing.assert_allclose(stored.embedding, registered[1].features.embedding)
    loaded = load_reference(store, record.key, FUSED.feature_settings, Needs(embedding=True))
    assert not loaded.recomputed and loaded.features.embedding is not None

    # a reference saved before the fused rule: no embedding in its blob
    plain = prepare_photo(pair_same[0], FUSED.feature_settings)
    old = save_reference(store, "bob", pair_same[0], plain)
    assert features_from_bytes(store.load_features(old.key)).embedding is None
    assert not load_reference(store, old.key, FUSED.feature_settings).recomputed  # robust: fine as is
    first = load_reference(store, old.key, FUSED.feature_settings, Needs(embedding=True))
    assert first.recomputed and first.features.embedding is not None
    np.testing.assert_array_equal(first.features.points, plain.features.points)
    assert features_from_bytes(store.load_features(old.key)).embedding is not None  # saved back
    second = load_reference(store, old.key, FUSED.feature_settings, Needs(embedding=True))
    assert not second.recomputed
    r = verify_photo(second.features, pair_same[1], FUSED)
    assert r.rule == "fused" and r.verdict.result


def _folder(tmp_path, samples_dir) -> Path:
    (tmp_path / "img").mkdir()
    for name in ("roofs1.jpg", "roofs2.jpg", "river1.jpg"):
        shutil.copy(samples_dir / "images" / "vlfeat" / name, tmp_path / "img" / name)
    (tmp_path / "pairs.csv").write_text(
        "ref,query,label,kind\nimg/roofs1.jpg,img/roofs2.jpg,1,viewpoint\nimg/roofs1.jpg,img/river1.jpg,0,hard_negative\n"
        "img/roofs1.jpg,img/missing.jpg,1,viewpoint\n"
    )
    return tmp_path


def test_evaluate_folder_fused(tmp_path, samples_dir):
    folder = _folder(tmp_path, samples_dir)
    r = evaluate_folder(folder, FUSED, "fused", workers=1, show_progress=False)
    assert r["rule"] == "fused" and r["processed"] == 2 and len(r["failed"]) == 1
    assert r["true_accept_rate"] == 1.0 and r["false_accept_rate"] == 0.0
    assert r["roc_auc"] == 1.0
    assert evaluate_folder(folder, FUSED, None, workers=1, show_progress=False)["rule"] == "fused"  # profile's rule
    assert evaluate_folder(folder, ROBUST, None, workers=1, show_progress=False)["rule"] == "robust"


def test_fused_no_worse_than_robust_on_samples(samples_evaluation):
    # Profile() with an explicit rule: the same runs other modules score (shared per session)
    robust = samples_evaluation(Profile(), "robust")
    fused = samples_evaluation(Profile(), "fused")
    assert fused["false_accepts"] <= robust["false_accepts"]
    assert fused["true_accepts"] >= robust["true_accepts"]
    for kind, stats in robust["per_kind"].items():
        if set(stats.get("labels", [stats.get("label")])) == {1}:
            assert fused["per_kind"][kind]["accept_rate"] >= stats["accept_rate"], kind
        else:
            assert fused["per_kind"][kind]["accept_rate"] <= stats["accept_rate"], kind


def test_cli_verify_fused_and_profile_rule(tmp_path, samples_dir):
    ref = samples_dir / "images" / "lightglue" / "DSC_0410.JPG"
    query = samples_dir / "images" / "lightglue" / "DSC_0411.JPG"
    body = cli_json("verify", ref, query, "--rule", "fused")
    assert body["rule"] == "fused" and body["result"] is True
    assert body["similarity"] > 0.8 and body["decided_by"] == "geometry"
    assert {"ref_embedding", "embedding"} <= set(body["timings_ms"])
    profile = tmp_path / "robust.json"
    profile.write_text('{"thresholds": {"rule": "robust"}}')
    body = cli_json("verify", ref, query, "--profile", profile)
    assert body["rule"] == "robust" and "similarity" not in body


def test_cli_evaluate_fused(tmp_path, samples_dir):
    folder = _folder(tmp_path, samples_dir)
    body = cli_json("evaluate", folder, "--rule", "fused", "--quiet", "--workers", "1")
    assert body["rule"] == "fused" and body["true_accept_rate"] == 1.0 and body["false_accept_rate"] == 0.0
