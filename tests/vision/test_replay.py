"""The replay check: every kind of resubmission is caught, genuine re-photographs are not.

Photos are prepared once per session (module-scoped fixtures); the
thresholds are the profile defaults, so these tests pin the shipped rule.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vision.flows.prepare import PreparedPhoto, prepare_photo
from vision.image.imageio import decode_image
from vision.profile import Profile
from vision.replay.check import Alignment, Candidate, ReplayEvidence, decide, find_replay, measure, rank_candidates
from vision.replay.fingerprint import (
    MAX_POINTS,
    Fingerprint,
    fingerprint_from_bytes,
    fingerprint_to_bytes,
    make_fingerprint,
)
from vision.replay.geometry import frame_border, similarity_deviation
from vision.replay.memory import replay_thresholds, verification_alignment
from vision.replay.transforms import DIGITAL, SCREEN
from vision.rules.evidence import evaluate_match, match_features

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "images"
REF = SAMPLES / "lightglue" / "DSC_0410.JPG"
NEAR_IDENTICAL = SAMPLES / "lightglue" / "DSC_0411.JPG"
# Real pairs of one landmark from different visitors (sacre_coeur, IMC2021) and two river views.
GENUINE_PAIRS = [
    ("sacre_coeur/03903474_1471484089.jpg", "sacre_coeur/51091044_3486849416.jpg"),
    ("sacre_coeur/10265353_3838484249.jpg", "sacre_coeur/32809961_8274055477.jpg"),
    ("lightglue/sacre_coeur1.jpg", "lightglue/sacre_coeur2.jpg"),
    ("vlfeat/river1.jpg", "vlfeat/river2.jpg"),
    ("lines/terrace0.JPG", "lines/terrace1.JPG"),
]
THRESHOLDS = replay_thresholds(Profile())


def _prepare(data: bytes) -> tuple[PreparedPhoto, Fingerprint]:
    photo = prepare_photo(data)
    return photo, make_fingerprint(photo.image, photo.features)


def _evidence(candidate: Fingerprint, data: bytes) -> ReplayEvidence:
    photo, fp = _prepare(data)
    return measure(candidate, photo.features, fp.thumb, fp)


@pytest.fixture(scope="module")
def ref_photo() -> PreparedPhoto:
    return prepare_photo(REF.read_bytes())


@pytest.fixture(scope="module")
def ref_fp(ref_photo: PreparedPhoto) -> Fingerprint:
    return make_fingerprint(ref_photo.image, ref_photo.features)


@pytest.fixture(scope="module")
def ref_source() -> np.ndarray:
    """The reference as a user has it (decoded at 1600 px to keep the test fast)."""
    return decode_image(REF.read_bytes(), max_side=1600).bgr


@pytest.mark.parametrize("name", sorted(DIGITAL))
def test_each_digital_replay_is_caught(name: str, ref_fp: Fingerprint, ref_source: np.ndarray) -> None:
    evidence = _evidence(ref_fp, DIGITAL[name](ref_source, np.random.default_rng(7)))
    flagged, why = decide(evidence, THRESHOLDS)
    assert flagged, f"{name}: {why} ({evidence})"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_screen_rephotograph_is_caught(seed: int, ref_photo: PreparedPhoto, ref_source: np.ndarray) -> None:
    """As in the verify flow, the reference is aligned by the verification's homography."""
    photo, fp = _prepare(SCREEN["screen_photo"](ref_source, np.random.default_rng(seed)))
    match = evaluate_match(match_features(ref_photo.features, photo.features), Profile())
    alignment = verification_alignment(match, ref_photo.features)
    assert alignment is not None
    ref_fp = make_fingerprint(ref_photo.image, ref_photo.features)
    evidence = measure(ref_fp, photo.features, fp.thumb, fp, alignment)
    flagged, why = decide(evidence, THRESHOLDS)
    assert flagged, f"screen photo {seed}: {why} ({evidence})"
    assert "framed copy" in why


