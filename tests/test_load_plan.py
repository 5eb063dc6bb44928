"""bench.load_plan: the load bench sends real, distinct photos, each proof once, expecting the rule's own verdicts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.load_plan import Job, LoadPlan, build_plan, hand_held, plan_pairs
from vision.core import verdict as v
from vision.lab.data import LabelledPair, read_pairs
from vision.profile import Profile

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def _pairs() -> list[LabelledPair]:
    scene = [f"s/{i}.jpg" for i in range(5)]
    genuine = [LabelledPair(scene[0], scene[i], 1, "viewpoint") for i in range(1, 5)]
    genuine.append(LabelledPair(scene[1], scene[2], 1, "viewpoint"))  # scene[2] listed as a proof twice
    genuine.append(LabelledPair("t/a.jpg", "t/b.jpg", 1, "light_appearance"))  # a webcam: pixels repeat
    genuine.append(LabelledPair("t/a.jpg", "t/a_rot90.jpg", 1, "synthetic_rotation"))  # a digital copy
    negatives = [LabelledPair(scene[0], "n/x.jpg", 0, "hard_negative"), LabelledPair("n/y.jpg", scene[3], 0, "easy")]
    return genuine + negatives


def test_fixed_camera_and_synthetic_kinds_are_not_hand_held() -> None:
    assert hand_held("viewpoint_indoor_wide") and hand_held("object") and hand_held("viewpoint_light")
    assert not hand_held("light_appearance") and not hand_held("blur") and not hand_held("synthetic_scale")


def test_every_genuine_proof_photo_is_sent_once_and_reversed_pairs_fill_in() -> None:
    chosen = plan_pairs(_pairs(), requests=40, wrong_every=4, seed=1)
    genuine = [p for p in chosen if p.label == 1]
    assert len({p.query for p in genuine}) == len(genuine)
    assert all(p.query != p.ref for p in genuine)
    # 5 hand-held photos: each one proof at most (s/0 only by a reversed pair), no webcam or synthetic pair
    assert {p.query for p in genuine} <= {f"s/{i}.jpg" for i in range(5)}
    assert len(genuine) == 5 and any(p.query == "s/0.jpg" for p in genuine)
    assert all(p.kind == "viewpoint" for p in genuine)
    # the plan stops when the genuine photos run out rather than resend one
    assert len(chosen) < 40


def test_every_kth_job_is_a_different_pair_those_of_registered_references_first() -> None:
    chosen = plan_pairs(_pairs(), requests=40, wrong_every=3, seed=2)
    assert [p.label for p in chosen[:6]] == [1, 1, 0, 1, 1, 0]
    assert chosen[2].ref == "s/0.jpg"  # a genuine job's reference: no extra user to register
    assert plan_pairs(_pairs(), requests=40, wrong_every=3, seed=2) == chosen  # seeded
    assert all(p.label == 1 for p in plan_pairs(_pairs(), requests=40, wrong_every=0, seed=2))


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="requests"):
        plan_pairs(_pairs(), requests=0, wrong_every=4, seed=1)
    with pytest.raises(ValueError, match="wrong_every"):
        plan_pairs(_pairs(), requests=5, wrong_every=-1, seed=1)


def test_build_plan_on_the_bundled_pairs_expects_the_given_verdicts_and_says_what_it_left_out() -> None:
    pairs = read_pairs(SAMPLES)
    seen: list[LabelledPair] = []

    def verdicts(root: Path, chosen, profile):  # the expected verdicts: here every different pair "accepted"
        assert root == SAMPLES and profile.rule == "learned"
        seen.extend(chosen)
        return [v.COMPLETE if p.label == 1 or i % 2 else v.WRONG_PICTURE for i, p in enumerate(chosen)]

    plan = build_plan(SAMPLES, requests=64, wrong_every=4, seed=3, profile=Profile(), verdicts=verdicts)
    assert seen and all(p in pairs or p.label == 1 for p in seen)  # a genuine pair may be a listed one reversed
    photos = Counter(job.photo for job in plan.jobs if job.expected == v.COMPLETE)
    assert max(photos.values()) == 1  # a photo the rule accepts goes out once in the run
    genuine_photos = {job.photo for job in plan.jobs if job.label == 1}
    real = {p.query for p in pairs if p.label == 1 and hand_held(p.kind)} | {
        p.ref for p in pairs if p.label == 1 and hand_held(p.kind)
    }
    assert genuine_photos <= real and not any("synthetic" in photo for photo in genuine_photos)
    assert "genuine photos ran out (each is sent once)" in plan.left_out  # 20 real hand-held photos < 48
    assert len(plan.references) == len(set(plan.references))
    assert {job.reference for job in plan.jobs} == set(plan.references)


def test_a_plan_without_refused_references_counts_their_jobs_as_left_out() -> None:
    jobs = [Job("r1", "p1", 1, "viewpoint", v.COMPLETE), Job("r1", "x", 0, "easy", v.WRONG_PICTURE)]
    plan = LoadPlan(Path("d"), [*jobs, Job("r2", "p2", 1, "object", v.COMPLETE)], {"earlier": 3})
    kept = plan.without({"r1"}, "refused")
    assert [job.reference for job in kept.jobs] == ["r2"] and kept.left_out == {"earlier": 3, "refused": 2}
    assert plan.without(set(), "refused").left_out == {"earlier": 3} and len(plan.jobs) == 3  # plan unchanged
