"""The tuning core on constructed scores and small folders: both rules, recommendation, split, zip, export."""

from __future__ import annotations

import csv
import io
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vision.lab.data import LabelledPair, LabelledSetError, ZipLimits, copy_folder, extract_zip, make_zip, open_zip
from vision.lab.evaluate import evaluate_folder
from vision.lab.pool import Progress
from vision.lab.recommend import FUSED_THRESHOLD_STEP, recommend, recommend_details, tune
from vision.lab.report import error_cases, figures, per_kind, score_histogram, scores_csv, similarity_histogram
from vision.lab.run import TuningRun, run_folder
from vision.lab.scored import ScoredSet
from vision.lab.split import split_by_scene
from vision.profile import Profile
from vision.rules.fusion import FUSED_FIELDS, fused_accepts, fused_boundary

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

# ten negatives (highest 12), ten positives (lowest 20)
NEG = [0, 0, 0, 0, 0, 3, 4, 5, 9, 12]
POS = [20, 25, 40, 60, 80, 100, 150, 300, 500, 900]


def _scored(neg=NEG, pos=POS, **kwargs) -> ScoredSet:
    return ScoredSet.from_arrays([0] * len(neg) + [1] * len(pos), list(neg) + list(pos), **kwargs)


# --- decisions and figures ------------------------------------------------------


def test_decisions_follow_thresholds_without_recomputing() -> None:
    s = _scored()
    assert s.rates().far == 0 and s.rates().tar == 1.0  # default min_inliers 15
    low = s.with_thresholds(Profile(min_inliers=5))
    assert low.rates().false_accept == 3 and low.rates().tar == 1.0


def test_area_fraction_gates_the_score() -> None:
    s = ScoredSet.from_arrays([1, 1, 0], [100, 100, 50], [0.5, 0.001, 0.5], Profile(min_inliers=20))
    assert list(s.accepted) == [True, False, True]
    assert list(s.with_thresholds(Profile(min_inliers=60)).accepted) == [True, False, False]


def test_figures_include_original_rule() -> None:
    s = ScoredSet.from_arrays([1, 0], [100, 0], original_area=[1e5, 40.0])
    f = figures(s)
    assert f["true_accept_rate"] == 1.0 and f["false_accept_rate"] == 0.0 and f["roc_auc"] == 1.0
    assert f["original"]["false_accept_rate"] == 1.0  # 40 px² > 30 px²: the note accepts it


def test_per_kind_table() -> None:
    s = ScoredSet.from_arrays([1, 1, 0], [100, 5, 0], kinds=["viewpoint", "viewpoint", "hard_negative"])
    rows = {r["kind"]: r for r in per_kind(s).values()}
    assert rows["viewpoint"]["pairs"] == 2 and rows["viewpoint"]["accept_rate"] == 0.5
    assert rows["hard_negative"]["label"] == 0 and rows["hard_negative"]["accepted"] == 0


def test_histogram_counts_every_pair() -> None:
    hist = score_histogram(_scored())
    assert hist.same.sum() == len(POS) and hist.different.sum() == len(NEG)
    assert np.all(np.diff(hist.edges) > 0)


def test_error_cases_most_wrong_first() -> None:
    s = ScoredSet.from_arrays([0, 0, 1, 1, 1], [16, 40, 0, 10, 50], thresholds=Profile(min_inliers=15))
    fa, fr = error_cases(s)
    assert [c.inliers for c in fa] == [40, 16]
    assert [c.inliers for c in fr] == [0, 10]
    assert all(c.kind == "false accept" for c in fa) and fr[0].kind == "false reject"


# --- recommendation -------------------------------------------------------------------


def test_recommend_meets_target_and_keeps_every_positive() -> None:
    rec = recommend_details(_scored(), 0.0)
    assert rec.highest_rejected_negative == 12 and rec.lowest_accepted_positive == 20
    assert rec.tightest_min_inliers == 13
    # geometric middle of the empty gap (12, 20]: ceil(sqrt(13 * 20)) = 17
    assert rec.thresholds.min_inliers == 17
    assert rec.margin_below == 5 and rec.margin_above == 3
    assert rec.train["false_accept_rate"] == 0 and rec.train["true_accept_rate"] == 1.0
    assert rec.feasible


def test_recommend_tightest_placement_is_one_above_the_negative() -> None:
    assert recommend(_scored(), 0.0, placement="tightest").min_inliers == 13


