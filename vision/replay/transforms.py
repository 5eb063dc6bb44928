"""The ways a user can resubmit an old photo, as reproducible image transformations.

Used to build the replay evaluation set (``scripts/build_replay_set.py``)
and by the tests.  Every transformation takes a ``(H, W, 3)`` BGR uint8
photo and a ``numpy`` random generator, and returns the *encoded bytes* a
client would upload (the encoding is part of the replay).

Digital replays: re-encoding (JPEG, PNG, WebP), resizing, cropping up to
10 %, screenshots with borders and a status bar, rotation by 90-degree
steps, colour or brightness changes.  Screen re-photographs
(:func:`screen_photo`): the photo shown on a display with an RGB subpixel
grid, photographed at an angle (perspective), sampled by the camera without
anti-aliasing (moiré), with glare, defocus blur, sensor noise and a colour
cast.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

__all__ = ["DIGITAL", "SCREEN", "TRANSFORMS", "Transform", "encode", "resend", "screen_photo"]

Transform = Callable[[np.ndarray, np.random.Generator], bytes]


def encode(image: np.ndarray, ext: str = ".jpg", quality: int = 90) -> bytes:
    """Encode a BGR uint8 image (``.jpg``, ``.png`` or ``.webp``)."""
    params = {".jpg": [cv2.IMWRITE_JPEG_QUALITY, quality], ".webp": [cv2.IMWRITE_WEBP_QUALITY, quality]}
    ok, buf = cv2.imencode(ext, image, params.get(ext, []))
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        raise ValueError(f"cannot encode as {ext}")
    return buf.tobytes()


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _crop(image: np.ndarray, rng: np.random.Generator, fraction: float) -> np.ndarray:
    """Cut ``fraction`` of the width and of the height, split randomly between the two sides."""
    h, w = image.shape[:2]
    cut_x, cut_y = round(w * fraction), round(h * fraction)
    x0, y0 = int(rng.integers(0, cut_x + 1)), int(rng.integers(0, cut_y + 1))
    return image[y0 : h - (cut_y - y0), x0 : w - (cut_x - x0)]


def screenshot(image: np.ndarray, rng: np.random.Generator, *, phone: bool = True) -> np.ndarray:
    """The photo as a gallery/messenger screenshot: letterboxed on a screen with a status bar.

    Returns the screenshot (BGR uint8), ``1170x2532`` (phone, portrait) or
    ``1920x1080`` (desktop) scaled by 0.5 to keep the set small.
    """
    sw, sh = (585, 1266) if phone else (960, 540)
    background = int(rng.choice([0, 18, 245, 255]))
    canvas = np.full((sh, sw, 3), background, np.uint8)
    bar = 24 if phone else 16
    # Status bar and a toolbar: solid colour, text and icons.
    bar_colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    canvas[:bar] = bar_colour
    canvas[sh - 2 * bar :] = bar_colour[::-1]
    text_colour = (255, 255, 255) if sum(bar_colour) < 380 else (0, 0, 0)
    cv2.putText(canvas, "9:41", (8, bar - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, text_colour, 1, cv2.LINE_AA)
    cv2.rectangle(canvas, (sw - 40, 6), (sw - 12, bar - 6), text_colour, 1)
    avail_w, avail_h = sw - 2 * int(rng.integers(0, 12)), sh - 3 * bar - 2 * int(rng.integers(0, 12))
    h, w = image.shape[:2]
    scale = min(avail_w / w, avail_h / h)
    shown = _resize(image, scale)
    y0 = bar + (avail_h - shown.shape[0]) // 2
    x0 = (sw - shown.shape[1]) // 2
    canvas[y0 : y0 + shown.shape[0], x0 : x0 + shown.shape[1]] = shown
    return canvas


def _colour(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A mild edit: brightness/contrast, gamma, saturation and a warm or cool cast."""
    img = image.astype(np.float32) / 255.0
    gamma = float(rng.uniform(0.75, 1.3))
    img = np.power(img, gamma)
    gray = img.mean(axis=2, keepdims=True)
    img = gray + (img - gray) * float(rng.uniform(0.6, 1.5))  # saturation
    img = img * rng.uniform(0.9, 1.1, 3).astype(np.float32)  # cast
    img = (img - 0.5) * float(rng.uniform(0.8, 1.2)) + 0.5 + float(rng.uniform(-0.12, 0.12))
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _subpixel_screen(image: np.ndarray) -> np.ndarray:
    """The photo as a display's physical surface: each pixel three R, G, B stripes with dark gaps.

    ``(H, W, 3)`` -> ``(3H, 3W, 3)``.
    """
    big = np.repeat(np.repeat(image, 3, axis=0), 3, axis=1)
    mask = np.zeros((3, 3, 3), np.float32)
    for x, channel in enumerate((2, 1, 0)):  # BGR order: stripe x shows R, G, then B
        mask[:, x, channel] = 1.0
    mask[2, :, :] *= 0.35  # the black matrix between pixel rows
    tiled = np.tile(mask, (image.shape[0], image.shape[1], 1))
    return (big.astype(np.float32) * tiled * 1.6).clip(0, 255).astype(np.uint8)


