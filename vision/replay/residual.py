"""Residual structure after alignment: does the fine detail repeat cell by cell?

A copy, however warped, carries the old photo's pixels: once the old
thumbnail is warped onto the new one by the alignment's homography, the
band-passed detail of the two agrees nearly everywhere (what differs is
interpolation and the edit's own noise).  A genuine new photo agrees only
where the scene is flat, lit the same and unmoved; parallax shifts the
off-plane parts, new light and new objects change others.  So the check
cuts the overlap into cells and counts the share whose detail correlates
(:func:`cell_correlations`), beside the whole-overlap correlation.

Also here: the mirrored view of a photo (:func:`mirrored_features`), so a
flipped copy can be aligned at all (AKAZE descriptors are not mirror
invariant).
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.matchers.akaze import Features, FeatureSettings, extract_features, to_gray, working_image
from vision.matchers.geometry import jacobian_at

__all__ = [
    "CELL_PX",
    "MIN_CELL_SCALE",
    "MIRROR_SIDE",
    "cell_correlations",
    "cell_px",
    "detail",
    "flip_matrix",
    "mirrored_features",
    "ncc",
]

CELL_PX = 16
"""Side of a grid cell, query-thumbnail pixels (a 160 px thumbnail has about 70)."""
MIN_CELL_SCALE = 0.45
"""Smallest scale (old thumbnail -> new) at which cells shrink with the copy: a quarter tile is 0.5 (a keypoint
fit of it 0.5 +- a few percent); a genuine far view of a flat facade measured 0.36."""
MIRROR_SIDE = 640
"""Long side (pixels) the mirrored view is searched at: a third of the full AKAZE time."""
_MIN_CELL_COVER = 0.9  # share of a cell's pixels the aligned old photo must cover
_MIN_CELL_DETAIL = 2.0  # detail standard deviation (gray levels) under which a cell is flat: not counted


def detail(gray: np.ndarray) -> np.ndarray:
    """Band-pass of a ``(h, w)`` thumbnail as float32: fine detail without noise or shading.

    A difference of Gaussians (sigma 0.7 and 2.5 thumbnail pixels): the
    finest band is dropped (JPEG blocks, resampling), the coarse one too
    (lighting, vignetting, a brightness edit).
    """
    g = gray.astype(np.float32)
    return cv2.GaussianBlur(g, (0, 0), 0.7) - cv2.GaussianBlur(g, (0, 0), 2.5)


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation (-1..1) of two equal-shape arrays; 0 when either is constant."""
    a = a - a.mean()
    b = b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 1e-6 else 0.0


def cell_correlations(old: np.ndarray, new: np.ndarray, valid: np.ndarray, cell: int = CELL_PX) -> np.ndarray:
    """Detail correlation of each textured grid cell of the overlap.

    Parameters
    ----------
    old, new : np.ndarray
        ``(h, w)`` float32 band-passed detail (:func:`detail`) of the aligned
        old thumbnail and of the new thumbnail.
    valid : np.ndarray
        ``(h, w)`` bool: pixels the aligned old photo covers.
    cell : int
        Cell side in pixels.

    Returns
    -------
    np.ndarray
        ``(K,)`` float32 correlations (-1..1) of the K cells that are at
        least 90 % covered and textured in both photos (detail standard
        deviation >= 2 gray levels); flat cells (sky, a wall) say nothing.
    """
    h, w = new.shape
    ny, nx = h // cell, w // cell
    if ny == 0 or nx == 0:
        return np.zeros(0, np.float32)
    crop = (slice(0, ny * cell), slice(0, nx * cell))

    def blocks(a: np.ndarray) -> np.ndarray:  # (ny, nx, cell * cell)
        return a[crop].reshape(ny, cell, nx, cell).transpose(0, 2, 1, 3).reshape(ny, nx, cell * cell)

    a, b = blocks(old.astype(np.float32)), blocks(new.astype(np.float32))
    cover = blocks(valid.astype(np.float32)).mean(axis=2)
    a = a - a.mean(axis=2, keepdims=True)
    b = b - b.mean(axis=2, keepdims=True)
    sa, sb = np.sqrt((a * a).mean(axis=2)), np.sqrt((b * b).mean(axis=2))
    keep = (cover >= _MIN_CELL_COVER) & (sa >= _MIN_CELL_DETAIL) & (sb >= _MIN_CELL_DETAIL)
    corr = (a * b).mean(axis=2) / np.maximum(sa * sb, 1e-6)
    return corr[keep].astype(np.float32)


