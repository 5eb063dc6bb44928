"""Pictures of the evidence: keypoints, matches and the projected outline.

Replaces the note's ``plt.show()`` debugging.  Every function returns a new
RGB uint8 array (what ``st.image`` and PNG encoders expect) and never blocks.
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.matchers.akaze import Features
from vision.matchers.knn import CandidateMatches
from vision.rules.evidence import MatchEvidence
from vision.views.match import Lines, MatchView

# BGR colours (OpenCV draws in BGR; converted to RGB at the end)
INLIER = (80, 200, 60)
REJECTED = (60, 60, 230)
RAW = (200, 160, 40)
OUTLINE = (0, 255, 255)


def draw_keypoints(image: np.ndarray, features: Features, max_drawn: int = 2000) -> np.ndarray:
    """The image with its keypoints as circles (size and orientation), RGB out."""
    subset = features.keypoints()[:max_drawn]
    out = cv2.drawKeypoints(  # type: ignore[call-overload]  # the stubs miss outImage=None (allocate one)
        image, subset, None, color=INLIER, flags=cv2.DRAW_MATCHES_FLAGS_DRAW_RICH_KEYPOINTS
    )
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def _dmatches(candidates: CandidateMatches, mask: np.ndarray, limit: int) -> list[cv2.DMatch]:
    idx = np.flatnonzero(mask)[:limit]
    return [
        cv2.DMatch(int(candidates.ref_idx[i]), int(candidates.query_idx[i]), float(candidates.distance[i])) for i in idx
    ]


def draw_matches(
    ref_image: np.ndarray,
    ref: Features,
    query_image: np.ndarray,
    query: Features,
    candidates: CandidateMatches,
    evidence: MatchEvidence,
    show_raw: bool = False,
    max_lines: int = 400,
) -> np.ndarray:
    """Side-by-side view: inliers in green, rejected tentative matches in red, outline in yellow.

    Parameters
    ----------
    ref_image, query_image : np.ndarray
        BGR images at working resolution (the features' coordinates).
    candidates : CandidateMatches
        The cached kNN matches; with ``show_raw`` all of them are drawn (blue)
        instead of the tentative/inlier split.
    evidence : MatchEvidence
        Masks over ``candidates`` and the projected outline.

    Returns
    -------
    np.ndarray
        RGB uint8 ``(max(h1, h2), w1 + w2, 3)``.
    """
    kp_ref, kp_query = ref.keypoints(), query.keypoints()
    canvas = _side_by_side(ref_image, query_image)
    n_raw = len(candidates)
    layers = (
        [(np.ones(n_raw, bool), RAW)]
        if show_raw
        else [(evidence.tentative & ~evidence.inliers, REJECTED), (evidence.inliers, INLIER)]
    )
    for mask, colour in layers:
        if mask.size and mask.any():
            cv2.drawMatches(
                ref_image,
                kp_ref,
                query_image,
                kp_query,
                _dmatches(candidates, mask, max_lines),
                canvas,
                matchColor=colour,
                singlePointColor=colour,
                flags=cv2.DRAW_MATCHES_FLAGS_DRAW_OVER_OUTIMG | cv2.DRAW_MATCHES_FLAGS_NOT_DRAW_SINGLE_POINTS,
            )
    if evidence.outline is not None and np.all(np.isfinite(evidence.outline)):
        shifted = evidence.outline + np.array([ref_image.shape[1], 0.0])
        thickness = max(2, canvas.shape[1] // 500)
        cv2.polylines(
            canvas, [np.round(shifted).astype(np.int32).reshape(-1, 1, 2)], True, OUTLINE, thickness, cv2.LINE_AA
        )
    return cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)


def draw_point_matches(
    ref_image: np.ndarray,
    query_image: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    inliers: np.ndarray,
    max_lines: int = 400,
) -> np.ndarray:
    """Side-by-side view of point matches (the learned matcher's): inliers green, the others red.

    Parameters
    ----------
    ref_image, query_image : np.ndarray
        BGR or gray images whose pixels ``src`` / ``dst`` are in.
    src, dst : np.ndarray
        ``(K, 2)`` matched points.
    inliers : np.ndarray
        ``(K,)`` bool.

    Returns
    -------
    np.ndarray
        RGB uint8 ``(max(h1, h2), w1 + w2, 3)``; without matches, the two images.
    """
    canvas = _side_by_side(ref_image, query_image)
    offset = np.array([ref_image.shape[1], 0.0])
    thickness = max(1, canvas.shape[1] // 1000)
    for mask, colour in ((~inliers, REJECTED), (inliers, INLIER)):
        for a, b in zip(src[mask][:max_lines], dst[mask][:max_lines], strict=True):
            p, q = tuple(int(x) for x in np.rint(a)), tuple(int(x) for x in np.rint(b + offset))
            cv2.line(canvas, p, q, colour, thickness, cv2.LINE_AA)
            cv2.circle(canvas, p, 2 * thickness, colour, -1)
            cv2.circle(canvas, q, 2 * thickness, colour, -1)
    return cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)


# The match view's colours (BGR): weak -> strong matches run from amber to green.
WEAK = (40, 190, 250)
STRONG = (60, 210, 40)
FAINT = (200, 200, 200)
FILL = (255, 200, 0)  # the outline: cyan, translucent fill
OUTLINE_ALPHA = 0.15
FAINT_ALPHA = 0.35


def draw_match_view(
    ref_image: np.ndarray,
    query_image: np.ndarray,
    view: MatchView,
    show_others: bool = False,
    max_lines: int = 100,
    legend: bool = True,
) -> np.ndarray:
    """The picture of one verification, as its rule saw it.

    Reference left, new photo right.  By default only the lines the rule
    counted are drawn (the ``max_lines`` strongest, thick, amber to green by
    confidence) and its outline, clipped to the new photo and filled
    translucent.  ``show_others`` adds the matches it did not count and an
    implausible outline, faint.  A legend sits in the top-left corner
    (``legend=False``: none, for a page that writes :func:`legend_rows` as
    text, readable at any width).  An outline too small to see (under 1 %
    of the new photo, as the note's rule may accept) is also ringed.

    Parameters
    ----------
    ref_image, query_image : np.ndarray
        BGR (or gray) uint8 images in the view's coordinates.

    Returns
    -------
    np.ndarray
        RGB uint8 ``(max(h1, h2), w1 + w2, 3)``.
    """
    canvas = _side_by_side(ref_image, query_image)
    w1 = ref_image.shape[1]
    hq, wq = query_image.shape[:2]
    thick = max(2, canvas.shape[1] // 650)
    query_part = np.ascontiguousarray(canvas[:hq, w1 : w1 + wq])
    if view.outline is not None:
        _fill_outline(query_part, view.outline, thick)
        if _tiny(view.outline, query_part.shape):
            _ring(query_part, view.outline, thick)
    if show_others and view.outline_rejected is not None:
        _faint_polygon(query_part, view.outline_rejected, thick)
    canvas[:hq, w1 : w1 + wq] = query_part
    if show_others and len(view.others):
        overlay = canvas.copy()
        _draw_lines(overlay, view.others, w1, max(1, thick // 2), max_lines, faint=True)
        cv2.addWeighted(overlay, FAINT_ALPHA, canvas, 1 - FAINT_ALPHA, 0, dst=canvas)
    _draw_lines(canvas, view.counted, w1, thick, max_lines)
    if legend:
        _legend(canvas, legend_rows(view, show_others, max_lines, query_part.shape))
    return cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)


TINY_OUTLINE = 0.01
"""An outline covering less of the new photo than this is ringed so that it can be seen."""


def _tiny(outline: np.ndarray, shape: tuple[int, ...]) -> bool:
    area = abs(float(cv2.contourArea(np.asarray(outline, np.float32).reshape(-1, 1, 2))))
    return area < TINY_OUTLINE * shape[0] * shape[1]


def _ring(image: np.ndarray, outline: np.ndarray, thick: int) -> None:
    """A bold circle around a tiny outline (at least 4 % of the photo's diagonal across)."""
    pts = np.asarray(outline, np.float32).reshape(-1, 2)
    centre = pts.mean(axis=0)
    spread = float(np.max(np.linalg.norm(pts - centre, axis=1))) if len(pts) else 0.0
    radius = int(max(spread + 3 * thick, 0.04 * float(np.hypot(*image.shape[:2]))))
    cx, cy = (int(np.rint(c)) for c in np.clip(centre, -1e5, 1e5))
    cv2.circle(image, (cx, cy), radius, (0, 0, 0), thick * 2 + 4, cv2.LINE_AA)
    cv2.circle(image, (cx, cy), radius, FILL, thick * 2, cv2.LINE_AA)


def strength_colour(strength: float) -> tuple[int, int, int]:
    """BGR colour of a match of confidence ``strength`` in [0, 1]."""
    s = float(np.clip(strength, 0.0, 1.0))
    b, g, r = (int(np.rint(lo + (hi - lo) * s)) for lo, hi in zip(WEAK, STRONG, strict=True))
    return b, g, r


def _draw_lines(canvas: np.ndarray, lines: Lines, dx: int, thick: int, limit: int, faint: bool = False) -> None:
    # weakest first so the strongest end on top
    n = min(len(lines), limit)
    for i in reversed(range(n)):
        colour = FAINT if faint else strength_colour(lines.strength[i])
        a = (int(np.rint(lines.ref[i][0])), int(np.rint(lines.ref[i][1])))
        b = (int(np.rint(lines.query[i][0])) + dx, int(np.rint(lines.query[i][1])))
        cv2.line(canvas, a, b, colour, thick, cv2.LINE_AA)
        if not faint:
            cv2.circle(canvas, a, thick + 2, colour, -1, cv2.LINE_AA)
            cv2.circle(canvas, b, thick + 2, colour, -1, cv2.LINE_AA)


def _fill_outline(image: np.ndarray, outline: np.ndarray, thick: int) -> None:
    """Translucent fill and a solid edge; drawing on ``image`` alone clips to it."""
    poly = [np.round(outline).astype(np.int32).reshape(-1, 1, 2)]
    overlay = image.copy()
    cv2.fillPoly(overlay, poly, FILL, cv2.LINE_AA)
    cv2.addWeighted(overlay, OUTLINE_ALPHA, image, 1 - OUTLINE_ALPHA, 0, dst=image)
    cv2.polylines(image, poly, True, FILL, thick + 1, cv2.LINE_AA)


def _faint_polygon(image: np.ndarray, outline: np.ndarray, thick: int) -> None:
    poly = [np.round(np.clip(outline, -1e5, 1e5)).astype(np.int32).reshape(-1, 1, 2)]
    overlay = image.copy()
    cv2.polylines(overlay, poly, True, FAINT, thick, cv2.LINE_AA)
    cv2.addWeighted(overlay, FAINT_ALPHA, image, 1 - FAINT_ALPHA, 0, dst=image)


def legend_rows(
    view: MatchView, show_others: bool, limit: int = 100, query_shape: tuple[int, ...] | None = None
) -> list[tuple[str, tuple[int, int, int]]]:
    """What the picture draws, as ``(text, BGR colour)`` rows: the counted lines first (the confidence ramp).

    ``query_shape`` is the drawn new photo's ``(h, w, ...)`` (says when the outline is ringed for being tiny).
    """
    n = len(view.counted)
    drawn = f" ({limit} surest drawn)" if n > limit else ""
    rows = [(f"{n} {view.counted_name}{drawn}", STRONG)] if n or view.accepted else []
    if view.outline is not None:
        tiny = " (tiny: ringed)" if query_shape is not None and _tiny(view.outline, query_shape) else ""
        rows.append((f"reference outline in the new photo{tiny}", FILL))
    if show_others and len(view.others):
        rows.append((f"{len(view.others)} {view.others_name} (faint)", FAINT))
    if show_others and view.outline_rejected is not None:
        rows.append(("the rejected outline (faint)", FAINT))
    if not rows:
        rows.append(("nothing drawn: the rule counted no points", FAINT))
    return rows


def _legend(canvas: np.ndarray, rows: list[tuple[str, tuple[int, int, int]]]) -> None:
    """Rows of (text, colour) in a dark translucent box, top left."""
    scale = max(0.5, canvas.shape[1] / 1500)
    thick = max(1, round(scale * 1.6))
    (_, th), _ = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad, gap, swatch = int(10 * scale), int(th * 0.8), int(th * 2)
    widths = [cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] for t, _ in rows]
    box_w = min(canvas.shape[1], pad * 3 + swatch + max(widths, default=0))
    box_h = min(canvas.shape[0], pad * 2 + len(rows) * th + (len(rows) - 1) * gap)
    region = canvas[:box_h, :box_w]
    region[:] = (region * 0.35).astype(np.uint8)
    y = pad + th
    for i, (text, colour) in enumerate(rows):
        if i == 0:  # the counted lines: the confidence ramp, weak to strong
            for k in range(swatch):
                x = pad + k
                cv2.line(canvas, (x, y - th // 2 - thick), (x, y - th // 2 + thick), strength_colour(k / swatch), 1)
        else:
            cv2.line(canvas, (pad, y - th // 2), (pad + swatch, y - th // 2), colour, max(2, thick * 2), cv2.LINE_AA)
        cv2.putText(canvas, text, (pad * 2 + swatch, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick,
                    cv2.LINE_AA)  # fmt: skip
        y += th + gap


def _side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    h = max(left.shape[0], right.shape[0])
    canvas = np.zeros((h, left.shape[1] + right.shape[1], 3), np.uint8)
    canvas[: left.shape[0], : left.shape[1]] = _bgr(left)
    canvas[: right.shape[0], left.shape[1] :] = _bgr(right)
    return canvas


def _bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image


def thumbnail(image: np.ndarray, side: int = 240) -> np.ndarray:
    """RGB thumbnail with long side ``side``."""
    scale = side / max(image.shape[:2])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    return cv2.cvtColor(_bgr(small), cv2.COLOR_BGR2RGB)


def crop_to_aspect(image: np.ndarray, aspect: float) -> np.ndarray:
    """The centre crop of ``image`` with width / height = ``aspect`` (thumbnails of one shape line up)."""
    h, w = image.shape[:2]
    if w / h > aspect:
        new_w = max(1, round(h * aspect))
        x = (w - new_w) // 2
        return image[:, x : x + new_w]
    new_h = max(1, round(w / aspect))
    y = (h - new_h) // 2
    return image[y : y + new_h]
