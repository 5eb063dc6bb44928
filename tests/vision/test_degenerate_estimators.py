"""Every OpenCV estimator call survives degenerate matches and returns its module's explicit empty result.

USAC (MAGSAC) asserts ``!model.empty()`` when every minimal sample is
degenerate, e.g. the matches of a photo whose points all landed on two
spots of the other one: ``two_spots`` reproduces that assertion with
OpenCV 4.x's ``findFundamentalMat``.  Too few points, one repeated point,
collinear points and NaN are the other degenerate inputs a matcher can hand over.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import vision.replay.align
import vision.rules.original_evidence
from vision.matchers.geometry import fit_homography
from vision.matchers.xfeat_geometry import fundamental_inliers, learned_geometry
from vision.replay.align import fingerprint_alignment
from vision.rules.original_evidence import original_evidence

SIZE = (640, 480)


def two_spots(n: int = 22, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 2)`` float32 points near two spots, matched to exactly those two spots."""
    rng = np.random.default_rng(seed)
    a, b = np.array([424.0, 73.0]), np.array([276.0, 297.0])
    src = np.where(rng.integers(0, 2, n)[:, None] == 0, a, b) + rng.normal(0, 1.0, (n, 2))
    dst = np.where(rng.integers(0, 2, n)[:, None] == 0, a, b)
    return src.astype(np.float32), dst.astype(np.float32)


def _degenerate() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    line = np.stack([np.arange(30.0), 2 * np.arange(30.0)], axis=1).astype(np.float32)
    rng = np.random.default_rng(1)
    spread = (rng.random((30, 2)) * 400).astype(np.float32)
    some_nan = spread.copy()
    some_nan[::4] = np.nan
    return {
        "three points": (spread[:3], spread[:3] + 1),
        "one repeated point": (np.full((30, 2), 5.0, np.float32), np.full((30, 2), 9.0, np.float32)),
        "collinear": (line, line + 3),
        "all nan": (np.full((30, 2), np.nan, np.float32), np.full((30, 2), np.nan, np.float32)),
        "some nan": (some_nan, spread),
        "infinite": (np.full((30, 2), np.inf, np.float32), spread),
        "two spots": two_spots(),
    }


DEGENERATE = _degenerate()


def test_two_spots_does_raise_inside_opencv() -> None:
    """The fixture is the crash of the issue (without the guard it is a traceback)."""
    src, dst = two_spots()
    with pytest.raises(cv2.error, match=r"model\.empty"):
        cv2.findFundamentalMat(src, dst, cv2.USAC_MAGSAC, 5.0, 0.999, 2000)


@pytest.mark.parametrize("name", sorted(DEGENERATE))
@pytest.mark.parametrize("method", ["magsac", "ransac"])
def test_fit_homography_degenerate(name: str, method: str) -> None:
    src, dst = DEGENERATE[name]
    fit = fit_homography(src, dst, method, 4.0)
    assert fit.inliers.shape == (len(src),)
    if fit.H is None:
        assert fit.n_inliers == 0
    else:
        assert fit.H.shape == (3, 3)


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_fundamental_inliers_degenerate(name: str) -> None:
    src, dst = DEGENERATE[name]
    n = fundamental_inliers(src, dst, 5.0)
    assert 0 <= n <= len(src)


def test_fundamental_inliers_is_zero_where_opencv_asserts() -> None:
    assert fundamental_inliers(*two_spots(), 5.0) == 0


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_learned_geometry_degenerate(name: str) -> None:
    src, dst = DEGENERATE[name]
    geo = learned_geometry(src, dst, SIZE, SIZE)
    assert geo.n_matches == len(src)
    assert geo.inliers.shape == (len(src),)
    if geo.H is None:
        assert geo.inliers.sum() == 0 and geo.coverage == 0.0


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_replay_alignment_degenerate(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    src, dst = DEGENERATE[name]
    monkeypatch.setattr(vision.replay.align, "match", lambda candidate, query: (src, dst))
    H, n_matches, n_inliers, reproj = fingerprint_alignment(None, None)  # type: ignore[arg-type]
    assert n_matches == len(src)
    if H is None:
        assert (n_inliers, reproj) == (0, float("inf"))
    else:
        assert H.shape == (3, 3) and np.all(np.isfinite(H))


def _raise_cv2(*args: object, **kwargs: object) -> None:
    raise cv2.error("OpenCV(4.x) usac/estimator.cpp:353: error: (-215:Assertion failed) !model.empty()")


def test_replay_alignment_when_opencv_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    src, dst = two_spots()
    monkeypatch.setattr(vision.replay.align, "match", lambda candidate, query: (src, dst))
    monkeypatch.setattr(vision.replay.align.cv2, "findHomography", _raise_cv2)
    assert fingerprint_alignment(None, None) == (None, len(src), 0, float("inf"))  # type: ignore[arg-type]


def _checkerboard(cell: int = 16, cells: int = 24) -> np.ndarray:
    board = (np.indices((cells, cells)).sum(axis=0) % 2).astype(np.uint8) * 255
    return np.kron(board, np.ones((cell, cell), np.uint8))


@pytest.mark.parametrize(
    "ref, query",
    [
        (np.zeros((200, 200), np.uint8), np.zeros((200, 200), np.uint8)),
        (_checkerboard(), _checkerboard()[::-1]),
    ],
    ids=["blank", "repeated pattern"],
)
def test_original_evidence_degenerate_images(ref: np.ndarray, query: np.ndarray) -> None:
    evidence = original_evidence(ref, query)
    assert evidence.score >= 0.0


def test_original_evidence_when_opencv_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def raising(*args: object, **kwargs: object) -> None:
        calls.append(1)
        _raise_cv2()

    monkeypatch.setattr(vision.rules.original_evidence.cv2, "findHomography", raising)
    evidence = original_evidence(_checkerboard(), _checkerboard())
    assert calls, "the fixture must reach the estimator"
    assert "findHomography" in evidence.problem
    assert evidence.score == 0.0