def screen_photo(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Simulate photographing the photo shown on a screen.

    The photo fills a ``~640 px`` display (RGB subpixel stripes), which is
    projected into a ``1280x960`` camera frame with a random perspective
    (the screen covering 55-90 % of the frame width), sampled without
    anti-aliasing (moiré), then gets glare, a colour cast, defocus blur,
    sensor noise and JPEG compression.
    """
    h, w = image.shape[:2]
    shown = _resize(image, 640 / max(h, w))
    surface = _subpixel_screen(shown)
    sh, sw = surface.shape[:2]
    cam_w, cam_h = 1280, 960
    if sh > sw:
        cam_w, cam_h = cam_h, cam_w
    cover = float(rng.uniform(0.55, 0.9))
    scale = cover * min(cam_w / sw, cam_h / sh)
    cx = cam_w / 2 + float(rng.uniform(-0.05, 0.05)) * cam_w
    cy = cam_h / 2 + float(rng.uniform(-0.05, 0.05)) * cam_h
    half = np.array([[-sw, -sh], [sw, -sh], [sw, sh], [-sw, sh]], np.float32) * scale / 2
    jitter = rng.uniform(-0.08, 0.08, (4, 2)).astype(np.float32) * np.array([sw, sh], np.float32) * scale
    dst = half + jitter + np.array([cx, cy], np.float32)
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32)
    H = cv2.getPerspectiveTransform(src, dst)
    # A dark room / desk behind the screen, and a bezel around it.
    frame = np.full((cam_h, cam_w, 3), rng.integers(20, 90, 3), np.uint8)
    bezel = cv2.getPerspectiveTransform(src, dst + (dst - dst.mean(0)) * 0.04)
    cv2.fillConvexPoly(frame, np.round(cv2.perspectiveTransform(src[None], bezel)[0]).astype(np.int32), (12, 12, 12))
    # INTER_LINEAR without prefiltering: the subpixel grid aliases into moiré.
    warped = cv2.warpPerspective(surface, H, (cam_w, cam_h), flags=cv2.INTER_LINEAR)
    inside = cv2.warpPerspective(np.full((sh, sw), 255, np.uint8), H, (cam_w, cam_h), flags=cv2.INTER_NEAREST) > 0
    frame[inside] = warped[inside]
    img = frame.astype(np.float32)
    # Glare: a soft bright ellipse somewhere on the screen.
    gy, gx = np.mgrid[0:cam_h, 0:cam_w].astype(np.float32)
    px, py = float(rng.uniform(0.2, 0.8)) * cam_w, float(rng.uniform(0.2, 0.8)) * cam_h
    sx, sy = float(rng.uniform(0.05, 0.2)) * cam_w, float(rng.uniform(0.05, 0.2)) * cam_h
    glare = np.exp(-(((gx - px) / sx) ** 2 + ((gy - py) / sy) ** 2) / 2) * float(rng.uniform(40, 140))
    img = img + glare[..., None].astype(np.float32)
    img = img * np.array([1.08, 1.0, 0.92], np.float32) * float(rng.uniform(0.8, 1.1))  # cool display
    sigma = float(rng.uniform(0.6, 1.6))
    img = cv2.GaussianBlur(img, (0, 0), sigma).astype(np.float32)
    img = img + rng.normal(0, float(rng.uniform(2, 6)), img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _jpeg(q: int) -> Transform:
    return lambda img, rng: encode(img, ".jpg", q)


DIGITAL: dict[str, Transform] = {
    "jpeg_q50": _jpeg(50),
    "jpeg_q75": _jpeg(75),
    "jpeg_q95": _jpeg(95),
    "png": lambda img, rng: encode(img, ".png"),
    "webp": lambda img, rng: encode(img, ".webp", 80),
    "resize_50": lambda img, rng: encode(_resize(img, 0.5), ".jpg", 85),
    "resize_small": lambda img, rng: encode(_resize(img, 480 / max(img.shape[:2])), ".jpg", 85),
    "crop_5": lambda img, rng: encode(_crop(img, rng, 0.05), ".jpg", 90),
    "crop_10": lambda img, rng: encode(_crop(img, rng, 0.10), ".jpg", 90),
    "screenshot_phone": lambda img, rng: encode(screenshot(img, rng, phone=True), ".png"),
    "screenshot_desktop": lambda img, rng: encode(screenshot(img, rng, phone=False), ".jpg", 80),
    "rot90": lambda img, rng: encode(cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE), ".jpg", 90),
    "rot180": lambda img, rng: encode(cv2.rotate(img, cv2.ROTATE_180), ".jpg", 90),
    "rot270": lambda img, rng: encode(cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE), ".jpg", 90),
    "colour": lambda img, rng: encode(_colour(img, rng), ".jpg", 85),
    "crop_colour_rot": lambda img, rng: encode(
        cv2.rotate(_colour(_crop(img, rng, 0.08), rng), cv2.ROTATE_90_CLOCKWISE), ".webp", 75
    ),
}
"""Digital replays: name -> transformation."""

SCREEN: dict[str, Transform] = {"screen_photo": lambda img, rng: encode(screen_photo(img, rng), ".jpg", 88)}
"""Photographs of the photo shown on a screen."""

TRANSFORMS: dict[str, Transform] = {**DIGITAL, **SCREEN}


def resend(data: bytes, how: str, seed: int = 0) -> bytes:
    """``data`` (an encoded photo) sent again by the transformation ``how`` (a :data:`TRANSFORMS` name).

    The Demo page's "sent again" example: the reference itself, re-saved the
    way a user would resubmit it.  Raises ``ValueError`` for an unknown
    ``how`` or bytes that do not decode.
    """
    if how not in TRANSFORMS:
        raise ValueError(f"unknown resubmission {how[:40]!r}; one of {sorted(TRANSFORMS)}")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("the photo does not decode")
    return TRANSFORMS[how](image, np.random.default_rng(seed))