def test_near_identical_rephotograph_is_not_flagged(ref_fp: Fingerprint) -> None:
    """DSC_0410 / DSC_0411: the same scene a step apart; it aligns well but its detail is new."""
    evidence = _evidence(ref_fp, NEAR_IDENTICAL.read_bytes())
    assert evidence.n_inliers >= THRESHOLDS.min_inliers  # it is the same scene, well aligned...
    flagged, why = decide(evidence, THRESHOLDS)
    assert not flagged, why  # ...and still a new photo
    assert "differs" in why or "the view is new" in why


@pytest.mark.parametrize(("a", "b"), GENUINE_PAIRS)
def test_genuine_pairs_are_not_flagged(a: str, b: str) -> None:
    evidence = _evidence(_prepare((SAMPLES / a).read_bytes())[1], (SAMPLES / b).read_bytes())
    flagged, why = decide(evidence, THRESHOLDS)
    assert not flagged, f"{a} vs {b}: {why}"


def test_find_replay_names_the_repeated_photo(ref_fp: Fingerprint, ref_source: np.ndarray) -> None:
    other = _prepare((SAMPLES / "vlfeat" / "river1.jpg").read_bytes())[1]
    photo, fp = _prepare(DIGITAL["rot270"](ref_source, np.random.default_rng(0)))
    finding = find_replay(
        [Candidate("the reference photo", other, "r"), Candidate("your proof of Monday", ref_fp, "p")],
        photo.features,
        fp,
        THRESHOLDS,
    )
    assert finding.replay and finding.candidate is not None
    assert finding.candidate.key == "p" and "your proof of Monday" in finding.reason
    assert finding.checked == 2


def test_find_replay_without_candidates_is_explicit(ref_fp: Fingerprint) -> None:
    photo, fp = _prepare(NEAR_IDENTICAL.read_bytes())
    finding = find_replay([], photo.features, fp, THRESHOLDS)
    assert not finding.replay and finding.evidence is None and finding.checked == 0


def test_fingerprint_round_trip_is_compact(ref_fp: Fingerprint) -> None:
    blob = fingerprint_to_bytes(ref_fp)
    assert len(blob) < 24_000  # 192 keypoints (65 bytes each) and a ~8 KB thumbnail
    back = fingerprint_from_bytes(blob)
    assert len(back) == len(ref_fp) == MAX_POINTS
    assert np.array_equal(back.hashes, ref_fp.hashes)
    assert np.array_equal(back.descriptors, ref_fp.descriptors)
    assert np.abs(back.points - ref_fp.points).max() < 1e-4
    assert np.abs(back.thumb.astype(int) - ref_fp.thumb.astype(int)).mean() < 2.0
    assert back.size == ref_fp.size


@pytest.mark.parametrize("blob", [b"", b"RPF1", b"garbage" * 50])
def test_fingerprint_rejects_other_bytes(blob: bytes, ref_fp: Fingerprint) -> None:
    with pytest.raises(ValueError):
        fingerprint_from_bytes(blob)
    with pytest.raises(ValueError):
        fingerprint_from_bytes(fingerprint_to_bytes(ref_fp)[:-1])


def test_rank_candidates_puts_the_copy_first(ref_fp: Fingerprint, ref_source: np.ndarray) -> None:
    others = [_prepare((SAMPLES / a).read_bytes())[1] for a, _ in GENUINE_PAIRS[:3]]
    photo, _ = _prepare(DIGITAL["screenshot_phone"](ref_source, np.random.default_rng(5)))
    candidates = [Candidate(f"photo {i}", fp) for i, fp in enumerate([*others, ref_fp])]
    assert rank_candidates(candidates, photo.features)[0] == 3
    assert rank_candidates([], photo.features).size == 0


def test_similarity_deviation_separates_copies_from_perspective() -> None:
    quarter_turn = np.array([[0.0, -0.5, 80.0], [0.5, 0.0, 3.0], [0.0, 0.0, 1.0]])
    residual, angle_off = similarity_deviation(quarter_turn, (160, 120))
    assert residual < 1e-9 and angle_off < 1e-6
    tilted = np.array([[1.0, 0.05, 0.0], [0.0, 0.95, 0.0], [4e-4, 0.0, 1.0]])
    residual, _ = similarity_deviation(tilted, (160, 120))
    assert residual > 0.01
    rolled = np.array([[np.cos(0.1), -np.sin(0.1), 0.0], [np.sin(0.1), np.cos(0.1), 0.0], [0.0, 0.0, 1.0]])
    assert abs(similarity_deviation(rolled, (160, 120))[1] - np.degrees(0.1)) < 1e-6


