"""vision.rules.fusion: the fused rule (homography inliers + global similarity), its boundary and recommendation."""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vision.core import verdict as v
from vision.flows.prepare import prepare_photo, reference_features
from vision.flows.verify import verify_photo
from vision.matchers.akaze import FeatureSettings, features_from_bytes, features_to_bytes
from vision.matchers.descriptor import cosine_similarity, global_embedding
from vision.profile import Profile, dumps_profile, load_profile, loads_profile, save_profile
from vision.rules.base import Needs
from vision.rules.catalogue import rule_names
from vision.rules.evidence import MatchEvidence
from vision.rules.fusion import (
    FUSED_FIELDS,
    apply_recommendation,
    decide_fused,
    fused_accepts,
    fused_boundary,
    fused_evidence,
    fused_score,
    geometry_alone_inliers,
    recommend_fused,
    required_similarity,
)

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = REPO.parent / "shared" / "data"
SAMPLES = REPO / "samples"
DEFAULT = Profile(rule="fused")  # the learned rule is the default; these tests are about fused
SMALL = FeatureSettings(working_side=640, max_keypoints=1000)


def evidence(n_inliers: int = 100, area_fraction: float = 0.5, H: bool = True, problems=()) -> MatchEvidence:
    """A constructed MatchEvidence with ``n_inliers`` of 300 tentative matches."""
    tentative = np.ones(300, bool)
    inliers = np.zeros(300, bool)
    inliers[:n_inliers] = True
    return MatchEvidence(
        n_ref_keypoints=1000,
        n_query_keypoints=1000,
        n_candidates=300,
        tentative=tentative,
        inliers=inliers,
        H=np.eye(3) if H else None,
        outline=np.zeros((4, 2)) if H else None,
        area_fraction=area_fraction if H else 0.0,
        problems=list(problems),
    )


# -- the decision on constructed scores -------------------------------------------


def test_fused_stays_selectable():
    assert Profile().rule == "learned" and "fused" in rule_names()
    assert (DEFAULT.fused_min_inliers, DEFAULT.fused_weight, DEFAULT.fused_threshold) == (8, 4.0, 4.8)
    # the robust rule's min_inliers (15) accepts on geometry alone, long before log(1 + n) >= 4.8 (n = 121)
    assert geometry_alone_inliers(DEFAULT) == DEFAULT.min_inliers == 15
    assert geometry_alone_inliers(replace(DEFAULT, min_inliers=500)) == 121


def test_geometry_carries_many_inliers():
    verdict = decide_fused(evidence(200), 0.05, DEFAULT)
    assert verdict.body() == {"status": 200, "message": v.COMPLETE, "result": True}
    assert verdict.extra["decided_by"] == "geometry" and verdict.reason.startswith("geometry")
    assert verdict.extra["similarity"] == 0.05 and verdict.extra["rule"] == "fused"
    assert verdict.extra["inliers"] == 200  # the match summary is kept


def test_similarity_lifts_few_inliers():
    verdict = decide_fused(evidence(8), 0.75, DEFAULT)
    assert verdict.result and verdict.extra["decided_by"] == "similarity"
    assert verdict.reason.startswith("similarity: 0.75 >= ")
    # the robust rule alone (15 inliers) would have rejected this pair
    assert DEFAULT.min_inliers > 8


@pytest.mark.parametrize(
    ("kwargs", "similarity", "decided_by", "reason_start"),
    [
        ({"n_inliers": 8}, 0.3, "fused_score", "fused score"),
        ({"n_inliers": 5}, 0.99, "geometric_minimum", "5 inliers < 8 required"),
        ({"n_inliers": 0, "H": False}, 1.0, "no_homography", "no homography"),
        (
            {"n_inliers": 300, "problems": ["projected outline is not convex"]},
            1.0,
            "implausible_homography",
            "implausible homography",
        ),
        ({"n_inliers": 300, "area_fraction": 0.001}, 1.0, "outline_area", "outline covers"),
    ],
)
def test_rejections_name_the_failing_check(kwargs, similarity, decided_by, reason_start):
    verdict = decide_fused(evidence(**kwargs), similarity, DEFAULT)
    assert verdict.body() == {"status": 200, "message": v.WRONG_PICTURE, "result": False}
    assert verdict.extra["decided_by"] == decided_by
    assert verdict.reason.startswith(reason_start), verdict.reason


def test_boundary_is_exact():
    t = DEFAULT
    for n in (8, 10, 14):
        need = float(required_similarity(n, t))
        assert decide_fused(evidence(n), need + 1e-6, t).result
        assert not decide_fused(evidence(n), need - 1e-3, t).result
    assert decide_fused(evidence(15), 0.0, t).extra["decided_by"] == "geometry"
    assert decide_fused(evidence(14), float(required_similarity(14, t)) + 1e-6, t).extra["decided_by"] == "similarity"
    assert not decide_fused(evidence(7), 1.0, t).result  # the geometric minimum