def cell_px(H: np.ndarray, old_size: tuple[int, int], cell: int = CELL_PX) -> int:
    """The cell side (new-thumbnail px) that holds ``cell`` x ``cell`` pixels of the old thumbnail under ``H``.

    A copy pasted smaller into the new frame (a quarter tile of a collage)
    keeps every pixel of the old photo at a fraction of its size: at a fixed
    16 px a quarter of the 160 px thumbnail (80 x 60 px) has a dozen cells,
    fewer textured ones than the content rule needs.  Scaled with ``H`` (its
    area scale at the centre of the ``(width, height)`` old thumbnail), a
    cell holds the same share of the old photo, so the rule's count and
    share mean the same on the tile.  Never over ``cell`` (a crop shown
    larger keeps 16 px cells) nor under half of it (8 px: 64 pixels still
    give a stable correlation).

    Only down to :data:`MIN_CELL_SCALE`: shown smaller than that (a far
    re-shot of a facade the old photo filled) the old photo's fine detail is
    gone at thumbnail size, and what the smaller cells would compare is its
    coarse structure, which a genuine new photo of a flat scene shares (on
    the edit set a British Museum pair at scale 0.36 repeated "100 % of 22
    cells" at 8 px against 6 at 16 px).  There the cells stay at ``cell``.
    """
    jac = jacobian_at(H, ((old_size[0] - 1) / 2.0, (old_size[1] - 1) / 2.0))
    if jac is None:
        return cell
    scale = float(np.sqrt(abs(np.linalg.det(jac))))  # the local area scale, as a side ratio
    if scale < MIN_CELL_SCALE:
        return cell
    return int(min(cell, max(cell // 2, round(cell * scale))))


def flip_matrix(width: int) -> np.ndarray:
    """``(3, 3)`` left-right mirror of a frame ``width`` pixels wide (pixel centres: x -> width - 1 - x)."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def mirrored_features(image: np.ndarray, settings: FeatureSettings) -> Features:
    """AKAZE features of the left-right mirrored photo, in the mirrored frame scaled to the working size.

    ``image`` is the ``(H, W[, 3])`` uint8 working image.  The mirror is
    searched at :data:`MIRROR_SIDE` (fewer pixels, same keypoint budget);
    points are scaled to ``image``'s size but stay mirrored: a homography is
    fitted to them as to any photo (MAGSAC refuses orientation-reversing
    ones), then composed with :func:`flip_matrix` to map onto the photo.
    """
    gray = to_gray(image)
    h, w = gray.shape
    small = working_image(cv2.flip(gray, 1), MIRROR_SIDE)
    found = extract_features(small, settings)
    sx, sy = w / small.shape[1], h / small.shape[0]
    points = found.points.astype(np.float64)
    # Pixel-centre scaling back to the working size (the frame stays mirrored).
    x = (points[:, 0] + 0.5) * sx - 0.5
    y = (points[:, 1] + 0.5) * sy - 0.5
    back = np.stack([x, y], axis=1).astype(np.float32).reshape(-1, 2)
    return Features(
        points=back,
        attributes=found.attributes,
        descriptors=found.descriptors,
        image_size=(int(w), int(h)),
        n_detected=found.n_detected,
        settings=settings,
    )
