"""Homography fitting and the sanity checks a real re-photograph must pass.

An accidental homography fitted to a handful of wrong matches usually shows
itself in its shape: a projected outline that is self-crossing, mirrored,
absurdly small or large.  These checks reject it before the inlier count is
even considered.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RANSAC_METHODS: dict[str, int] = {"magsac": cv2.USAC_MAGSAC, "ransac": cv2.RANSAC}
MIN_POINTS = 4  # a homography has 8 degrees of freedom: 4 point pairs


@dataclass(frozen=True)
class HomographyFit:
    """A fitted homography, or none.

    Attributes
    ----------
    H : np.ndarray or None
        ``(3, 3)`` float64 mapping reference pixels to query pixels.
    inliers : np.ndarray
        ``(K,)`` bool, one per input correspondence (all False when ``H`` is None).
    """

    H: np.ndarray | None
    inliers: np.ndarray

    @property
    def n_inliers(self) -> int:
        return int(self.inliers.sum())


def fit_homography(src: np.ndarray, dst: np.ndarray, method: str = "magsac", reproj_px: float = 4.0) -> HomographyFit:
    """Robustly fit ``dst ~ H src``.

    Parameters
    ----------
    src, dst : np.ndarray
        ``(K, 2)`` float32 corresponding points.
    method : {"magsac", "ransac"}
        ``cv2.USAC_MAGSAC`` (default) or classic ``cv2.RANSAC``.
    reproj_px : float
        Inlier reprojection threshold in working-image pixels.

    Returns
    -------
    HomographyFit
        With ``H=None`` when there are fewer than 4 points or OpenCV finds
        nothing; never raises for degenerate input.
    """
    if method not in RANSAC_METHODS:
        raise ValueError(f"method must be one of {sorted(RANSAC_METHODS)}, got {method!r}")
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2:
        raise ValueError(f"expected two (K, 2) arrays, got {src.shape} and {dst.shape}")
    none = HomographyFit(None, np.zeros(len(src), bool))
    if len(src) < MIN_POINTS:
        return none
    try:
        H, mask = cv2.findHomography(
            src.reshape(-1, 1, 2),
            dst.reshape(-1, 1, 2),
            RANSAC_METHODS[method],
            reproj_px,
            maxIters=2000,
            confidence=0.999,
        )
    except cv2.error:  # degenerate configurations (all points collinear ...)
        return none
    if H is None or mask is None:
        return none
    return HomographyFit(H.astype(np.float64), mask.ravel().astype(bool))


def outline(size: tuple[int, int]) -> np.ndarray:
    """``(4, 2)`` float32 corners of a ``(width, height)`` frame, clockwise on screen."""
    w, h = size
    return np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)


def project_outline(H: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Project the ``(width, height)`` frame's corners by ``H``: ``(4, 2)`` float64."""
    return project_polygon(H, outline(size))


