"""The ONNX XFeat / LighterGlue runtime against torch's outputs recorded on the bundled pair."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.matchers import lighterglue, xfeat

ROOT = Path(__file__).resolve().parents[2]
PAIR = (ROOT / "samples/images/lightglue/DSC_0410.JPG", ROOT / "samples/images/lightglue/DSC_0411.JPG")


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(ROOT / "tests/assets/xfeat_expected.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def ours() -> list[xfeat.XFeatFeatures]:
    out = []
    for path in PAIR:
        im = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        im = im[: im.shape[0] // 32 * 32, : im.shape[1] // 32 * 32]  # as recorded: no resize
        out.append(xfeat.extract(im, max_keypoints=1024, working_side=max(im.shape)))
    return out


def _as_set(points: np.ndarray) -> set[tuple[int, int]]:
    return set(map(tuple, np.rint(points).astype(int).tolist()))


@pytest.mark.parametrize("side", [0, 1])
def test_keypoints_match_torch(ours, expected, side):
    found, want = ours[side], expected[f"keypoints{side}"]
    assert len(found) == len(want) == 1024
    # near-equal scores may swap ranks at the cut, so compare as sets
    common = len(_as_set(found.keypoints) & _as_set(want))
    assert common >= 0.99 * len(want)
    assert np.allclose(found.keypoints[:32], want[:32], atol=0.5)


@pytest.mark.parametrize("side", [0, 1])
def test_descriptors_match_torch(ours, expected, side):
    found, want = ours[side], expected[f"descriptors{side}"]
    assert found.descriptors.dtype == np.float16
    assert np.allclose(found.descriptors[: len(want)].astype(np.float32), want, atol=2e-3)
    assert np.allclose(np.linalg.norm(found.descriptors.astype(np.float32), axis=1), 1.0, atol=2e-3)


def test_lighterglue_matches_match_torch(ours, expected):
    m = lighterglue.match(ours[0], ours[1])
    want = {
        (a, b)
        for a, b in zip(
            map(tuple, np.rint(expected["keypoints0"][expected["matches"][:, 0]]).astype(int).tolist()),
            map(tuple, np.rint(expected["keypoints1"][expected["matches"][:, 1]]).astype(int).tolist()),
            strict=False,
        )
    }
    got = {
        (a, b)
        for a, b in zip(
            map(tuple, np.rint(ours[0].keypoints[m.idx0]).astype(int).tolist()),
            map(tuple, np.rint(ours[1].keypoints[m.idx1]).astype(int).tolist()),
            strict=False,
        )
    }
    assert abs(len(got) - len(want)) <= 0.02 * len(want)
    assert len(got & want) >= 0.97 * len(want)
    assert np.all(m.confidence > lighterglue.DEFAULT_MIN_CONFIDENCE)


def test_empty_inputs_give_explicit_empty_results():
    blank = np.full((64, 96), 128, np.uint8)
    found = xfeat.extract(blank)
    assert len(found) == 0 and found.descriptors.shape == (0, 64) and found.image_size == (96, 64)
    assert len(xfeat.extract(np.zeros((20, 20), np.uint8))) == 0
    assert len(lighterglue.match(found, found)) == 0


def test_keypoints_are_in_the_pixels_of_the_image_passed():
    im = cv2.imread(str(PAIR[0]))
    big = cv2.resize(im, (im.shape[1] * 2, im.shape[0] * 2))
    found = xfeat.extract(big, max_keypoints=256)
    assert found.image_size == (big.shape[1], big.shape[0])
    assert found.keypoints[:, 0].max() > big.shape[1] * 0.75
    assert np.all(found.keypoints >= 0) and np.all(found.keypoints[:, 1] < big.shape[0])


def test_rejects_non_images():
    with pytest.raises(ValueError, match="uint8"):
        xfeat.extract(np.zeros((64, 64), np.float32))
