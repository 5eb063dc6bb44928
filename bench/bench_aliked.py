"""ONNX cost of ALIKED (``aliked-n16rot``) per photo and of LightGlue per pair, on this CPU.

Photos: bundled samples decoded and resized to ``--side`` px long side (the
network's input, so the decode and the resize are not counted; ``vision.matchers.aliked.extract``
adds an area resize of a few ms).  LightGlue runs on the features of a
genuine pair (DSC_0410 / DSC_0411) with ``--keypoints`` a side.

Prints the median and the 95th percentile of ``--runs`` runs after one warm-up
each (the first run builds the onnxruntime session).

Usage: ``python bench/bench_aliked.py [--runs 15] [--side 640] [--keypoints 1024]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from vision.matchers import aliked, lightglue_aliked

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = (
    "samples/images/lightglue/DSC_0410.JPG",
    "samples/images/lightglue/DSC_0411.JPG",
    "samples/images/lines/terrace0.JPG",
    "samples/images/sacre_coeur/02928139_3448003521.jpg",
)


def network_input(path: Path, side: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB, long side ``side``, sides multiples of 32 (what :func:`aliked.detect` takes)."""
    bgr = cv2.imread(str(path))
    w, h = aliked.network_size(bgr.shape[1], bgr.shape[0], side)
    return cv2.cvtColor(cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def timed(fn, runs: int) -> list[float]:
    """Milliseconds of ``runs`` calls of ``fn`` after one warm-up call."""
    fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def report(name: str, ms: list[float]) -> None:
    print(f"{name}: median {np.median(ms):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms ({len(ms)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--side", type=int, default=aliked.ALIKED_SIDE)
    parser.add_argument("--keypoints", type=int, default=aliked.MAX_KEYPOINTS)
    args = parser.parse_args()
    print(f"ALIKED at {args.side} px long side, <= {args.keypoints} keypoints; cv2 threads {cv2.getNumThreads()}")
    per_photo: list[float] = []
    for rel in PHOTOS:
        rgb = network_input(ROOT / rel, args.side)
        ms = timed(lambda rgb=rgb: aliked.detect(rgb, args.keypoints), args.runs)
        report(f"  ALIKED {Path(rel).name} {rgb.shape[1]}x{rgb.shape[0]}", ms)
        per_photo += ms
    report("ALIKED per photo, all photos", per_photo)
    f0, f1 = (aliked.detect(network_input(ROOT / rel, args.side), args.keypoints) for rel in PHOTOS[:2])
    ms = timed(lambda: lightglue_aliked.match(f0, f1), args.runs)
    report(f"LightGlue {len(f0)} x {len(f1)} keypoints", ms)
    print(f"  matches: {len(lightglue_aliked.match(f0, f1))}")


if __name__ == "__main__":
    main()
