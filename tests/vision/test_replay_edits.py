"""Edited copies (issue 21): caught on content after any plausible warp, mirror included; the edit set is seeded."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.flows.prepare import PreparedPhoto, prepare_photo
from vision.image.imageio import decode_image
from vision.profile import Profile
from vision.replay.check import Candidate, ReplayEvidence, decide, find_replay, measure
from vision.replay.edits import EDITS, collage, rotate
from vision.replay.fingerprint import Fingerprint, make_fingerprint
from vision.replay.memory import replay_thresholds
from vision.replay.residual import MIN_CELL_SCALE, cell_correlations, cell_px, mirrored_features

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "images"
REF = SAMPLES / "lightglue" / "DSC_0410.JPG"
OTHER_VIEW = SAMPLES / "sacre_coeur" / "51091044_3486849416.jpg"
THRESHOLDS = replay_thresholds(Profile())


@pytest.fixture(scope="module")
def ref_fp() -> Fingerprint:
    photo = prepare_photo(REF.read_bytes())
    return make_fingerprint(photo.image, photo.features)


@pytest.fixture(scope="module")
def source() -> np.ndarray:
    return decode_image(REF.read_bytes(), max_side=1600).bgr


def _query(data: bytes) -> tuple[PreparedPhoto, Fingerprint]:
    photo = prepare_photo(data)
    return photo, make_fingerprint(photo.image, photo.features)


@pytest.mark.parametrize(
    "name",
    [
        "rotate_12",
        "rotate_30",
        "perspective_0.2",
        "crop_30",
        "jpeg_q10",
        "noise_20",
        "mirror",
        "collage_quarter",
        "collage_half",
    ],
)
def test_edited_copy_of_a_remembered_photo_is_caught(name: str, ref_fp: Fingerprint, source: np.ndarray) -> None:
    """As a remembered proof is checked: its own keypoints (and the mirrored view) align it."""
    photo, fp = _query(EDITS[name](source, np.random.default_rng(3)))
    evidence = measure(
        ref_fp, photo.features, fp.thumb, fp, None, lambda: mirrored_features(photo.image, photo.features.settings)
    )
    flagged, why = decide(evidence, THRESHOLDS)
    assert flagged, f"{name}: {why} ({evidence})"
    # The content rule holds for every edit, a quarter tile too: its cells are scaled to the old photo.
    assert evidence.cell_share >= THRESHOLDS.min_cell_share and evidence.n_cells >= THRESHOLDS.min_cells
    assert evidence.mirrored == (name == "mirror")


def test_a_mirrored_copy_names_the_mirror(ref_fp: Fingerprint, source: np.ndarray) -> None:
    photo, fp = _query(EDITS["mirror"](source, np.random.default_rng(0)))
    finding = find_replay(
        [Candidate("the reference photo", ref_fp)],
        photo.features,
        fp,
        THRESHOLDS,
        mirrored=lambda: mirrored_features(photo.image, photo.features.settings),
    )
    assert finding.replay and "mirror image" in finding.reason
    without = find_replay([Candidate("the reference photo", ref_fp)], photo.features, fp, THRESHOLDS)
    assert not without.replay  # the unflipped keypoints alone do not align a mirror copy


def test_a_genuine_photo_of_another_view_is_not_a_content_copy(ref_fp: Fingerprint) -> None:
    photo, fp = _query((SAMPLES / "lightglue" / "DSC_0411.JPG").read_bytes())
    evidence = measure(
        ref_fp, photo.features, fp.thumb, fp, None, lambda: mirrored_features(photo.image, photo.features.settings)
    )
    flagged, why = decide(evidence, THRESHOLDS)
    assert not flagged, why
    assert evidence.cell_share < THRESHOLDS.min_cell_share


def test_edits_are_deterministic_and_change_the_bytes(source: np.ndarray) -> None:
    for name in ("rotate_5", "perspective_0.08", "noise_8", "collage_half"):
        a = EDITS[name](source, np.random.default_rng(1))
        assert a == EDITS[name](source, np.random.default_rng(1))
        assert a != EDITS[name](source, np.random.default_rng(2)) or name == "rotate_5"


def test_rotation_fills_the_frame_and_collage_keeps_the_tile(source: np.ndarray) -> None:
    small = source[::8, ::8].copy()
    turned = rotate(small, 30)
    assert turned.shape == small.shape and turned.min() >= 0
    tiles = collage(small, np.random.default_rng(0), 0.25)
    h, w = small.shape[:2]
    assert tiles.shape == small.shape
    quadrants = [tiles[y : y + h // 2, x : x + w // 2] for y in (0, h // 2) for x in (0, w // 2)]
    shrunk = cv2.resize(small, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    assert sum(np.array_equal(q, shrunk) for q in quadrants) == 1  # one quadrant is the photo, the rest texture


def test_cell_correlations_count_only_textured_covered_cells() -> None:
    rng = np.random.default_rng(0)
    texture = rng.normal(0, 10, (64, 64)).astype(np.float32)
    valid = np.ones((64, 64), bool)
    assert np.allclose(cell_correlations(texture, texture, valid), 1.0, atol=1e-4)
    assert cell_correlations(texture, texture, valid).size == 16
    flat = np.zeros((64, 64), np.float32)
    assert cell_correlations(flat, texture, valid).size == 0
    valid[:, 32:] = False
    assert cell_correlations(texture, rng.normal(0, 10, (64, 64)).astype(np.float32), valid).size == 8


def test_cells_hold_the_same_share_of_the_old_photo_however_small_it_is_shown() -> None:
    """16 x 16 px of the old thumbnail: 8 px on a quarter-size copy, 11 on a half-area one, 16 at full size or larger.

    Shown smaller than a quarter tile, the old photo's fine detail is gone at thumbnail size: 16 px cells again.
    """
    size = (160, 120)
    assert cell_px(np.eye(3), size) == 16
    assert cell_px(np.diag([0.5, 0.5, 1.0]), size) == 8
    assert cell_px(np.diag([0.5, 1.0, 1.0]), size) == 11  # a half tile: the aspect changes, the area halves
    assert cell_px(np.diag([2.0, 2.0, 1.0]), size) == 16  # a crop shown larger keeps 16 px cells
    assert cell_px(np.diag([0.47, 0.47, 1.0]), size) == 8  # a quarter tile's keypoint fit, a little off
    assert cell_px(np.diag([0.36, 0.36, 1.0]), size) == 16  # a far view of a facade: no finer cells
    assert cell_px(np.diag([MIN_CELL_SCALE - 0.01] * 2 + [1.0]), size) == 16
    assert cell_px(3.0 * np.diag([0.5, 0.5, 1.0]), size) == 8  # projective: the overall factor cancels
    # A perspective warp: the scale is the one at the old thumbnail's centre.
    H = np.array([[0.8, 0.0, 0.0], [0.0, 0.8, 0.0], [0.001, 0.0, 1.0]])
    centre = H @ np.array([79.5, 59.5, 1.0])
    assert cell_px(H, size) == round(16 * 0.8 / centre[2] ** 1.5) == 11


def test_a_half_tile_collage_is_found_by_its_tile_not_its_keypoints(ref_fp: Fingerprint, source: np.ndarray) -> None:
    """The photo squeezed into half the frame (aspect 2x): its keypoints barely align; the tile's pHash does."""
    photo, fp = _query(EDITS["collage_half"](source, np.random.default_rng(5)))
    evidence = measure(ref_fp, photo.features, fp.thumb, fp)
    flagged, why = decide(evidence, THRESHOLDS)
    assert flagged and "one tile of a collage" in why, why
    assert evidence.tile and evidence.cell_share >= THRESHOLDS.min_cell_share