def test_frame_border_sees_a_flat_border_around_the_whole_frame() -> None:
    rng = np.random.default_rng(0)
    query = np.full((120, 160), 20, np.uint8)
    query[20:100, 30:130] = rng.integers(0, 255, (80, 100))
    inside, flatness = frame_border(np.array([[1.0, 0, 30], [0, 1.0, 20], [0, 0, 1.0]]), (100, 80), query)
    assert inside == 1.0 and flatness < 0.1
    textured = rng.integers(0, 255, (120, 160)).astype(np.uint8)  # the scene goes on past the old frame
    assert frame_border(np.array([[1.0, 0, 30], [0, 1.0, 20], [0, 0, 1.0]]), (100, 80), textured)[1] > 0.5
    zoomed_in = np.array([[1.6, 0, 0], [0, 1.5, 0], [0, 0, 1.0]])  # the old frame is cut off
    assert frame_border(zoomed_in, (100, 80), textured)[0] == 0.0


def test_fingerprint_keeps_its_anchor(ref_fp: Fingerprint) -> None:
    anchored = replace(ref_fp, anchor=np.diag([2.0, 2.0, 1.0]), anchor_key="bob/" + "a" * 32)
    back = fingerprint_from_bytes(fingerprint_to_bytes(anchored))
    assert back.anchor is not None and np.allclose(back.anchor, anchored.anchor)
    assert back.anchor_key == anchored.anchor_key
    assert fingerprint_from_bytes(fingerprint_to_bytes(ref_fp)).anchor is None
    with pytest.raises(ValueError):
        fingerprint_from_bytes(fingerprint_to_bytes(anchored) + b"x")


def test_screen_photo_of_a_proof_is_aligned_through_the_reference(
    ref_photo: PreparedPhoto, ref_source: np.ndarray
) -> None:
    """The proof's own keypoints may miss a blurred screen photo; its verification's homography,
    composed with the new photo's, aligns it (a fallback only)."""
    proof, proof_fp = _prepare(NEAR_IDENTICAL.read_bytes())
    new_source = decode_image(NEAR_IDENTICAL.read_bytes(), max_side=1600).bgr
    screen, screen_fp = _prepare(SCREEN["screen_photo"](new_source, np.random.default_rng(11)))
    profile = Profile()
    to_proof = evaluate_match(match_features(ref_photo.features, proof.features), profile)
    to_screen = evaluate_match(match_features(ref_photo.features, screen.features), profile)
    assert to_proof.H is not None and to_screen.H is not None
    composed = Alignment(to_screen.H @ np.linalg.inv(to_proof.H), to_screen.n_inliers, proof_fp.size, fallback=True)
    flagged, why = decide(measure(proof_fp, screen.features, screen_fp.thumb, screen_fp, composed), THRESHOLDS)
    assert flagged, why


COMPAT_FINGERPRINT = (
    Path(__file__).resolve().parents[1]
    / "assets/compat_main_8d2a262/store/compat-user/5da142fb61ca4dafa69c107572e753ae.fingerprint"
)


def test_a_stored_96_keypoint_fingerprint_still_reads_and_catches_its_copy() -> None:
    """Stores hold fingerprints of 96 keypoints (before 192): same format, fewer points; still a working candidate."""
    old = fingerprint_from_bytes(COMPAT_FINGERPRINT.read_bytes())
    assert len(old) == 96 < MAX_POINTS
    data = DIGITAL["jpeg_q75"](
        decode_image((SAMPLES / "vlfeat" / "roofs1.jpg").read_bytes()).bgr, np.random.default_rng(0)
    )
    flagged, why = decide(_evidence(old, data), THRESHOLDS)
    assert flagged, why