def test_vectorised_matches_decide_fused():
    rng = np.random.default_rng(0)
    inl = rng.integers(0, 80, 300)
    sim = rng.uniform(0, 1, 300)
    area = rng.choice([0.0, 0.005, 0.5], 300)
    t = replace(DEFAULT, fused_weight=2.5, fused_threshold=4.1, fused_min_inliers=7)
    fast = fused_accepts(inl, sim, t, area)
    slow = [
        decide_fused(evidence(int(i), float(a)), float(s), t).result for i, s, a in zip(inl, sim, area, strict=True)
    ]
    assert list(fast) == slow
    assert fused_score(np.array([0, 9]), np.array([0.5, 0.5]), 2.0) == pytest.approx([1.0, np.log(10) + 1.0])


def test_nan_similarity_is_zero():
    assert fused_evidence(evidence(8), float("nan"), DEFAULT).similarity == 0.0


def test_cosine_similarity():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    assert cosine_similarity(a, a * 5) == pytest.approx(1.0)
    assert cosine_similarity(a, -a) == pytest.approx(-1.0)
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(0.0)
    assert cosine_similarity(None, a) == 0.0
    assert cosine_similarity(a, np.zeros(3)) == 0.0
    assert cosine_similarity(a, np.ones(4)) == 0.0


# -- thresholds and profiles --------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rule": "original"}, "rule must be one of"),
        ({"rule": "magic"}, "rule must be one of"),
        ({"fused_min_inliers": 3}, "fused_min_inliers"),
        ({"fused_weight": 0.0}, "fused_weight"),
        ({"fused_weight": float("nan")}, "fused_weight"),
        ({"fused_threshold": -1.0}, "fused_threshold"),
        ({"fused_threshold": 25.0}, "fused_threshold"),
    ],
)
def test_fused_threshold_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Profile(**kwargs)


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_profile_round_trip_with_fused_fields(tmp_path, suffix):
    custom = Profile(rule="robust", fused_min_inliers=8, fused_weight=2.5, fused_threshold=4.25)
    path = save_profile(custom, tmp_path / f"p{suffix}")
    assert load_profile(path) == custom
    assert loads_profile(dumps_profile(custom, suffix[1:])) == custom


def test_old_profile_without_fused_fields_loads():
    old = {k: val for k, val in Profile(min_inliers=20).to_dict().items() if k != "rule" and not k.startswith("fused")}
    t = Profile.from_dict(old)
    assert t.min_inliers == 20 and t.rule == "learned" and t.fused_threshold == DEFAULT.fused_threshold
    with pytest.raises(ValueError, match="rule"):
        Profile.from_dict({"rule": 5})


# -- the boundary and the recommendation, for the tuning page --------------------------


def test_fused_boundary_polyline():
    xs, ys = fused_boundary(DEFAULT, (1, 500), n=100)
    assert xs.shape == ys.shape and xs[0] == DEFAULT.fused_min_inliers and ys[0] == 1.0
    assert np.all(np.diff(xs) >= 0) and np.all(np.diff(ys[1:]) <= 1e-12)
    assert np.all((ys >= 0) & (ys <= 1))
    assert ys[-1] == 0.0 and np.all(ys[xs >= 15] == 0.0)  # geometry alone from min_inliers on
    curve = xs[1:] < 15
    np.testing.assert_allclose(ys[1:][curve], (4.8 - np.log1p(xs[1:][curve])) / 4.0)
    # points just above are accepted, just below rejected
    mid = (xs > 8) & (xs < 15)
    assert fused_accepts(xs[mid], ys[mid] + 1e-6, DEFAULT).all()
    assert not fused_accepts(xs[mid], ys[mid] - 1e-3, DEFAULT).any()
    # a range that starts above the geometric minimum has no vertical segment
    xs2, ys2 = fused_boundary(DEFAULT, (10, 30))
    assert xs2[0] == 10 and ys2[0] == pytest.approx((4.8 - np.log(11)) / 4)
    _xs3, ys3 = fused_boundary(DEFAULT, (0, 3))  # entirely left of the geometric minimum
    assert list(ys3) == [1.0, 1.0]


def synthetic_set(seed: int = 1):
    rng = np.random.default_rng(seed)
    neg_inl = rng.integers(0, 6, 200)
    neg_sim = np.clip(rng.normal(0.3, 0.1, 200), 0, 0.62)
    pos_inl = np.concatenate([rng.integers(6, 15, 30), rng.integers(15, 600, 70)])
    pos_sim = np.clip(rng.normal(0.75, 0.1, 100), 0.3, 1)
    return (
        np.concatenate([neg_inl, pos_inl]),
        np.concatenate([neg_sim, pos_sim]),
        np.concatenate([np.zeros(200, int), np.ones(100, int)]),
    )