def test_a_quarter_tile_is_caught_on_content_even_when_its_warp_is_not_a_similarity(
    ref_fp: Fingerprint, source: np.ndarray
) -> None:
    """A quarter of the 160 px thumbnail is 80 x 60 px: 16 px cells left 9-10 textured ones (the rule needs 12).

    On the edit set two such copies aligned by a slightly perspective fit
    (2.1 % off a similarity: not a "digital copy") passed as new photos.
    Cells that hold 16 x 16 px of the old photo (8 px on the tile) give the
    content rule its count, so the warp's type no longer matters.
    """
    photo, fp = _query(EDITS["collage_quarter"](source, np.random.default_rng(5)))
    evidence = measure(ref_fp, photo.features, fp.thumb, fp)
    assert evidence.n_cells >= 3 * THRESHOLDS.min_cells, evidence
    not_a_similarity = replace(evidence, similarity_residual=0.021, border_flatness=1.0)
    flagged, why = decide(not_a_similarity, THRESHOLDS)
    assert flagged and "repeats" in why, why


def test_a_tile_is_judged_by_the_content_rule_only() -> None:
    """Aligned by a hash, not by keypoints: the digital and framed rules (which trust the warp) do not apply."""
    tile = ReplayEvidence(192, 0, 0, 0.0, float("inf"), 0.9, 4, 0.0, 0.0, 1.0, 0.0, 0.8, 30, tile=True)
    flagged, why = decide(tile, THRESHOLDS)
    assert not flagged and "cell by cell" in why
    assert decide(replace(tile, cell_share=1.0, detail_ncc=0.96), THRESHOLDS)[0]
    assert not decide(replace(tile, cell_share=1.0, detail_ncc=0.96, n_cells=8), THRESHOLDS)[0]


def test_a_rotated_copy_of_a_proof_aligns_after_refinement(source: np.ndarray) -> None:
    """A remembered proof is aligned by its own keypoints only: 30 degrees keep too few exact, ECC lines them up."""
    proof = prepare_photo(OTHER_VIEW.read_bytes())
    proof_fp = make_fingerprint(proof.image, proof.features)
    image = decode_image(OTHER_VIEW.read_bytes(), max_side=1600).bgr
    photo, fp = _query(EDITS["rotate_30"](image, np.random.default_rng(7)))
    evidence = measure(proof_fp, photo.features, fp.thumb, fp)
    flagged, why = decide(evidence, THRESHOLDS)
    assert flagged, why
    assert evidence.detail_ncc >= THRESHOLDS.min_content_ncc