def test_recommend_allows_the_target_share_of_negatives() -> None:
    # 10% of ten negatives: the highest (12) may pass, the next (9) may not
    rec = recommend_details(_scored(), 0.1, placement="tightest")
    assert rec.thresholds.min_inliers == 10 and rec.train["false_accepts"] == 1


def test_recommend_trades_true_accepts_when_classes_overlap() -> None:
    s = _scored(neg=[0, 0, 30, 2], pos=[10, 20, 40, 50])
    rec = recommend_details(s, 0.0)
    assert rec.train["false_accept_rate"] == 0.0
    assert rec.train["true_accept_rate"] == 0.5
    assert 31 <= rec.thresholds.min_inliers <= 40


def test_recommend_picks_an_area_fraction_that_helps() -> None:
    # a negative with many inliers but a tiny outline: a 2% area floor removes it
    s = ScoredSet.from_arrays([0, 0, 1, 1], [60, 0, 30, 100], [0.012, 0.0, 0.5, 0.6])
    rec = recommend_details(s, 0.0)
    assert rec.thresholds.min_area_fraction == pytest.approx(0.02)
    assert rec.train["true_accept_rate"] == 1.0 and rec.train["false_accept_rate"] == 0.0


def test_recommend_keeps_the_base_area_when_the_data_cannot_tell() -> None:
    base = Profile(min_area_fraction=0.03)
    assert recommend(_scored(thresholds=base), 0.0).min_area_fraction == pytest.approx(0.03)


def test_recommend_stays_in_slider_range() -> None:
    rec = recommend_details(_scored(neg=[0, 500], pos=[600, 700]), 0.0)
    assert rec.thresholds.min_inliers == 200 and not rec.feasible
    assert recommend(_scored(neg=[0, 0], pos=[1, 2]), 0.0).min_inliers == 4


def test_recommend_keeps_other_thresholds() -> None:
    base = Profile(ratio=0.75, min_keypoints=120)
    tuned = recommend(_scored(thresholds=base), 0.01)
    assert tuned.ratio == 0.75 and tuned.min_keypoints == 120


def test_recommend_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        recommend(_scored(), 2.0)
    with pytest.raises(ValueError):
        recommend(_scored(), 0.01, placement="middle")


# --- the fused rule -------------------------------------------------------------------

# negatives: few inliers, or 11-14 spurious inliers with a low similarity; positives: 8-14 inliers with a
# high similarity (wide viewpoint), or many inliers
F_NEG_INL = [0, 0, 0, 2, 3, 5, 11, 12, 13, 14]
F_NEG_SIM = [0.6, 0.3, 0.2, 0.5, 0.4, 0.3, 0.2, 0.3, 0.25, 0.3]
F_POS_INL = [8, 9, 10, 12, 14, 30, 60, 200]
F_POS_SIM = [0.8, 0.85, 0.75, 0.8, 0.9, 0.5, 0.4, 0.6]


def _fused(neg_inl=F_NEG_INL, neg_sim=F_NEG_SIM, pos_inl=F_POS_INL, pos_sim=F_POS_SIM, **kwargs) -> ScoredSet:
    labels = [0] * len(neg_inl) + [1] * len(pos_inl)
    return ScoredSet.from_arrays(
        labels, list(neg_inl) + list(pos_inl), similarity=list(neg_sim) + list(pos_sim), **kwargs
    )


def test_fused_rule_decides_by_inliers_and_similarity() -> None:
    # defaults: geometric minimum 8, log(1 + n) + 4 s >= 4.8, geometry alone from 15
    s = ScoredSet.from_arrays(
        [0, 0, 0, 1, 1, 1, 1, 1], [0, 9, 12, 10, 12, 20, 100, 0], similarity=[0.9, 0.2, 0.3, 0.8, 0.7, 0.3, 0.5, 0.95]
    )
    assert s.rule == "fused"
    assert list(s.accepted) == [False, False, False, True, True, True, True, False]
    assert list(s.accepted_by("robust")) == [False, False, False, False, False, True, True, False]
    f = figures(s)
    assert f["rule"] == "fused" and f["true_accepts"] == 4 and f["false_accepts"] == 0
    assert f["robust"]["true_accepts"] == 2
    # the sidebar's rule switch: the same arrays, the robust figures
    robust = s.with_thresholds(Profile(rule="robust"))
    assert robust.rule == "robust" and figures(robust)["true_accepts"] == 2 and "robust" not in figures(robust)
    # without similarities a set is the robust rule's whatever the thresholds say
    assert ScoredSet.from_arrays([1], [10]).rule == "robust"