def project_polygon(H: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Project ``(N, 2)`` reference points by ``H``: ``(N, 2)`` float64."""
    pts = cv2.perspectiveTransform(np.asarray(polygon, np.float64).reshape(-1, 1, 2), H)
    return pts.reshape(-1, 2)


def inlier_box(points: np.ndarray) -> np.ndarray | None:
    """``(4, 2)`` corners (clockwise on screen) of the axis-aligned box around ``(N, 2)`` points.

    None when the points span less than a pixel either way (collinear or
    repeated: no box, and no plane, to check).
    """
    if len(points) < MIN_POINTS:
        return None
    lo, hi = np.min(points, axis=0).astype(np.float64), np.max(points, axis=0).astype(np.float64)
    if np.any(hi - lo < 1.0):
        return None
    return np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]], np.float64)


def shoelace_area(polygon: np.ndarray) -> float:
    """Signed area of a simple polygon ``(N, 2)``; positive when clockwise on screen (y down)."""
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def is_convex(polygon: np.ndarray) -> bool:
    """True when every turn of the closed polygon goes the same way (no self-crossing)."""
    edges = np.roll(polygon, -1, axis=0) - polygon
    cross = edges[:, 0] * np.roll(edges[:, 1], -1) - edges[:, 1] * np.roll(edges[:, 0], -1)
    return bool(np.all(cross > 0) or np.all(cross < 0))


def homography_problems(
    H: np.ndarray,
    ref_size: tuple[int, int],
    query_size: tuple[int, int],
    max_area_fraction: float = 16.0,
    max_anisotropy: float = 8.0,
    region: np.ndarray | None = None,
) -> list[str]:
    """Reasons why ``H`` cannot be a re-photograph of the reference; ``[]`` if plausible.

    Checks: finite entries; the projected outline convex (a real plane seen by
    a camera stays convex); orientation preserved (a photo is never mirrored);
    the outline's area at most ``max_area_fraction`` query frames; the local
    stretch at the outline's centre not more anisotropic than ``max_anisotropy``.

    The outline is the reference frame, or ``region`` (``(4, 2)`` reference
    pixels, e.g. :func:`inlier_box` of the inliers).  The frame suits a flat
    subject that fills the photo; in a 3-D scene (an object seen from around
    it, a room, a building far off) the homography holds only for the plane
    the matches lie on, and extrapolated to the frame's corners it may fold
    (its horizon crosses the frame) or blow up without anything being wrong
    where the matches are.  The region's checks ask the same physics of the
    part of the scene that was matched.
    """
    if not np.all(np.isfinite(H)) or abs(H[2, 2]) < 1e-12:
        return ["homography is not finite"]
    name = "outline" if region is None else "inlier box"
    corners = project_outline(H, ref_size) if region is None else project_polygon(H, region)
    if not np.all(np.isfinite(corners)):
        return [f"{name} projects to infinity"]
    problems = []
    if not is_convex(corners):
        problems.append(f"projected {name} is not convex")
    elif shoelace_area(corners) <= 0:
        problems.append(f"projected {name} is mirrored")
    frame = float(query_size[0] * query_size[1])
    fraction = abs(shoelace_area(corners)) / frame
    if fraction > max_area_fraction:
        problems.append(f"{name} covers {fraction:.1f} frames (max {max_area_fraction:g})")
    centre = (ref_size[0] / 2.0, ref_size[1] / 2.0) if region is None else tuple(np.mean(region, axis=0))
    stretch = _anisotropy(H, centre)
    if stretch > max_anisotropy:
        problems.append(f"stretch ratio {stretch:.1f} (max {max_anisotropy:g})")
    return problems


def jacobian_at(H: np.ndarray, point: tuple[float, float]) -> np.ndarray | None:
    """``(2, 2)`` Jacobian of the projective map ``H`` at ``point``: how it stretches a small patch there.

    None where the point maps to infinity (the homography's denominator vanishes).
    """
    px, py = float(point[0]), float(point[1])
    denom = H[2, 0] * px + H[2, 1] * py + H[2, 2]
    if abs(denom) < 1e-12:
        return None
    u = (H[0, 0] * px + H[0, 1] * py + H[0, 2]) / denom
    v = (H[1, 0] * px + H[1, 1] * py + H[1, 2]) / denom
    return (
        np.array([[H[0, 0] - u * H[2, 0], H[0, 1] - u * H[2, 1]], [H[1, 0] - v * H[2, 0], H[1, 1] - v * H[2, 1]]])
        / denom
    )


def _anisotropy(H: np.ndarray, centre: tuple[float, float]) -> float:
    """Ratio of the singular values of H's Jacobian at ``centre`` (reference pixels)."""
    J = jacobian_at(H, centre)
    if J is None:
        return float("inf")
    s = np.linalg.svd(J, compute_uv=False)
    return float(s[0] / s[1]) if s[1] > 1e-12 else float("inf")


def clip_to_frame(polygon: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``polygon`` ``(N, 2)`` clipped to the ``(width, height)`` frame (Sutherland-Hodgman): ``(M, 2)``, M may be 0.

    The frame is convex, so clipping edge by edge is exact for any simple polygon.
    """
    w, h = float(size[0]), float(size[1])
    # Each frame edge as (axis, bound, keep_below): x >= 0, x <= w, y >= 0, y <= h.
    edges = ((0, 0.0, False), (0, w, True), (1, 0.0, False), (1, h, True))
    pts: list[tuple[float, float]] = [(float(x), float(y)) for x, y in np.asarray(polygon, np.float64).reshape(-1, 2)]
    for axis, bound, below in edges:
        if not pts:
            break

        def inside(p: tuple[float, float], axis: int = axis, bound: float = bound, below: bool = below) -> bool:
            return p[axis] <= bound if below else p[axis] >= bound

        out: list[tuple[float, float]] = []
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            if inside(cur) != inside(prev):  # the edge crosses the bound: keep the crossing point
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            if inside(cur):
                out.append(cur)
        pts = out
    return np.array(pts, np.float64).reshape(-1, 2)


def visible_fraction(polygon: np.ndarray, size: tuple[int, int]) -> float:
    """The share of the ``(width, height)`` frame that ``polygon`` covers, in ``[0, 1]``.

    What a person sees of the reference in the new photo: the projected
    outline clipped to the photo (an outline far larger than the frame covers
    all of it, never more); a mirrored (negative-area) or non-finite outline
    covers nothing.
    """
    polygon = np.asarray(polygon, np.float64)
    frame = float(size[0]) * float(size[1])
    if frame <= 0 or not np.all(np.isfinite(polygon)):
        return 0.0
    clipped = clip_to_frame(polygon, size)
    if len(clipped) < 3:
        return 0.0
    return float(min(max(shoelace_area(clipped), 0.0) / frame, 1.0))
