"""vision.rules.evidence: thresholds, profiles, and the three decisions (register, robust, original)."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

from vision.core import verdict as v
from vision.matchers.akaze import FeatureSettings
from vision.profile import Profile, dumps_profile, load_profile, loads_profile, save_profile
from vision.rules.evidence import (
    MatchEvidence,
    OriginalEvidence,
    decide_original,
    decide_registration,
    decide_verification,
)

CUSTOM = Profile(
    min_keypoints=120,
    working_side=800,
    max_keypoints=1500,
    ratio=0.75,
    ransac_method="ransac",
    ransac_reproj_px=3.5,
    min_inliers=25,
    min_area_fraction=0.05,
    original_min_area_px=45.5,
    tag_min_confidence=0.35,
)

# -- Profile ------------------------------------------------------------


def test_defaults_follow_the_note():
    t = Profile()
    assert t.min_keypoints == 80
    assert t.original_min_area_px == 30.0
    assert t.feature_settings == FeatureSettings(working_side=1000, max_keypoints=2000)
    assert CUSTOM.feature_settings == FeatureSettings(working_side=800, max_keypoints=1500)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_keypoints": -1}, "min_keypoints"),
        ({"ratio": 0.0}, "ratio"),
        ({"ratio": 1.01}, "ratio"),
        ({"ratio": float("nan")}, "ratio"),
        ({"ransac_method": "lmeds"}, "ransac_method"),
        ({"ransac_reproj_px": 0.0}, "ransac_reproj_px"),
        ({"ransac_reproj_px": 50.5}, "ransac_reproj_px"),
        ({"min_inliers": 3}, "min_inliers"),
        ({"min_area_fraction": -0.01}, "min_area_fraction"),
        ({"min_area_fraction": 1.5}, "min_area_fraction"),
        ({"original_min_area_px": -1.0}, "original_min_area_px"),
        ({"tag_min_confidence": 1.2}, "tag_min_confidence"),
        ({"working_side": 32}, "working_side"),
        ({"max_keypoints": 5}, "max_keypoints"),
    ],
)
def test_threshold_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Profile(**kwargs)


def test_threshold_bounds_accepted():
    t = Profile(
        min_keypoints=0,
        ratio=1.0,
        ransac_reproj_px=50,
        min_inliers=4,
        min_area_fraction=0,
        original_min_area_px=0,
        tag_min_confidence=1,
    )
    assert t.min_inliers == 4 and t.ratio == 1.0


def test_from_dict_partial_and_coercion():
    t = Profile.from_dict({"min_inliers": 20, "ratio": "0.7", "min_keypoints": "90"})
    assert (t.min_inliers, t.ratio, t.min_keypoints) == (20, 0.7, 90)
    assert isinstance(t.ratio, float) and isinstance(t.min_keypoints, int)
    assert t.working_side == Profile().working_side  # others stay default
    assert Profile.from_dict({}) == Profile()
    assert Profile.from_dict(CUSTOM.to_dict()) == CUSTOM


def test_from_dict_unknown_keys():
    with pytest.raises(ValueError, match="unknown threshold\\(s\\): bogus, min_inlier"):
        Profile.from_dict({"min_inlier": 20, "bogus": 1, "ratio": 0.7})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"min_inliers": "many"}, "min_inliers must be a int"),
        ({"ratio": None}, "ratio must be a float"),
        ({"ratio": [0.7]}, "ratio must be a float"),
        ({"working_side": "big"}, "working_side"),
    ],
)
def test_from_dict_bad_types(data, message):
    with pytest.raises(ValueError, match=message):
        Profile.from_dict(data)


def test_from_dict_value_then_validated():
    with pytest.raises(ValueError, match="ratio must be in"):
        Profile.from_dict({"ratio": 2})


def test_infinite_int_threshold_is_a_value_error():
    with pytest.raises(ValueError):
        loads_profile("[thresholds]\nmin_inliers = inf\n")


@pytest.mark.parametrize("data", [{"min_inliers": 15.7}, {"ratio": True}])
def test_from_dict_rejects_lossy_values(data):
    with pytest.raises(ValueError):
        Profile.from_dict(data)


# -- profiles --------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".toml", ".profile"])
def test_profile_file_round_trip(tmp_path, suffix):
    path = save_profile(CUSTOM, tmp_path / f"tuned{suffix}")
    assert path.is_file()
    text = path.read_text()
    if suffix == ".toml":
        assert tomllib.loads(text)["thresholds"]["min_inliers"] == 25
    else:
        assert json.loads(text)["thresholds"]["ransac_method"] == "ransac"
    assert load_profile(path) == CUSTOM
    assert load_profile(str(path)) == CUSTOM


@pytest.mark.parametrize("fmt", ["json", "toml"])
def test_profile_text_round_trip(fmt):
    assert loads_profile(dumps_profile(CUSTOM, fmt)) == CUSTOM
    assert loads_profile(dumps_profile(Profile(), fmt)) == Profile()


def test_profile_without_table_and_partial():
    assert loads_profile('{"min_inliers": 40}') == Profile(min_inliers=40)
    assert loads_profile("min_inliers = 40\nratio = 0.7\n") == Profile(min_inliers=40, ratio=0.7)
    assert loads_profile('{"thresholds": {}}') == Profile()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("this is = not [ valid", "neither JSON nor TOML"),
        ("[1, 2, 3]", "must be a table"),
        ('{"thresholds": 5}', "'thresholds' must be a table"),
        ("thresholds = 5", "'thresholds' must be a table"),
        ('{"thresholds": {"nope": 1}}', "unknown threshold"),
        ("[thresholds]\nratio = 3.0\n", "ratio must be in"),
    ],
)
def test_bad_profile_text(text, message):
    with pytest.raises(ValueError, match=message):
        loads_profile(text)


def test_load_profile_none_and_missing(tmp_path):
    assert load_profile(None) == Profile()
    with pytest.raises(ValueError, match="cannot read profile"):
        load_profile(tmp_path / "missing.toml")


def test_dumps_profile_bad_format():
    with pytest.raises(ValueError, match="json or toml"):
        dumps_profile(Profile(), "yaml")


# -- registration ----------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "status", "message", "result"),
    [
        (0, 400, v.TOO_LITTLE_FEATURES, False),
        (79, 400, v.TOO_LITTLE_FEATURES, False),
        (80, 200, v.GOOD_PICTURE, True),
        (5000, 200, v.GOOD_PICTURE, True),
    ],
)
def test_decide_registration_boundary(n, status, message, result):
    verdict = decide_registration(n, Profile())
    assert verdict.body() == {"status": status, "message": message, "result": result}
    assert verdict.extra == {"keypoints": n}
    assert str(n) in verdict.reason and "80" in verdict.reason


def test_decide_registration_threshold_moves():
    assert decide_registration(79, Profile(min_keypoints=79)).result
    assert not decide_registration(80, Profile(min_keypoints=81)).result
    assert decide_registration(0, Profile(min_keypoints=0)).result


# -- robust verification ---------------------------------------------------


def evidence(n_tentative=60, n_inliers=40, H=np.eye(3), area_fraction=0.5, problems=()) -> MatchEvidence:  # noqa: B008 (read only)
    m = 200
    tentative = np.zeros(m, bool)
    tentative[:n_tentative] = True
    inliers = np.zeros(m, bool)
    inliers[:n_inliers] = True
    return MatchEvidence(
        n_ref_keypoints=900,
        n_query_keypoints=800,
        n_candidates=m,
        tentative=tentative,
        inliers=inliers,
        H=H,
        outline=None if H is None else np.zeros((4, 2)),
        area_fraction=area_fraction,
        problems=list(problems),
    )


def test_verification_complete():
    verdict = decide_verification(evidence(), Profile())
    assert verdict.body() == {"status": 200, "message": v.COMPLETE, "result": True}
    assert verdict.reason == "40 inliers >= 15, outline 50.0% of the frame"
    assert verdict.extra["inliers"] == 40 and verdict.extra["tentative_matches"] == 60
    assert verdict.extra["inlier_ratio"] == pytest.approx(40 / 60, abs=1e-4)
    assert verdict.extra["homography_problems"] == []
    json.dumps(verdict.to_json())  # JSON-safe


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        (
            {"H": None, "n_tentative": 3, "n_inliers": 0},
            "no homography: 3 tentative matches (at least 4 needed, 15 inliers required)",
        ),
        ({"problems": ["projected outline is mirrored"]}, "implausible homography: projected outline is mirrored"),
        ({"problems": ["a", "b"], "n_inliers": 3}, "implausible homography: a; b"),  # problems come first
        ({"n_inliers": 14}, "14 inliers < 15 required (short by 1)"),
        ({"n_inliers": 5, "area_fraction": 0.0}, "5 inliers < 15 required (short by 10)"),
        ({"area_fraction": 0.005}, "outline covers 0.50% of the frame < 1.00% required"),
    ],
)
def test_verification_failure_reasons(kwargs, reason):
    verdict = decide_verification(evidence(**kwargs), Profile())
    assert verdict.body() == {"status": 200, "message": v.WRONG_PICTURE, "result": False}
    assert verdict.reason == reason


def test_verification_boundaries():
    assert decide_verification(evidence(n_inliers=15), Profile()).result
    assert decide_verification(evidence(area_fraction=0.01), Profile()).result
    assert not decide_verification(evidence(n_inliers=15), Profile(min_inliers=16)).result
    assert decide_verification(evidence(area_fraction=0.0), Profile(min_area_fraction=0)).result


def test_evidence_score_and_summary():
    assert evidence().score == 40.0
    assert evidence(H=None, n_inliers=0).score == 0.0
    assert evidence(problems=["x"]).score == 0.0
    assert evidence(n_tentative=0, n_inliers=0).inlier_ratio == 0.0
    assert set(evidence().summary()) == {
        "ref_keypoints",
        "query_keypoints",
        "tentative_matches",
        "inliers",
        "inlier_ratio",
        "area_fraction",
        "homography_problems",
    }


# -- the original note's rule ---------------------------------------------


def original(area, problem=""):
    return OriginalEvidence(n_ref_keypoints=500, n_query_keypoints=400, n_matches=80, area_px=area, problem=problem)


def test_decide_original():
    t = Profile()
    accepted = decide_original(original(30.5), t)
    assert accepted.body() == {"status": 200, "message": v.COMPLETE, "result": True}
    assert accepted.reason.startswith("original rule: area 30")
    assert accepted.extra == {"ref_keypoints": 500, "query_keypoints": 400, "matches": 80, "area_px": 30.5}
    at_threshold = decide_original(original(30.0), t)
    assert at_threshold.body() == {"status": 200, "message": v.WRONG_PICTURE, "result": False}
    assert "<= 30" in at_threshold.reason
    assert not decide_original(original(1000.0), Profile(original_min_area_px=5000)).result


def test_decide_original_without_area():
    verdict = decide_original(original(None, "findHomography returned None"), Profile())
    assert verdict.body() == {"status": 200, "message": v.WRONG_PICTURE, "result": False}
    assert verdict.reason == "original rule: findHomography returned None"
    assert original(None).score == 0.0 and original(12.5).score == 12.5


def test_verdict_json_extras_never_override_contract():
    verdict = v.Verdict(200, v.COMPLETE, True, "ok", {"status": 999, "message": "x", "k": 1})
    assert verdict.to_json() == {"status": 200, "message": v.COMPLETE, "result": True, "reason": "ok", "k": 1}