def test_fused_rule_applies_the_outline_area_and_falls_back_without_similarity() -> None:
    s = ScoredSet.from_arrays(
        [1, 1, 1, 1], [10, 10, 20, 10], [0.5, 0.001, 0.5, 0.5], similarity=[0.8, 0.8, np.nan, np.nan]
    )
    # area below 1% rejects; a pair without similarity is decided by the robust rule (20 >= 15 but not 10)
    assert list(s.accepted) == [True, False, True, False]
    assert list(s.has_similarity) == [True, True, False, False]


@pytest.mark.parametrize("seed", range(4))
def test_fused_scores_rank_the_rule(seed: int) -> None:
    """accept <=> fused score >= fused_threshold: the ROC passes through the operating point."""
    rng = np.random.default_rng(seed)
    n = 300
    inl = rng.integers(0, 60, n).astype(float)
    sim = rng.uniform(-0.1, 1.0, n)
    sim[rng.random(n) < 0.05] = np.nan
    area = rng.uniform(0, 0.05, n)
    t = Profile(
        min_inliers=int(rng.integers(8, 40)),
        fused_min_inliers=int(rng.integers(4, 12)),
        fused_weight=float(rng.uniform(1, 6)),
        fused_threshold=float(rng.uniform(2, 6)),
        min_area_fraction=0.01,
    )
    s = ScoredSet.from_arrays(rng.integers(0, 2, n), inl, area, t, similarity=sim)
    assert np.array_equal(s.fused_scores() >= t.fused_threshold, s.accepted)
    has = np.isfinite(sim)
    assert np.array_equal(s.accepted[has], fused_accepts(inl[has], sim[has], t, area[has]))
    rates, curve = s.rates(), s.roc()
    assert any(np.isclose(curve.fpr, rates.far) & np.isclose(curve.tpr, rates.tar))


def test_fused_per_kind_and_histogram() -> None:
    s = ScoredSet.from_arrays(
        [1, 1, 0], [10, 0, 0], kinds=["viewpoint", "viewpoint", "hard_negative"], similarity=[0.8, 0.6, 0.7]
    )
    rows = {r["kind"]: r for r in per_kind(s).values()}
    assert rows["viewpoint"]["accept_rate"] == 0.5 and rows["viewpoint"]["robust_accept_rate"] == 0.0
    assert rows["viewpoint"]["median_similarity"] == pytest.approx(0.7)
    hist = similarity_histogram(s)
    assert hist.same.sum() == 2 and hist.different.sum() == 1 and hist.edges[-1] == 1.0
    assert similarity_histogram(_scored()) is None


def test_fused_error_cases_most_wrong_first() -> None:
    # false accepts: geometry alone with 400 inliers, then a similarity lift; false rejects: 0 inliers
    # (far below the geometric minimum) before 10 inliers with a middling similarity
    s = ScoredSet.from_arrays([0, 0, 1, 1, 1], [400, 10, 0, 10, 100], similarity=[0.1, 0.8, 0.9, 0.5, 0.5])
    fa, fr = error_cases(s)
    assert [c.inliers for c in fa] == [400, 10] and fa[0].similarity == pytest.approx(0.1)
    assert [c.inliers for c in fr] == [0, 10]
    assert all(c.wrongness > 0 for c in fa + fr)
    assert "similarity" in fa[1].reason


def test_recommend_picks_the_fused_thresholds_too() -> None:
    rec = recommend_details(_fused(), 0.0)
    # robust: above the 14-inlier negatives, loses the wide-viewpoint positives
    assert rec.thresholds.min_inliers > 14
    assert rec.train["robust"]["true_accept_rate"] == pytest.approx(3 / 8)
    # fused: the similarity lifts them, no different pair accepted
    assert rec.fused is not None and set(FUSED_FIELDS) <= set(rec.fused)
    assert {name: getattr(rec.thresholds, name) for name in FUSED_FIELDS} == {n: rec.fused[n] for n in FUSED_FIELDS}
    assert rec.train["rule"] == "fused"
    assert rec.train["true_accept_rate"] == 1.0 and rec.train["false_accept_rate"] == 0.0
    assert rec.fused["stressed_false_accept_rate"] == 0.0 and rec.fused["similarity_margin"] > 0
    # on the sidebar's step, since the gap is wide
    steps = rec.thresholds.fused_threshold / FUSED_THRESHOLD_STEP
    assert steps == pytest.approx(round(steps))
    assert rec.thresholds.rule == "learned"  # the base's rule (the default) is kept
    assert recommend_details(_scored(), 0.0).fused is None  # nothing to pick without similarities


