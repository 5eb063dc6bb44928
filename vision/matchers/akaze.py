"""AKAZE keypoints and binary descriptors at a fixed working resolution.

Features are computed on the photo shrunk so its long side is at most
``FeatureSettings.working_side`` pixels.  That makes the keypoint threshold
(80 in the original note) mean the same for any phone photo larger than that (small photos are
never upscaled: interpolation would invent keypoints), and bounds the cost of every later step.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from vision.image.imageio import DEFAULT_LIMITS, DecodeLimits, ImageHeader, decode_image
from vision.matchers.keypoints import LearnedKeypoints
from vision.matchers.xfeat import XFeatFeatures

FEATURES_FORMAT_VERSION = 1
DESCRIPTOR_BYTES = 61  # AKAZE's default MLDB descriptor: 486 bits


@dataclass(frozen=True)
class FeatureSettings:
    """The settings that change the features themselves (the expensive step).

    Parameters
    ----------
    working_side : int
        Long side, in pixels, of the image the features are computed on.
    max_keypoints : int
        Strongest keypoints kept (by detector response); the keypoint count
        is reported up to this number.
    akaze_threshold : float
        AKAZE detector response threshold (OpenCV default 0.001).
    """

    working_side: int = 1000
    max_keypoints: int = 2000
    akaze_threshold: float = 0.001

    def __post_init__(self) -> None:
        if not 64 <= self.working_side <= 8192:
            raise ValueError(f"working_side must be in [64, 8192], got {self.working_side}")
        if self.max_keypoints < 10:
            raise ValueError(f"max_keypoints must be >= 10, got {self.max_keypoints}")
        if not 0 < self.akaze_threshold < 1:
            raise ValueError(f"akaze_threshold must be in (0, 1), got {self.akaze_threshold}")


@dataclass(frozen=True)
class Features:
    """Keypoints and descriptors of one image at working resolution.

    Attributes
    ----------
    points : np.ndarray
        ``(N, 2)`` float32 keypoint positions in working-image pixels.
    attributes : np.ndarray
        ``(N, 4)`` float32: size, angle, response, octave (for drawing).
    descriptors : np.ndarray
        ``(N, 61)`` uint8 binary AKAZE descriptors (compare with Hamming).
    image_size : tuple[int, int]
        ``(width, height)`` of the working image.
    n_detected : int
        Keypoints found, counted up to ``max_keypoints`` (AKAZE stops there).
    settings : FeatureSettings
        What produced them; stored features with other settings are stale.
    embedding : np.ndarray or None
        Optional global descriptor of the whole image (L2-normalised).
    xfeat : XFeatFeatures or None
        Optional XFeat keypoints (working-image pixels) and float16
        descriptors, for the learned rule.
    aliked : LearnedKeypoints or None
        Optional ALIKED keypoints (working-image pixels) and float16
        descriptors: the learned rule's second opinion, stored with a reference
        so a verification extracts them for the new photo only.
    """

    points: np.ndarray
    attributes: np.ndarray
    descriptors: np.ndarray
    image_size: tuple[int, int]
    n_detected: int
    settings: FeatureSettings = field(default_factory=FeatureSettings)
    embedding: np.ndarray | None = None
    xfeat: XFeatFeatures | None = None
    aliked: LearnedKeypoints | None = None

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def keypoints(self) -> list[cv2.KeyPoint]:
        """The keypoints as ``cv2.KeyPoint`` objects, for OpenCV's drawing."""
        return [
            cv2.KeyPoint(float(x), float(y), float(s), float(a), float(r), int(o))
            for (x, y), (s, a, r, o) in zip(self.points, self.attributes, strict=True)
        ]


def working_image(image: np.ndarray, working_side: int) -> np.ndarray:
    """Shrink ``image`` (``(H, W)`` or ``(H, W, C)``) so its long side is at most ``working_side``.

    Downscaling uses area interpolation (no aliasing).  A smaller image is
    returned unchanged: upscaling a 217x232 photo invents no detail but lets
    AKAZE find thousands of keypoints on interpolation edges, which made the
    register flow's keypoint minimum meaningless for small photos.  Images
    already within 1 % of ``working_side`` are returned unchanged too.
    """
    h, w = image.shape[:2]
    scale = working_side / max(h, w)
    # Within 1 % (a JPEG decoded at 1/4 scale: 1008 px for 1000) the resize
    # would cost 4 ms and change nothing the thresholds can tell.
    if scale > 0.99:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def to_gray(image: np.ndarray) -> np.ndarray:
    """BGR or gray uint8 -> gray uint8."""
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def empty_features(image_size: tuple[int, int], settings: FeatureSettings) -> Features:
    """The explicit result for an image without any keypoint."""
    return Features(
        points=np.zeros((0, 2), np.float32),
        attributes=np.zeros((0, 4), np.float32),
        descriptors=np.zeros((0, DESCRIPTOR_BYTES), np.uint8),
        image_size=image_size,
        n_detected=0,
        settings=settings,
    )


