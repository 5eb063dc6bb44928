"""Edited copies: the ways a user can disguise an old photo before re-sending it.

Each edit takes a ``(H, W, 3)`` BGR uint8 photo and a ``numpy`` random
generator and returns the encoded bytes a client would upload, like the
transformations of :mod:`vision.replay.transforms`.  These are the
*edits* of issue 21 (smooth warps plus photometric damage), each at
several strengths: rotation by an arbitrary angle (cropped to fill the
frame, as phone editors do), perspective warps, crops, heavy JPEG, sensor
noise, a mirror flip, blur with perspective, rotation + crop + gamma, and
the photo as one tile of a collage.  All are seeded and deterministic.
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.replay.transforms import Transform, encode

__all__ = ["EDITS", "collage", "crop", "gamma", "noise", "perspective", "rotate"]


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate by ``degrees`` about the centre and crop to the largest same-aspect rectangle inside.

    The result keeps the input's size (the inner rectangle is scaled back
    up), so nothing of the old frame's edge shows.
    """
    h, w = image.shape[:2]
    a = np.radians(abs(degrees))
    # The largest centred w'xh' (same aspect) rectangle inside the rotated frame.
    shrink = 1.0 / (np.cos(a) + np.sin(a) * max(w / h, h / w))
    M = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0 / shrink)
    return cv2.warpAffine(image, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def perspective(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Move each corner by up to ``strength`` of the frame (random direction), warp, crop to the bounding box.

    ``(H, W, 3)`` -> about ``(H, W, 3)``; outside the warped photo is black
    (a keystone-correction tool's output before cropping).
    """
    h, w = image.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = src + rng.uniform(-strength, strength, (4, 2)).astype(np.float32) * np.array([w, h], np.float32)
    dst -= dst.min(axis=0)
    out_w, out_h = (int(np.ceil(v)) for v in dst.max(axis=0))
    H = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(image, H, (max(out_w, 8), max(out_h, 8)), flags=cv2.INTER_LINEAR)


def crop(image: np.ndarray, rng: np.random.Generator, fraction: float) -> np.ndarray:
    """Cut ``fraction`` of the width and of the height, split randomly between the two sides."""
    h, w = image.shape[:2]
    cut_x, cut_y = round(w * fraction), round(h * fraction)
    x0, y0 = int(rng.integers(0, cut_x + 1)), int(rng.integers(0, cut_y + 1))
    return image[y0 : h - (cut_y - y0), x0 : w - (cut_x - x0)]


def noise(image: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Add Gaussian noise of standard deviation ``sigma`` gray levels to every channel."""
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


def gamma(image: np.ndarray, value: float) -> np.ndarray:
    """Apply ``out = in ** value`` (on 0-1 intensities) through a lookup table."""
    lut = np.clip(np.power(np.arange(256) / 255.0, value) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(image, lut)


def collage(image: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """The photo as one tile of a collage covering ``share`` of the frame's area (0.25 or 0.5).

    The other tiles are unrelated textures (smoothed noise and gradients), so
    nothing but the tile can match.  A 1/4 tile is a quadrant of a 2x2 grid;
    a 1/2 tile is one half of a two-tile split along the long side.
    """
    h, w = image.shape[:2]
    canvas = np.empty_like(image)
    for c in range(3):  # unrelated texture: blurred noise at a random scale, plus a gradient
        layer = rng.normal(128, 60, (h, w)).astype(np.float32)
        smooth = cv2.GaussianBlur(layer, (0, 0), float(rng.uniform(2, 12)))
        ramp = np.linspace(-40, 40, w, dtype=np.float32)[None, :] * float(rng.uniform(-1, 1))
        canvas[..., c] = np.clip(smooth + ramp, 0, 255).astype(np.uint8)
    if share <= 0.25:
        tw, th = w // 2, h // 2
        x0, y0 = int(rng.integers(0, 2)) * tw, int(rng.integers(0, 2)) * th
    elif w >= h:
        tw, th, x0, y0 = w // 2, h, int(rng.integers(0, 2)) * (w // 2), 0
    else:
        tw, th, x0, y0 = w, h // 2, 0, int(rng.integers(0, 2)) * (h // 2)
    # The whole photo squeezed into the tile (aspect changes for a half tile: a collage app's "fill").
    canvas[y0 : y0 + th, x0 : x0 + tw] = cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA)
    return canvas


def _rotate_crop_gamma(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    angle = float(rng.choice([-1, 1])) * float(rng.uniform(4, 8))
    return gamma(crop(rotate(image, angle), rng, 0.25), float(rng.uniform(0.6, 1.5)))


def _blur_perspective(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    blurred = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(1.5, 3.0)) * max(image.shape[:2]) / 1000.0)
    return perspective(blurred, rng, 0.12)


def _signed(rng: np.random.Generator, degrees: float) -> float:
    return float(rng.choice([-1, 1])) * degrees


def _jpeg(image: np.ndarray, q: int) -> bytes:
    return encode(image, ".jpg", q)


def _rotation(degrees: float) -> Transform:
    return lambda img, rng: _jpeg(rotate(img, _signed(rng, degrees)), 90)


def _perspective(strength: float) -> Transform:
    return lambda img, rng: _jpeg(perspective(img, rng, strength), 90)


def _crop(percent: int) -> Transform:
    return lambda img, rng: _jpeg(crop(img, rng, percent / 100.0), 90)


def _quality(q: int) -> Transform:
    return lambda img, rng: _jpeg(img, q)


def _noise(sigma: float) -> Transform:
    return lambda img, rng: _jpeg(noise(img, rng, sigma), 90)


EDITS: dict[str, Transform] = {
    **{f"rotate_{d}": _rotation(d) for d in (5, 12, 20, 30)},
    **{f"perspective_{v}": _perspective(v) for v in (0.08, 0.15, 0.2)},
    **{f"crop_{p}": _crop(p) for p in (10, 20, 30)},
    **{f"jpeg_q{q}": _quality(q) for q in (30, 20, 10)},
    **{f"noise_{v}": _noise(v) for v in (8, 14, 20)},
    "mirror": lambda img, rng: _jpeg(cv2.flip(img, 1), 90),
    "perspective_noise_q30": lambda img, rng: _jpeg(noise(perspective(img, rng, 0.1), rng, 8), 30),
    "blur_perspective": lambda img, rng: _jpeg(_blur_perspective(img, rng), 85),
    "rotate_crop_gamma": lambda img, rng: _jpeg(_rotate_crop_gamma(img, rng), 88),
    "collage_quarter": lambda img, rng: _jpeg(collage(img, rng, 0.25), 88),
    "collage_half": lambda img, rng: _jpeg(collage(img, rng, 0.5), 88),
}
"""Edited copies: name -> edit (strength in the name)."""
