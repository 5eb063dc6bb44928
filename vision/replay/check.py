"""Is a new photo a replay of an earlier one (the reference or an accepted proof)?

Two photos of the same thing always look alike; what a genuine new photo
has that a replay lacks is *independent* pixels: a new exposure brings new
sensor noise, light, focus and (from a hand-held phone) parallax, so after
the best homography the two still differ in their fine detail.  A replay (a
re-encoded, resized, cropped, rotated, recoloured or screenshotted copy)
is the same pixels under a 2-D transformation: aligned, its fine detail
matches almost exactly, and nearly all of its strong keypoints come back.

The check (:func:`measure`) aligns the candidate's fingerprint keypoints
(:mod:`vision.replay.fingerprint`) to the new photo's AKAZE keypoints by a
homography (or takes the verification's), refines a rough fit on the
thumbnails' pixels (:mod:`vision.replay.refine`), also tries the mirrored
view and, where the photo may be one tile of a collage, the tiles
(:mod:`vision.replay.tiles`); then compares the aligned thumbnails.  Evidence:

* ``inlier_fraction``: of the candidate's strongest keypoints, how many
  reappear where the homography puts them;
* ``detail_ncc``: normalised correlation of the two aligned thumbnails'
  fine detail (a band-pass; insensitive to brightness, contrast and gamma);
* ``reproj_px``: median distance of the inliers from the homography (in
  working-image pixels): near zero for a pure 2-D copy, larger with parallax.

:func:`decide` turns the evidence into a replay flag by the profile's
thresholds (:class:`ReplayThresholds`); :func:`find_replay` runs the check
against every remembered fingerprint, strongest candidates first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from vision.matchers.akaze import Features
from vision.replay.align import RATIO, MirroredFeatures, fingerprint_alignment, mirror_alignment, plausible
from vision.replay.evidence import ReplayEvidence
from vision.replay.fingerprint import Fingerprint, hash_distance
from vision.replay.geometry import frame_border, similarity_deviation
from vision.replay.refine import refine_homography
from vision.replay.residual import cell_correlations, cell_px, detail, ncc
from vision.replay.thresholds import ReplayThresholds
from vision.replay.tiles import tile_candidates

__all__ = [
    "Alignment",
    "Candidate",
    "ReplayEvidence",
    "ReplayFinding",
    "ReplayThresholds",
    "align_thumbnail",
    "decide",
    "detail",
    "find_replay",
    "measure",
    "rank_candidates",
]

_FALLBACK_BELOW = 10  # fingerprint inliers under which a fallback alignment is used instead
_CELL_MATCH = 0.5  # a grid cell "repeats" when its detail correlates at least this much
_REFINE_FROM = 0.5  # cell share from which a rough alignment is refined on the thumbnails (ECC)
_REFINE_BELOW = 0.97  # detail correlation from which an alignment is exact enough already
# A fit this good is exact at the thumbnail already (1.5 working px is a quarter of a thumbnail pixel):
# refining it or fitting again costs milliseconds and changes nothing.
_EXACT_INLIERS = 60
_EXACT_REPROJ_PX = 1.5
_SECOND_OPINION_BELOW = 100  # verification inliers (of 2000 keypoints) under which its fit may be a pixel off
_MIRROR_BELOW = 0.95  # cell share under which the mirrored view is also tried (a symmetric facade aligns partly)


def _no_alignment(n_points: int, n_matches: int, hash_dist: int) -> ReplayEvidence:
    return ReplayEvidence(n_points, n_matches, 0, 0.0, float("inf"), 0.0, hash_dist)


def _scale(sx: float, sy: float) -> np.ndarray:
    """Pixel-centre scaling: pixel ``i`` of one grid covers ``[i - 0.5, i + 0.5]`` of the other, scaled."""
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def align_thumbnail(candidate: Fingerprint, query_thumb: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp the candidate's thumbnail onto the new photo's thumbnail.

    Parameters
    ----------
    candidate : Fingerprint
    query_thumb : np.ndarray
        ``(h, w)`` uint8 thumbnail of the new photo.
    H : np.ndarray
        ``(3, 3)`` candidate-thumbnail -> query-thumbnail homography.

    Returns
    -------
    warped, valid : np.ndarray
        ``(h, w)`` uint8 warped thumbnail and ``(h, w)`` bool mask of the
        pixels it covers (eroded by 3 px, away from the resampled border).
    """
    h, w = query_thumb.shape
    warped = cv2.warpPerspective(candidate.thumb, H, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    ones = np.full(candidate.thumb.shape, 255, np.uint8)
    cover = cv2.warpPerspective(ones, H, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    valid = cv2.erode(cover, np.ones((7, 7), np.uint8)) > 0
    return warped, valid


@dataclass(frozen=True)
class Alignment:
    """A homography found elsewhere (the verification's), used instead of the fingerprint's matches.

    ``H`` maps the candidate's working-image pixels to the new photo's;
    ``n_inliers`` and ``reproj_px`` are that fit's.  It is only valid for
    a fingerprint made from the same working image (``size``).
    """

    H: np.ndarray
    n_inliers: int
    size: tuple[int, int]
    reproj_px: float = float("nan")
    fallback: bool = False
    """Use it only when the fingerprint's own keypoints do not align (a composed, approximate homography)."""


def measure(
    candidate: Fingerprint,
    query: Features,
    query_thumb: np.ndarray,
    query_fp: Fingerprint,
    alignment: Alignment | None = None,
    mirrored: MirroredFeatures | None = None,
) -> ReplayEvidence:
    """Align ``candidate`` to the new photo and measure how much of it repeats.

    Parameters
    ----------
    candidate : Fingerprint
        The remembered photo (reference or earlier proof).
    query : Features
        The new photo's AKAZE features (working resolution).
    query_thumb : np.ndarray
        ``(h, w)`` uint8 gray thumbnail of the new photo (``query_fp.thumb``).
    query_fp : Fingerprint
        The new photo's fingerprint (for the hash distance).
    alignment : Alignment, optional
        The verification's homography for this candidate (the reference):
        2000 keypoints a side align a blurred screen photo where the
        fingerprint's 192 may not.  Ignored when made on another working size.
    mirrored : callable, optional
        Returns the mirrored new photo's features (in its own working pixels,
        see :func:`vision.replay.residual.mirrored_features`); tried when the
        fingerprint aligns with fewer than 10 inliers, so a flipped copy aligns.

    Returns
    -------
    ReplayEvidence
        Zero inliers and ``inf`` error when no plausible homography fits.
    """
    hash_dist = hash_distance(candidate, query_fp)
    usable = alignment is not None and tuple(alignment.size) == tuple(candidate.size)
    evidence: ReplayEvidence | None = None
    if usable and alignment is not None and not alignment.fallback:
        fit = (alignment.n_inliers, alignment.n_inliers, alignment.reproj_px)
        evidence = _residual(candidate, query, query_thumb, alignment.H, fit, hash_dist, False)
    if evidence is None or (
        evidence.n_inliers < _SECOND_OPINION_BELOW and evidence.cell_share >= _REFINE_FROM and not _repeats(evidence)
    ):
        # The candidate's own keypoints, refined on the pixels: a remembered proof's only alignment, and a
        # second opinion where the verification's fit (made for the scene, not for a copy) repeats only partly.
        own = _refined(candidate, query_thumb, _keypoint_evidence(candidate, query, query_thumb, hash_dist, alignment))
        if evidence is None or (own.cell_share, own.detail_ncc) > (evidence.cell_share, evidence.detail_ncc):
            evidence = own
    if evidence.cell_share < _MIRROR_BELOW:
        # Perhaps a flipped copy: the unflipped alignment (even the verification's) found no full repeat;
        # a symmetric scene (a facade, a doorway) aligns unflipped onto part of its mirror image.
        Hm, m_matches, m_in, m_reproj = mirror_alignment(candidate, query_thumb, mirrored)
        if Hm is not None and m_in >= _FALLBACK_BELOW:
            flipped = _residual(candidate, query, query_thumb, Hm, (m_matches, m_in, m_reproj), hash_dist, True)
            flipped = _refined(candidate, query_thumb, flipped)
            if flipped.cell_share > evidence.cell_share:
                evidence = flipped
    if evidence.n_inliers < _FALLBACK_BELOW or not _repeats(evidence):
        evidence = _tiled(candidate, query_thumb, evidence)
    return evidence


def _exact(e: ReplayEvidence) -> bool:
    """Whether the alignment's own fit is exact enough that refinement cannot change the evidence."""
    return e.n_inliers >= _EXACT_INLIERS and e.reproj_px <= _EXACT_REPROJ_PX


def _repeats(e: ReplayEvidence) -> bool:
    """Whether an alignment already shows a full repeat (nothing left to refine or search)."""
    return e.cell_share >= _MIRROR_BELOW and e.detail_ncc >= _REFINE_BELOW


def _keypoint_evidence(
    candidate: Fingerprint,
    query: Features,
    query_thumb: np.ndarray,
    hash_dist: int,
    alignment: Alignment | None,
) -> ReplayEvidence:
    """The evidence of the fingerprint's own keypoints' homography (else a usable fallback ``alignment``)."""
    H, n_matches, n_in, reproj = fingerprint_alignment(candidate, query)
    if H is not None and not plausible(H, candidate, query):
        H, n_in, reproj = None, 0, float("inf")
    fallback = alignment is not None and alignment.fallback and tuple(alignment.size) == tuple(candidate.size)
    if fallback and alignment is not None and n_in < _FALLBACK_BELOW:
        H, n_in, reproj = alignment.H, alignment.n_inliers, alignment.reproj_px
    if H is None:
        return _no_alignment(len(candidate), n_matches, hash_dist)
    return _residual(candidate, query, query_thumb, H, (n_matches, n_in, reproj), hash_dist, False)


def _refined(candidate: Fingerprint, query_thumb: np.ndarray, evidence: ReplayEvidence) -> ReplayEvidence:
    """``evidence`` re-measured after an ECC refinement of its alignment, when that correlates better.

    Only a partial repeat is refined (cell share >= 0.5, correlation < 0.97):
    a dozen keypoints after a 30-degree rotation, a composed or mirrored
    alignment leave a pixel of error that blurs a copy's detail; a new
    photo's differences stay (:mod:`vision.replay.refine`).
    """
    if evidence.H is None or evidence.cell_share < _REFINE_FROM or evidence.detail_ncc >= _REFINE_BELOW:
        return evidence
    if _exact(evidence) and not evidence.mirrored:  # the mirrored view is searched at 640 px: always refined
        return evidence
    H = refine_homography(query_thumb, candidate.thumb, evidence.H)
    if H is None:
        return evidence
    fit = (evidence.n_matches, evidence.n_inliers, evidence.reproj_px)
    better = _measure_thumb(candidate, query_thumb, H, fit, evidence.hash_distance, evidence.mirrored)
    return better if better.detail_ncc > evidence.detail_ncc else evidence


def _tiled(candidate: Fingerprint, query_thumb: np.ndarray, evidence: ReplayEvidence) -> ReplayEvidence:
    """The candidate as a collage tile of the new photo (:mod:`vision.replay.tiles`), when that repeats more."""
    # Too few keypoints agree for the evidence to count: any tile that holds the photo is better evidence.
    weak = evidence.n_inliers < _FALLBACK_BELOW and not evidence.tile
    best = evidence
    fit = (evidence.n_matches, 0, float("inf"))  # a tile is placed by its rectangle, not by keypoints
    for H0 in tile_candidates(candidate, query_thumb):
        H = refine_homography(query_thumb, candidate.thumb, H0)
        tiled = _measure_thumb(candidate, query_thumb, H0 if H is None else H, fit, evidence.hash_distance, False)
        tiled = replace(tiled, tile=True)
        if (weak and best is evidence) or (tiled.cell_share, tiled.detail_ncc) > (best.cell_share, best.detail_ncc):
            best = tiled
    return best


def _residual(
    candidate: Fingerprint,
    query: Features,
    query_thumb: np.ndarray,
    H: np.ndarray,
    fit: tuple[int, int, float],
    hash_dist: int,
    flipped: bool,
) -> ReplayEvidence:
    """The evidence of one alignment ``H`` (candidate working px -> new photo's): residual structure and geometry.

    ``fit`` is the alignment's ``(n_matches, n_inliers, reproj_px)``.
    """
    qh, qw = query_thumb.shape
    ch, cw = candidate.thumb.shape
    qsize = query.image_size
    H_thumb = (
        _scale(qw / qsize[0], qh / qsize[1]) @ H @ np.linalg.inv(_scale(cw / candidate.size[0], ch / candidate.size[1]))
    )
    return _measure_thumb(candidate, query_thumb, H_thumb, fit, hash_dist, flipped)


def _measure_thumb(
    candidate: Fingerprint,
    query_thumb: np.ndarray,
    H_thumb: np.ndarray,
    fit: tuple[int, int, float],
    hash_dist: int,
    flipped: bool,
) -> ReplayEvidence:
    """The evidence of one thumbnail alignment ``H_thumb`` (candidate thumbnail px -> new photo's).

    The grid cells hold 16 x 16 px of the old thumbnail wherever it lands
    (:func:`vision.replay.residual.cell_px`: smaller cells on a copy shown smaller).
    """
    n_matches, n_in, reproj = fit
    ch, cw = candidate.thumb.shape
    warped, valid = align_thumbnail(candidate, query_thumb, H_thumb)
    corr, cells = 0.0, np.zeros(0, np.float32)
    if valid.sum() >= 400:  # at least a 20x20 overlap
        old, new = detail(warped), detail(query_thumb)
        corr = ncc(old[valid], new[valid])
        cells = cell_correlations(old, new, valid, cell_px(H_thumb, (cw, ch)))
    sim_residual, angle_off = similarity_deviation(H_thumb, (cw, ch))
    inside, flatness = frame_border(H_thumb, (cw, ch), query_thumb)
    return ReplayEvidence(
        len(candidate),
        n_matches,
        n_in,
        min(n_in / max(len(candidate), 1), 1.0),
        reproj,
        corr,
        hash_dist,
        sim_residual,
        angle_off,
        inside,
        flatness,
        float(np.mean(cells >= _CELL_MATCH)) if cells.size else 0.0,
        int(cells.size),
        flipped,
        H=H_thumb,
    )


def decide(evidence: ReplayEvidence, thresholds: ReplayThresholds = ReplayThresholds()) -> tuple[bool, str]:
    """Whether the evidence shows a replay, and why (a sentence with the deciding numbers)."""
    e, t = evidence, thresholds
    if e.tile:  # aligned by a tile's hash, not by keypoints: only the pixels decide
        return _decide_content(e, t)
    if e.n_inliers < t.min_inliers:
        return False, f"{e.n_inliers} of its keypoints align (replay needs >= {t.min_inliers})"
    if e.inlier_fraction < t.min_inlier_fraction:
        return False, f"{e.inlier_fraction:.0%} of its keypoints reappear (replay needs >= {t.min_inlier_fraction:.0%})"
    similar = e.similarity_residual <= t.max_similarity_residual and e.angle_off_deg <= t.max_angle_off_deg
    if similar and e.detail_ncc >= t.min_detail_ncc:
        return True, (
            f"a digital copy: it maps onto the new photo by scaling and a {_quarter_turns(e)} rotation "
            f"(off by {e.similarity_residual:.1%}) and its fine detail matches "
            f"(correlation {e.detail_ncc:.2f} >= {t.min_detail_ncc:.2f})"
        )
    framed = e.frame_inside >= t.min_frame_inside and e.border_flatness <= t.max_border_flatness
    if framed and e.detail_ncc >= t.min_framed_ncc:
        return True, (
            f"a framed copy (screen or screenshot): its whole frame is in view with a flat border around it "
            f"(flatness {e.border_flatness:.2f} <= {t.max_border_flatness:.2f}) and its fine detail matches "
            f"(correlation {e.detail_ncc:.2f} >= {t.min_framed_ncc:.2f})"
        )
    content, why = _decide_content(e, t)
    if content:
        return True, why
    if e.detail_ncc < t.min_framed_ncc or (not framed and e.detail_ncc < t.min_detail_ncc):
        return False, f"fine detail differs after alignment (correlation {e.detail_ncc:.2f})"
    return False, (
        f"fine detail is close (correlation {e.detail_ncc:.2f}) but the view is new: "
        f"perspective {e.similarity_residual:.1%} > {t.max_similarity_residual:.1%} or roll "
        f"{e.angle_off_deg:.1f} deg > {t.max_angle_off_deg:.1f} deg, and no flat border around the old frame"
    )


def _decide_content(e: ReplayEvidence, t: ReplayThresholds) -> tuple[bool, str]:
    """The content rule alone: the aligned fine detail repeats cell by cell."""
    if e.n_cells >= t.min_cells and e.cell_share >= t.min_cell_share and e.detail_ncc >= t.min_content_ncc:
        view = "its mirror image" if e.mirrored else "it"
        where = " as one tile of a collage" if e.tile else ""
        return True, (
            f"an edited copy: aligned onto the new photo{where}, {view} repeats the fine detail cell by cell "
            f"({e.cell_share:.0%} of {e.n_cells} cells >= {t.min_cell_share:.0%}, correlation {e.detail_ncc:.2f} "
            f">= {t.min_content_ncc:.2f}): the same pixels under a smooth warp, not a new exposure"
        )
    return False, (
        f"fine detail does not repeat cell by cell ({e.cell_share:.0%} of {e.n_cells} cells, "
        f"correlation {e.detail_ncc:.2f})"
    )


def _quarter_turns(e: ReplayEvidence) -> str:
    """'0-degree' / '90-degree' ... rotation of the alignment (nearest quarter turn)."""
    if e.H is None:
        return "90-degree-step"
    # Near a similarity the upper-left 2x2 block is s * R(angle).
    angle = float(np.degrees(np.arctan2(e.H[1, 0], e.H[0, 0])))
    return f"{round(angle / 90.0) % 4 * 90}-degree"


@dataclass(frozen=True)
class Candidate:
    """A remembered photo: a label for people (``"the reference"``, ``"the proof of <time>"``) and its fingerprint."""

    label: str
    fingerprint: Fingerprint
    key: str = ""
    alignment: Alignment | None = None


@dataclass(frozen=True)
class ReplayFinding:
    """The result of :func:`find_replay`.

    ``replay`` is True when ``candidate`` repeats; ``evidence`` is that
    candidate's (or, without a replay, the closest one's: most inliers).
    """

    replay: bool
    reason: str
    candidate: Candidate | None = None
    evidence: ReplayEvidence | None = None
    checked: int = 0


QUICK_POINTS = 16
"""Strongest fingerprint keypoints per candidate used to rank candidates (:func:`rank_candidates`)."""
QUICK_QUERY_POINTS = 1000
"""Strongest keypoints of the new photo they are matched against."""


def rank_candidates(
    candidates: list[Candidate], query: Features, points: int = QUICK_POINTS, query_points: int = QUICK_QUERY_POINTS
) -> np.ndarray:
    """Order candidates by how many of their strongest keypoints reappear in the new photo (best first).

    One brute-force search of every candidate's :data:`QUICK_POINTS`
    strongest descriptors against the new photo's :data:`QUICK_QUERY_POINTS`
    strongest, with Lowe's ratio test: about a millisecond for 30 candidates,
    so only the few likeliest get the full check.  A replay keeps nearly all
    its strongest keypoints; other photos of the scene keep fewer.

    Returns
    -------
    np.ndarray
        ``(len(candidates),)`` int64 indices into ``candidates``, stable for ties.
    """
    if not candidates or len(query) < 2:
        return np.arange(len(candidates))
    blocks = [c.fingerprint.descriptors[:points] for c in candidates]
    owner = np.repeat(np.arange(len(candidates)), [len(b) for b in blocks])
    stacked = np.ascontiguousarray(np.vstack(blocks))
    if len(stacked) == 0:
        return np.arange(len(candidates))
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(stacked, query.descriptors[:query_points], k=2)
    good = np.array([len(p) == 2 and p[0].distance < RATIO * p[1].distance for p in pairs], bool)
    score = np.bincount(owner[good], minlength=len(candidates))
    return np.argsort(-score, kind="stable")


def find_replay(
    candidates: list[Candidate],
    query: Features,
    query_fp: Fingerprint,
    thresholds: ReplayThresholds = ReplayThresholds(),
    full_checks: int = 3,
    mirrored: MirroredFeatures | None = None,
) -> ReplayFinding:
    """Check the new photo against the likeliest candidates; the best-matching copy is the finding.

    The first candidate (the reference) is always checked; the others are
    ranked by :func:`rank_candidates` and the ``full_checks - 1`` likeliest
    get the full check (:func:`measure`), so the cost stays flat however
    many proofs a user has.  ``mirrored`` (the mirrored new photo's
    features, computed at most once) lets a flipped copy align.

    Returns
    -------
    ReplayFinding
        ``replay=False`` with the closest checked candidate's evidence (or
        none when ``candidates`` is empty); ``checked`` counts full checks.
    """
    order = [0] if candidates else []
    if len(candidates) > 1:
        rest = rank_candidates(candidates[1:], query)[: max(full_checks - 1, 0)]
        order += [int(i) + 1 for i in rest]
    cached: list[Features | None] = []

    def once() -> Features | None:
        if mirrored is not None and not cached:
            cached.append(mirrored())
        return cached[0] if cached else None

    best: tuple[Candidate, ReplayEvidence] | None = None
    repeated: tuple[Candidate, ReplayEvidence, str] | None = None
    checked = 0
    for index in order:
        candidate = candidates[index]
        evidence = measure(candidate.fingerprint, query, query_fp.thumb, query_fp, candidate.alignment, once)
        checked += 1
        is_replay, why = decide(evidence, thresholds)
        # Every likely candidate is checked: a copy of a proof also resembles
        # the reference, and the reason must name the photo it copies (the
        # one whose detail it matches best).
        if is_replay and (repeated is None or evidence.detail_ncc > repeated[1].detail_ncc):
            repeated = (candidate, evidence, why)
        if best is None or evidence.n_inliers > best[1].n_inliers:
            best = (candidate, evidence)
    if repeated is not None:
        candidate, evidence, why = repeated
        return ReplayFinding(True, f"it repeats {candidate.label}: {why}", candidate, evidence, checked)
    if best is None:
        return ReplayFinding(False, "no earlier photo to compare with", checked=checked)
    _, why = decide(best[1], thresholds)
    return ReplayFinding(False, f"a new photo: closest earlier photo is {best[0].label}; {why}", *best, checked)
