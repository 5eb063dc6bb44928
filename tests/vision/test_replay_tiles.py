"""The collage-tile search (issue 21): tiles, their rectangle maps, and the photo's tile found by its hash."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.flows.prepare import prepare_photo
from vision.image.imageio import decode_image
from vision.replay.edits import collage
from vision.replay.fingerprint import Fingerprint, make_fingerprint, thumbnail_gray
from vision.replay.refine import refine_homography
from vision.replay.tiles import rect_homography, tile_boxes, tile_candidates

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "images"
REF = SAMPLES / "lightglue" / "DSC_0410.JPG"
OTHER = SAMPLES / "sacre_coeur" / "51091044_3486849416.jpg"


@pytest.fixture(scope="module")
def ref_fp() -> Fingerprint:
    photo = prepare_photo(REF.read_bytes())
    return make_fingerprint(photo.image, photo.features)


def test_tile_boxes_split_the_long_side_then_quarter() -> None:
    assert tile_boxes((160, 120))[:2] == [(0, 0, 80, 120), (80, 0, 160, 120)]
    assert tile_boxes((120, 160))[:2] == [(0, 0, 120, 80), (0, 80, 120, 160)]
    assert tile_boxes((160, 120))[2:] == [(0, 0, 80, 60), (80, 0, 160, 60), (0, 60, 80, 120), (80, 60, 160, 120)]
    assert tile_boxes((40, 30)) == []  # too small for a hash to mean anything


def test_rect_homography_maps_the_frame_onto_the_box() -> None:
    H = rect_homography((160, 120), (80, 0, 160, 120))
    corners = cv2.perspectiveTransform(np.array([[[-0.5, -0.5], [159.5, 119.5]]]), H)[0]
    assert np.allclose(corners, [[79.5, -0.5], [159.5, 119.5]])


@pytest.mark.parametrize("share", [0.25, 0.5])
def test_the_tile_holding_the_photo_is_found_by_its_hash(ref_fp: Fingerprint, share: float) -> None:
    source = decode_image(REF.read_bytes(), max_side=1000).bgr
    tiles = collage(source, np.random.default_rng(4), share)
    query = thumbnail_gray(tiles)
    found = tile_candidates(ref_fp, query)
    assert found, "the collage's photo tile is within the hash distance"
    # The closest tile is the photo's: its texture matches once the rectangle map is refined.
    refined = refine_homography(query, ref_fp.thumb, found[0])
    assert refined is not None
    other = thumbnail_gray(decode_image(OTHER.read_bytes(), max_side=1000).bgr)
    assert tile_candidates(ref_fp, other) == []  # another photo's tiles are not
