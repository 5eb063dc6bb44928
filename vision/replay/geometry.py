"""Geometric evidence of a replay: how the earlier photo's frame sits in the new photo.

* A digital copy (re-encoded, resized, cropped, rotated, screenshotted) maps
  onto the new photo by a *similarity* (scale, a 90-degree-step rotation,
  shift): :func:`similarity_deviation` measures how far the homography is
  from one.  A hand-held re-photograph has perspective and an arbitrary
  small roll.
* A photo of a screen (or a screenshot with borders) shows the *whole*
  earlier frame inside the new photo, and the picture stops at its edge:
  outside is a bezel, a border or a toolbar, not the scene going on.
  :func:`frame_border` measures both.  A genuine photo of a scene continues
  the scene past the old frame's edge, or cuts it off.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["frame_border", "similarity_deviation"]

_SAMPLES_PER_SIDE = 48
_BAND_PX = (2.0, 4.0)  # distances (query-thumbnail px) of the sampled bands from the projected edge


def _corners(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)


def similarity_deviation(H: np.ndarray, size: tuple[int, int]) -> tuple[float, float]:
    """How far ``H`` is from a similarity, on the corners of a ``(width, height)`` frame.

    Parameters
    ----------
    H : np.ndarray
        ``(3, 3)`` homography.
    size : tuple[int, int]
        The frame it maps.

    Returns
    -------
    residual, angle_off : float, float
        Largest distance of a projected corner from the best-fitting
        similarity, as a fraction of the projected frame's diagonal; and the
        similarity's rotation's distance (degrees, 0-45) from the nearest
        multiple of 90.
    """
    src = _corners(size)
    dst = cv2.perspectiveTransform(src[None], H)[0]
    if not np.all(np.isfinite(dst)):
        return float("inf"), 45.0
    s = src[:, 0] + 1j * src[:, 1]
    d = dst[:, 0] + 1j * dst[:, 1]
    sc, dc = s - s.mean(), d - d.mean()
    a = np.vdot(sc, dc) / max(np.vdot(sc, sc).real, 1e-12)  # least-squares d = a s + b
    fitted = a * sc + d.mean()
    diag = abs(a) * np.hypot(*size)
    residual = float(np.abs(fitted - d).max() / max(diag, 1e-9))
    angle = np.degrees(np.angle(a)) % 90.0
    return residual, float(min(angle, 90.0 - angle))


def frame_border(H: np.ndarray, size: tuple[int, int], query: np.ndarray) -> tuple[float, float]:
    """Is the earlier frame wholly inside the new photo, with a flat band around it?

    Parameters
    ----------
    H : np.ndarray
        ``(3, 3)`` earlier-thumbnail -> new-thumbnail homography.
    size : tuple[int, int]
        ``(width, height)`` of the earlier thumbnail.
    query : np.ndarray
        ``(h, w)`` uint8 thumbnail of the new photo.

    Returns
    -------
    inside, flatness : float, float
        ``inside``: share (0-1) of the projected frame's edge whose outer
        band lies within the new photo.  ``flatness``: for those edge
        points, the roughness of the outer band along the edge (smooth
        trends such as glare removed) relative to the new photo's typical
        local contrast, median over sides; low (< 0.5) means a plain border
        around the picture.  ``(0, inf)`` when nothing of the edge is inside.
    """
    corners = cv2.perspectiveTransform(_corners(size)[None], H)[0]
    if not np.all(np.isfinite(corners)):
        return 0.0, float("inf")
    qh, qw = query.shape
    e0, e1 = corners[1] - corners[0], corners[2] - corners[1]
    orientation = 1.0 if e0[0] * e1[1] - e0[1] * e1[0] >= 0 else -1.0  # mirrored frames flip the normal
    img = query.astype(np.float32)
    # The photo's typical local contrast: a border band is "flat" when it is
    # much smoother than that (a bezel, a toolbar), whatever the picture.
    scale = max(float(np.mean(np.abs(img - cv2.GaussianBlur(img, (0, 0), 1.5)))), 0.5)
    inside_total, counted, ratios = 0, 0, []
    t = (np.arange(_SAMPLES_PER_SIDE) + 0.5) / _SAMPLES_PER_SIDE
    for i in range(4):
        p0, p1 = corners[i], corners[(i + 1) % 4]
        edge = p1 - p0
        length = np.hypot(*edge)
        if length < 1e-6:
            continue
        normal = orientation * np.array([edge[1], -edge[0]]) / length  # points outward
        pts = p0 + t[:, None] * edge
        far = pts + normal * (_BAND_PX[1] + 1)
        ok = (far[:, 0] >= 0) & (far[:, 0] <= qw - 1) & (far[:, 1] >= 0) & (far[:, 1] <= qh - 1)
        ok &= (pts[:, 0] >= 0) & (pts[:, 0] <= qw - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= qh - 1)
        counted += len(pts)
        inside_total += int(ok.sum())
        if ok.sum() < 8:
            continue
        outer = [_sample(img, pts[ok] + normal * d) for d in _BAND_PX]
        ratios.append(float(np.mean([_roughness(v) for v in outer])) / scale)
    inside = inside_total / counted if counted else 0.0
    return inside, (float(np.median(ratios)) if ratios else float("inf"))


def _roughness(values: np.ndarray) -> float:
    """Mean absolute deviation of ``(N,)`` samples along an edge from their running mean (7 samples).

    Smooth changes along the edge (glare, vignetting, a gradient) do not
    count; texture does.
    """
    if values.size < 8:
        return float("inf")
    smooth = np.convolve(np.pad(values, 3, mode="edge"), np.ones(7) / 7.0, mode="valid")
    return float(np.mean(np.abs(values - smooth)))


def _sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``img`` at ``(N, 2)`` points (clamped to the image)."""
    h, w = img.shape
    x = np.clip(pts[:, 0], 0, w - 1.001)
    y = np.clip(pts[:, 1], 0, h - 1.001)
    x0, y0 = x.astype(int), y.astype(int)
    fx, fy = x - x0, y - y0
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy
