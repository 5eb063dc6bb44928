"""Probe (not a rule): can a fresh-capture cue separate fixed-camera re-shots from digital replays?

The replay check's thumbnail stage flags a genuine photo re-shot from a fixed
camera (Oxford ``leuven`` = exposure series, ``bikes`` = focus series) as a
digital copy of the reference.  This probe measures a candidate second stage:
align the reference onto the query at working resolution (the verification's
homography), reduce both to the query's *native* resolution (an upscaled small
upload has no fine band of its own), fit a global cubic tone curve plus a
blur (least squares over Gaussian bases) predicting the query from the
reference, and report the residual's fine-band energy relative to the
query's own (``rho``): a digital copy should leave only compression loss, a
new capture fresh noise.

    python -m scripts.probe_fresh_capture ../shared/data

Prints ``rho`` for the fixed-camera pairs (both directions), per digital
transformation (of ~18 references, every scene), and a threshold sweep.
Result (2026-11-30): the two classes overlap (see /work/notes/tripod.md).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from vision.flows.prepare import PreparedPhoto, prepare_photo
from vision.image.imageio import decode_image
from vision.profile import Profile
from vision.replay.transforms import DIGITAL
from vision.rules.evidence import evaluate_match, match_features

FIXED_CAMERA_KINDS = ("blur", "light")
SOURCE_SIDE = 2000  # as scripts/build_replay_set.py


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)


def _fine(x: np.ndarray) -> np.ndarray:
    """Finest band: the image minus its Gaussian blur (sigma 1 px)."""
    return x - cv2.GaussianBlur(x, (0, 0), 1.0)


def residual_ratio(ref: PreparedPhoto, query: PreparedPhoto, H: np.ndarray) -> float:
    """Fine-band std of (query - best tone+blur prediction from the aligned reference) / fine-band std of the query.

    ``H`` maps reference working pixels to query working pixels.  Both are
    compared at the query's native resolution (at most its working size).
    """
    q = _gray(query.image)
    h, w = q.shape
    g = _gray(ref.image)
    scale = float(np.sqrt(abs(np.linalg.det(H[:2, :2] / H[2, 2]))))
    if scale < 0.9:  # shrinking: low-pass first so the warp does not alias
        g = cv2.GaussianBlur(g, (0, 0), 0.5 * np.sqrt(1 / scale**2 - 1))
    r = cv2.warpPerspective(g, H, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    cover = cv2.warpPerspective(np.full(g.shape, 255, np.uint8), H, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    valid = cv2.erode(cover, np.ones((9, 9), np.uint8)) > 0
    native = min(1.0, max(query.header.upright_size) / max(h, w))
    if native < 0.99:
        size = (max(8, round(w * native)), max(8, round(h * native)))
        q, r = (cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (q, r))
        valid = cv2.resize(valid.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    valid &= (q > 3) & (q < 252) & (r > 3) & (r < 252)  # clipped pixels follow no tone curve
    if valid.sum() < 400:
        return float("nan")
    tone = [np.ones_like(r), r / 255, (r / 255) ** 2, (r / 255) ** 3]
    c, *_ = np.linalg.lstsq(np.stack([b[valid] for b in tone], 1), q[valid], rcond=None)
    t = sum((ci * b for ci, b in zip(c, tone, strict=True)), np.zeros_like(r))
    blur = [t, *(cv2.GaussianBlur(t, (0, 0), s) for s in (0.7, 1.4, 2.8)), np.ones_like(t)]
    k, *_ = np.linalg.lstsq(np.stack([b[valid] for b in blur], 1), q[valid], rcond=None)
    predicted = sum((ki * b for ki, b in zip(k, blur, strict=True)), np.zeros_like(t))
    return float(np.std(_fine(q - predicted)[valid]) / (np.std(_fine(q)[valid]) + 1e-6))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--refs", type=int, default=12, help="references sampled for digital replays (+ Oxford)")
    args = parser.parse_args(argv)
    profile = Profile()
    settings = profile.feature_settings
    with open(args.data_dir / "pairs.csv", newline="") as handle:
        pairs = [r for r in csv.DictReader(handle) if r["label"] == "1"]

    def rho(ref: PreparedPhoto, query: PreparedPhoto) -> float:
        evidence = evaluate_match(match_features(ref.features, query.features), profile)
        return float("nan") if evidence.H is None else residual_ratio(ref, query, np.asarray(evidence.H, np.float64))

    prepared: dict[str, PreparedPhoto] = {}

    def prep(rel: str) -> PreparedPhoto:
        if rel not in prepared:
            prepared[rel] = prepare_photo((args.data_dir / rel).read_bytes(), settings)
        return prepared[rel]

    fixed: list[float] = []
    for p in pairs:
        if p["kind"] in FIXED_CAMERA_KINDS:
            for a, b in ((p["ref"], p["query"]), (p["query"], p["ref"])):
                fixed.append(rho(prep(a), prep(b)))
                print(f"fixed camera {a} -> {b}: rho {fixed[-1]:.3f}")
    refs = sorted({p["ref"] for p in pairs})
    chosen = refs[:: max(1, len(refs) // args.refs)]
    chosen += [p["ref"] for p in pairs if p["kind"] in FIXED_CAMERA_KINDS]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for ref in dict.fromkeys(chosen):
        seed = int(hashlib.sha1(ref.encode()).hexdigest()[:8], 16)
        source = decode_image((args.data_dir / ref).read_bytes(), max_side=SOURCE_SIDE).bgr
        for name, fn in DIGITAL.items():
            data = fn(source, np.random.default_rng([seed, 0, len(name)]))
            by_kind[name].append(rho(prep(ref), prepare_photo(data, settings)))
    for name, values in by_kind.items():
        print(f"digital {name:20s} n={len(values):3d} median {np.nanmedian(values):.3f} max {np.nanmax(values):.3f}")
    digital = np.array([v for values in by_kind.values() for v in values])
    tripod = np.array(fixed)
    print(f"fixed camera: min {np.nanmin(tripod):.3f} max {np.nanmax(tripod):.3f} (n={len(tripod)})")
    for tau in (0.40, 0.45, 0.50, 0.55, 0.60):
        caught = np.mean(digital < tau)
        print(
            f"fresh if rho >= {tau:.2f}: digital still caught {caught:.1%}, fixed-camera still flagged "
            f"{int(np.sum(tripod < tau))}/{len(tripod)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