def extract_features(working: np.ndarray, settings: FeatureSettings = FeatureSettings()) -> Features:
    """Detect AKAZE keypoints and compute descriptors on a working-resolution image.

    Parameters
    ----------
    working : np.ndarray
        ``(H, W)`` gray or ``(H, W, 3)`` BGR uint8, already at working
        resolution (see :func:`working_image`).
    settings : FeatureSettings

    Returns
    -------
    Features
        Possibly empty (blank or tiny images); never ``None`` descriptors.
    """
    if working.dtype != np.uint8 or working.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 gray or BGR image, got {working.dtype} {working.shape}")
    gray = to_gray(working)
    size = (int(gray.shape[1]), int(gray.shape[0]))
    # max_points keeps the strongest keypoints *before* descriptors are
    # computed, which saves a third of the time on textured photos.
    detector = cv2.AKAZE.create(threshold=settings.akaze_threshold, max_points=settings.max_keypoints)
    keypoints, descriptors = detector.detectAndCompute(gray, None)
    if not keypoints or descriptors is None:
        return empty_features(size, settings)
    order = np.argsort([-kp.response for kp in keypoints], kind="stable")[: settings.max_keypoints]
    kept = [keypoints[i] for i in order]
    return Features(
        points=np.array([kp.pt for kp in kept], np.float32).reshape(-1, 2),
        attributes=np.array([(kp.size, kp.angle, kp.response, kp.octave) for kp in kept], np.float32),
        descriptors=np.ascontiguousarray(descriptors[order]),
        image_size=size,
        n_detected=len(keypoints),
        settings=settings,
    )


def features_to_bytes(features: Features) -> bytes:
    """Serialise to a compressed ``.npz`` blob (stored beside a reference)."""
    arrays = {
        "points": features.points,
        "attributes": features.attributes,
        "descriptors": features.descriptors,
        "header": np.array([FEATURES_FORMAT_VERSION, *features.image_size, features.n_detected], np.int64),
        "settings": np.array(list(asdict(features.settings).values()), np.float64),
    }
    if features.embedding is not None:
        arrays["embedding"] = features.embedding.astype(np.float32)
    for prefix, found in (("xfeat", features.xfeat), ("aliked", features.aliked)):
        if found is not None:
            arrays[f"{prefix}_keypoints"] = found.keypoints.astype(np.float32)
            arrays[f"{prefix}_scores"] = found.scores.astype(np.float32)
            arrays[f"{prefix}_descriptors"] = found.descriptors.astype(np.float16)
            arrays[f"{prefix}_size"] = np.array(found.image_size, np.int64)
    buf = io.BytesIO()
    np.savez_compressed(buf, allow_pickle=False, **arrays)
    return buf.getvalue()


def features_from_bytes(blob: bytes) -> Features:
    """Inverse of :func:`features_to_bytes`; ``ValueError`` for anything else."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            version, width, height, n_detected = (int(v) for v in npz["header"])
            side, max_kp, thr = (float(v) for v in npz["settings"])
            embedding = npz["embedding"] if "embedding" in npz.files else None
            xfeat = _learned_from(npz, "xfeat", 64, "XFeat")
            aliked = _learned_from(npz, "aliked", 128, "ALIKED")
            features = Features(
                points=npz["points"].astype(np.float32),
                attributes=npz["attributes"].astype(np.float32),
                descriptors=npz["descriptors"].astype(np.uint8),
                image_size=(width, height),
                n_detected=n_detected,
                settings=FeatureSettings(int(side), int(max_kp), thr),
                embedding=embedding,
                xfeat=xfeat,
                aliked=aliked,
            )
    except Exception as exc:  # corrupt zip, missing array, wrong shape ...
        raise ValueError(f"not a features blob: {exc}") from None
    if version != FEATURES_FORMAT_VERSION:
        raise ValueError(f"features blob version {version}, expected {FEATURES_FORMAT_VERSION}")
    return features


def _learned_from(npz: np.lib.npyio.NpzFile, prefix: str, dim: int, name: str) -> LearnedKeypoints | None:
    """A learned detector's arrays (``prefix``: xfeat, aliked) of a features blob; None in blobs stored without them."""
    if f"{prefix}_keypoints" not in npz.files:
        return None
    keypoints = npz[f"{prefix}_keypoints"].astype(np.float32).reshape(-1, 2)
    descriptors = npz[f"{prefix}_descriptors"].astype(np.float16)
    scores = npz[f"{prefix}_scores"].astype(np.float32)
    if descriptors.shape != (len(keypoints), dim) or scores.shape != (len(keypoints),):
        raise ValueError(f"{name} arrays disagree: {keypoints.shape}, {descriptors.shape}, {scores.shape}")
    width, height = (int(v) for v in npz[f"{prefix}_size"])
    return LearnedKeypoints(keypoints, scores, descriptors, (width, height))


def decode_working(
    data: bytes, settings: FeatureSettings = FeatureSettings(), limits: DecodeLimits = DEFAULT_LIMITS
) -> tuple[np.ndarray, ImageHeader]:
    """Decode ``data`` upright and resize it to the working resolution (BGR uint8)."""
    decoded = decode_image(data, max_side=settings.working_side, limits=limits)
    return working_image(decoded.bgr, settings.working_side), decoded.header