def test_recommend_fused_keeps_the_base_rule_and_judges_it() -> None:
    rec = recommend_details(_fused(thresholds=Profile(rule="robust")), 0.0)
    assert rec.thresholds.rule == "robust" and rec.fused is not None
    assert rec.train["rule"] == "robust" and rec.train["true_accept_rate"] == pytest.approx(3 / 8)


def test_tune_report_has_both_rules() -> None:
    s = _fused(scenes=[f"s{i % 4}" for i in range(len(F_NEG_INL) + len(F_POS_INL))])
    body = tune(s, 0.0, split_by_scene(s.pairs, 0.3, 0)).to_json()
    assert body["rule"] == "fused" and body["figures"]["train"]["rule"] == "fused"
    assert body["figures"]["holdout"]["rule"] == "fused" and "robust" in body["figures"]["holdout"]
    for name in ("min_inliers", "min_area_fraction", *FUSED_FIELDS):
        expected = body["recommendation"]["fused"].get(name, body["recommendation"].get(name))
        assert body["thresholds"][name] == expected


def test_scores_csv_has_the_similarity_and_both_verdicts() -> None:
    s = ScoredSet.from_arrays([1, 1], [10, 20], similarity=[0.8, np.nan])
    rows = list(csv.DictReader(io.StringIO(scores_csv(s))))
    assert rows[0]["similarity"] == "0.8000" and float(rows[0]["fused_score"]) == pytest.approx(np.log(11) + 3.2)
    assert rows[0]["rule"] == "fused" and rows[0]["accepted"] == "1" and rows[0]["robust_accepted"] == "0"
    assert rows[1]["similarity"] == "" and rows[1]["rule"] == "fused" and rows[1]["accepted"] == "1"
    assert "decided by the robust rule" in rows[1]["reason"]


def test_the_boundary_moves_with_the_threshold() -> None:
    s = _fused()
    moved = s.with_thresholds(Profile(fused_threshold=3.0))
    xs, ys = fused_boundary(moved.thresholds, (0, 100))
    assert ys.min() == 0.0 and xs[0] == moved.thresholds.fused_min_inliers


# --- hold-out split -------------------------------------------------------------------


def _pairs(scene_sizes: dict[str, int]) -> list[LabelledPair]:
    return [
        LabelledPair(f"{scene}/r{i}.jpg", f"{scene}/q{i}.jpg", i % 2, "k")
        for scene, n in scene_sizes.items()
        for i in range(n)
    ]


def test_split_is_deterministic_and_scene_disjoint() -> None:
    pairs = _pairs({f"s{i}": 5 + i for i in range(10)})
    a, b = split_by_scene(pairs, 0.3, seed=4), split_by_scene(pairs, 0.3, seed=4)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.holdout, b.holdout)
    train_scenes = {pairs[i].scene for i in a.train}
    held_scenes = {pairs[i].scene for i in a.holdout}
    assert not train_scenes & held_scenes
    assert held_scenes == set(a.holdout_scenes) and train_scenes == set(a.train_scenes)
    assert sorted(np.concatenate([a.train, a.holdout]).tolist()) == list(range(len(pairs)))
    assert 0.15 * len(pairs) <= a.holdout.size <= 0.375 * len(pairs)


def test_split_depends_on_seed() -> None:
    pairs = _pairs({f"s{i}": 4 for i in range(12)})
    splits = {split_by_scene(pairs, 0.3, seed).holdout_scenes for seed in range(6)}
    assert len(splits) > 1


def test_split_keeps_a_scene_on_each_side() -> None:
    pairs = _pairs({"big": 50, "small": 3})
    split = split_by_scene(pairs, 0.3, 0)
    assert split.train.size and split.holdout.size
    assert split_by_scene(_pairs({"only": 5}), 0.3, 0).holdout.size == 0
    assert split_by_scene(pairs, 0.0, 0).holdout.size == 0