@pytest.mark.parametrize("target", [0.0, 0.01, 0.05])
def test_recommend_fused_meets_target_with_margin(target):
    inl, sim, lab = synthetic_set()
    rec = recommend_fused(inl, sim, lab, target)
    assert set(FUSED_FIELDS) <= set(rec)
    t = apply_recommendation(Profile(), rec)
    acc = fused_accepts(inl, sim, t)
    assert acc[lab == 0].mean() <= target + 1e-9
    assert rec["stressed_false_accept_rate"] <= target + 1e-9  # negatives given the minimum inliers too
    assert rec["true_accept_rate"] == pytest.approx(acc[lab == 1].mean(), abs=1e-4)
    assert rec["true_accept_rate"] > 0.9 and rec["similarity_margin"] > 0
    assert rec["fused_min_inliers"] >= 6  # the grid's geometric minimum


def test_recommend_fused_more_far_allows_more():
    inl, sim, lab = synthetic_set(2)
    strict = recommend_fused(inl, sim, lab, 0.0)
    loose = recommend_fused(inl, sim, lab, 0.1)
    assert loose["true_accept_rate"] >= strict["true_accept_rate"]


def test_recommend_fused_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        recommend_fused([1, 2], [0.1], [0, 1])
    with pytest.raises(ValueError, match="target_far"):
        recommend_fused([1, 2], [0.1, 0.2], [0, 1], 1.5)
    with pytest.raises(ValueError, match="same pair"):
        recommend_fused([1, 2], [0.1, 0.2], [0, 0])


# -- real photos -----------------------------------------------------------------------


def test_import_does_not_load_onnxruntime():
    code = "import sys, vision.flows.prepare, vision.rules.fusion, vision.matchers.descriptor, vision.lab.evaluate; print('onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_global_embedding_normalised(pair_same):
    image = prepare_photo(pair_same[0], SMALL).image
    emb = global_embedding(image)
    assert emb.shape == (1280,) and emb.dtype == np.float32
    assert np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-4)


def test_featureless_pair_still_rejected(blank_jpeg):
    t = replace(DEFAULT, working_side=640, max_keypoints=1000)
    ref = prepare_photo(blank_jpeg, t.feature_settings, needs=Needs(embedding=True))
    result = verify_photo(ref.features, blank_jpeg, t)
    assert result.rule == "fused"
    assert result.similarity == pytest.approx(1.0, abs=1e-4)  # globally identical ...
    assert result.verdict.body() == {"status": 200, "message": v.WRONG_PICTURE, "result": False}
    assert result.verdict.extra["decided_by"] == "no_homography"  # ... but no geometric evidence


def _hard_negatives(folder: Path, same_dataset: bool) -> list[tuple[str, str]]:
    with (folder / "pairs.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["label"] == "0" and r["kind"] == "hard_negative"]
    if same_dataset:  # two different objects of one collection: toy vs toy, building vs building
        rows = [r for r in rows if r["ref"].split("/")[1] == r["query"].split("/")[1]]
    return [(r["ref"], r["query"]) for r in rows]


def _verify_files(folder: Path, ref: str, query: str):
    ref_photo = prepare_photo((folder / ref).read_bytes(), DEFAULT.feature_settings, needs=Needs(embedding=True))
    return verify_photo(ref_photo.features, (folder / query).read_bytes(), DEFAULT)


@pytest.mark.parametrize("ref,query", _hard_negatives(SAMPLES, same_dataset=False)[:4])
def test_samples_hard_negatives_rejected(ref, query):
    result = _verify_files(SAMPLES, ref, query)
    assert result.rule == "fused" and not result.verdict.result, result.verdict.reason


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "ref,query",
    [
        ("images/bundler/kermit/kermit004.jpg", "images/bundler/ET/et003.jpg"),  # toy vs toy, similarity 0.57
        ("images/strecha/fountain-P11/0009.jpg", "images/strecha/entry-P10/0004.jpg"),  # building vs building
        ("images/vlfeat/roofs2.jpg", "images/vlfeat/river2.jpg"),
    ],
)
def test_same_kind_different_objects_rejected(ref, query):
    result = _verify_files(DATA_DIR, ref, query)
    assert result.rule == "fused" and result.similarity is not None
    assert not result.verdict.result, result.verdict.reason
    assert result.verdict.extra["decided_by"] in (
        "geometric_minimum",
        "no_homography",
        "implausible_homography",
        "fused_score",
    )


def test_missing_embedding_recomputed(pair_same):
    photo = prepare_photo(pair_same[0], SMALL)
    assert photo.features.embedding is None
    blob = features_to_bytes(photo.features)
    features, recomputed = reference_features(blob, pair_same[0], SMALL, Needs(embedding=True))
    assert recomputed and features.embedding is not None and features.embedding.shape == (1280,)
    np.testing.assert_array_equal(features.points, photo.features.points)  # keypoints reused, not recomputed
    # stored with the embedding, it is used as is
    again, recomputed2 = reference_features(features_to_bytes(features), pair_same[0], SMALL, Needs(embedding=True))
    assert not recomputed2
    np.testing.assert_allclose(again.embedding, features.embedding)
    # without embed, a blob lacking the embedding is fine as it is
    _, recomputed3 = reference_features(blob, pair_same[0], SMALL)
    assert not recomputed3
    assert features_from_bytes(features_to_bytes(features)).embedding is not None