def test_tune_reports_both_parts() -> None:
    scenes = [f"s{i % 5}" for i in range(len(NEG) + len(POS))]
    s = _scored(scenes=scenes)
    split = split_by_scene(s.pairs, 0.4, 1)
    report = tune(s, 0.0, split).to_json()
    assert report["figures"]["train"]["pairs"] == split.train.size
    assert report["figures"]["holdout"]["pairs"] == split.holdout.size
    assert report["figures"]["all"]["pairs"] == len(s)
    assert report["thresholds"]["min_inliers"] == report["recommendation"]["min_inliers"]
    # the thresholds tuned from, judged on the same held-out scenes: the figures of the unchanged set there
    base = report["baseline_holdout"]
    assert base == figures(s.subset(split.holdout)) and base["pairs"] == split.holdout.size
    assert report["baseline_all"]["pairs"] == len(s)
    assert tune(s, 0.0).to_json()["baseline_holdout"] is None


# --- export ---------------------------------------------------------------------


def test_scores_csv_round_trip() -> None:
    s = ScoredSet.from_arrays([1, 0], [42, 3], [0.5, 0.1], original_area=[900.0, 12.0], scenes=["a", "b"])
    split = split_by_scene(s.pairs, 0.5, 0)
    rows = list(csv.DictReader(io.StringIO(scores_csv(s, split))))
    assert len(rows) == 2
    assert rows[0]["inliers"] == "42" and rows[0]["accepted"] == "1" and rows[0]["original_accepted"] == "1"
    assert rows[1]["accepted"] == "0" and rows[1]["original_accepted"] == "0"
    assert {r["part"] for r in rows} == {"train", "holdout"}
    assert rows[0]["scene"] == "a"


# --- zip loading -------------------------------------------------------------------


def _zip(members: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


PAIRS_CSV = b"ref,query,label,kind\na/1.jpg,a/2.jpg,1,viewpoint\n"


def test_open_zip_at_root_and_in_one_folder(tmp_path: Path) -> None:
    for prefix in ("", "myset/"):
        data = _zip({prefix + "pairs.csv": PAIRS_CSV, prefix + "a/1.jpg": b"x", prefix + "a/2.jpg": b"y"})
        labelled = open_zip(data, "set.zip")
        assert (labelled.root / "a" / "1.jpg").read_bytes() == b"x"
        assert labelled.pairs[0].label == 1 and labelled.fingerprint.startswith("zip:")
        root = labelled.root
        labelled.close()
        assert not root.exists()


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/abs/evil.txt", "C:/evil.txt"])
def test_zip_rejects_paths_outside(tmp_path: Path, name: str) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(LabelledSetError):
        extract_zip(_zip({"pairs.csv": PAIRS_CSV, name: b"boom"}), dest)
    assert not (tmp_path / "evil.txt").exists()
    assert list(dest.iterdir()) == []  # checked before anything is written


def test_zip_rejects_symlinks(tmp_path: Path) -> None:
    with pytest.raises(LabelledSetError, match="links"):
        extract_zip(_zip({"pairs.csv": PAIRS_CSV}, symlink="a/link.jpg"), tmp_path)


def test_zip_rejects_too_large_member_and_too_many_files(tmp_path: Path) -> None:
    big = _zip({"pairs.csv": PAIRS_CSV, "a/1.jpg": b"\0" * 200_000})  # compresses to almost nothing
    with pytest.raises(LabelledSetError, match="bytes"):
        extract_zip(big, tmp_path / "x", ZipLimits(max_total_bytes=10**9, max_member_bytes=100_000))
    with pytest.raises(LabelledSetError, match="expands"):
        extract_zip(big, tmp_path / "y", ZipLimits(max_total_bytes=150_000, max_member_bytes=10**9))
    many = _zip({"pairs.csv": PAIRS_CSV} | {f"a/{i}.jpg": b"x" for i in range(20)})
    with pytest.raises(LabelledSetError, match="files"):
        extract_zip(many, tmp_path / "z", ZipLimits(max_files=10))


def test_zip_with_lying_sizes_is_refused(tmp_path: Path) -> None:
    data = bytearray(_zip({"pairs.csv": PAIRS_CSV, "a/1.jpg": b"\0" * 50_000}))
    # claim 10 bytes uncompressed in both the local and the central header
    local = data.find(b"PK\x03\x04", 1)
    central = data.find(b"PK\x01\x02", data.find(b"PK\x01\x02") + 4)
    data[local + 22 : local + 26] = struct.pack("<I", 10)
    data[central + 24 : central + 28] = struct.pack("<I", 10)
    with pytest.raises(LabelledSetError, match="corrupt"):
        extract_zip(bytes(data), tmp_path, ZipLimits(max_total_bytes=20_000))
    assert not (tmp_path / "a" / "1.jpg").exists() or (tmp_path / "a" / "1.jpg").stat().st_size <= 10


def test_zip_rejects_duplicate_members(tmp_path: Path) -> None:
    with pytest.warns(UserWarning):
        data = _zip({"pairs.csv": PAIRS_CSV})
        buffer = io.BytesIO(data)
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.writestr("pairs.csv", PAIRS_CSV)
    with pytest.raises(LabelledSetError, match="twice"):
        extract_zip(buffer.getvalue(), tmp_path)


def test_zip_without_pairs_csv_or_not_a_zip() -> None:
    with pytest.raises(LabelledSetError, match=r"pairs\.csv"):
        open_zip(_zip({"a/1.jpg": b"x", "b/2.jpg": b"y"}))
    with pytest.raises(LabelledSetError, match=r"pairs\.csv"):
        open_zip(_zip({"one/pairs.csv": PAIRS_CSV, "two/pairs.csv": PAIRS_CSV}))
    with pytest.raises(LabelledSetError, match="not a zip"):
        open_zip(b"PK not really")


# --- a real run on a tiny folder ----------------------------------------------------


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four sample pairs (two same, two different) copied into a folder."""
    root = tmp_path_factory.mktemp("tiny")
    lines = (SAMPLES / "pairs.csv").read_text().splitlines()
    same = [x for x in lines[1:] if x.split(",")[2] == "1"][:2]
    different = [x for x in lines[1:] if x.split(",")[2] == "0"][:2]
    src = tmp_path_factory.mktemp("src")
    (src / "pairs.csv").write_text("\n".join([lines[0], *same, *different]) + "\n")
    (src / "images").symlink_to(SAMPLES / "images")
    return copy_folder(src, root)


def test_run_from_zip_reuses_cached_matches(tiny_set: Path) -> None:
    labelled = open_zip(make_zip(tiny_set), "tiny.zip")
    seen: list[Progress] = []
    run = TuningRun.build(labelled, Profile().feature_settings, workers=2, on_progress=seen.append, original=False)
    assert {p.stage for p in seen} == {"features", "matches"}
    assert seen[-1].done == seen[-1].total and seen[-1].fraction == 1.0
    scored = run.scored(Profile())
    assert len(scored) == 4 and scored.ok.all()
    assert scored.inliers[scored.labels == 1].max() > scored.inliers[scored.labels == 0].max()
    evidence = run.evidence(Profile())
    assert run.evidence(Profile(min_inliers=40)) is evidence  # decision-only change: no RANSAC
    assert run.evidence(Profile(ratio=0.7)) is not evidence  # geometry change: recomputed
    with pytest.raises(ValueError, match="new run"):
        run.scored(Profile(working_side=640))
    assert run.similarity is not None and np.all((run.similarity > -1) & (run.similarity <= 1))
    assert scored.rule == "fused"
    labelled.close()


# --- the bundled set: the lab agrees with `vision.lab.evaluate` ---------------------


@pytest.fixture(scope="module")
def samples_run() -> TuningRun:
    return run_folder(SAMPLES, Profile(), workers=2, original=False)


def _same_figures(scored: ScoredSet, report: dict) -> None:
    f = figures(scored)
    assert f["rule"] == report["rule"]
    for key in ("pairs", "processed", "true_accepts", "false_accepts", "true_accept_rate", "false_accept_rate"):
        assert f[key] == report[key], key
    assert {r["kind"]: r["accept_rate"] for r in per_kind(scored).values()} == {
        kind: row["accept_rate"] for kind, row in report["per_kind"].items()
    }


@pytest.mark.parametrize(
    "thresholds",
    [
        Profile(),
        Profile(min_inliers=40, fused_min_inliers=6, fused_weight=2.5, fused_threshold=3.6),
    ],
    ids=["defaults", "moved"],
)
def test_fused_rates_equal_evaluate_folder(
    samples_run: TuningRun, thresholds: Profile, samples_evaluation: Callable[[Profile, str], dict]
) -> None:
    scored = samples_run.scored(thresholds)
    assert scored.rule == "fused" and scored.has_similarity.all()
    _same_figures(scored, samples_evaluation(thresholds, "fused"))


def test_robust_rates_equal_evaluate_folder(samples_run: TuningRun) -> None:
    thresholds = Profile(rule="robust")
    _same_figures(samples_run.scored(thresholds), evaluate_folder(SAMPLES, thresholds, rule=None, show_progress=False))
