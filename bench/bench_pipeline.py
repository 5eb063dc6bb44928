"""Register / verify latency on a 12-megapixel JPEG pair, against the original note's pipeline.

Makes a 4032x3024 JPEG pair (a phone photo's size) from two bundled views of
the same building, then prints medians of repeated runs:

* register: decode (reduced) + features + decision;
* verify: the new photo's decode + features + kNN + MAGSAC + decision, the
  reference's features being cached (as the store keeps them);
* the original note's verify at full resolution (both images decoded, AKAZE
  on 12 MP, BFMatcher L2, RANSAC), which is what it did per request.

Usage: ``python -m bench.bench_pipeline [--runs 15] [--original-runs 3]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2

from vision.flows.prepare import prepare_photo, register_photo
from vision.flows.verify import verify_photo
from vision.image.imageio import decode_image
from vision.profile import Profile
from vision.rules.evidence import decide_original
from vision.rules.original_evidence import original_evidence

ROOT = Path(__file__).resolve().parents[1]

VIEWS = ("samples/images/lightglue/DSC_0410.JPG", "samples/images/lightglue/DSC_0411.JPG")
PHONE_SIZE = (4032, 3024)


def phone_jpeg(path: Path) -> bytes:
    """The view centre-cropped to 4:3 and resized to 4032x3024, JPEG quality 90."""
    image = cv2.imread(str(path))
    h, w = image.shape[:2]
    crop_w = min(w, h * 4 // 3)
    x0 = (w - crop_w) // 2
    image = cv2.resize(image[:, x0 : x0 + crop_w], PHONE_SIZE, interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def median_ms(fn, runs: int) -> tuple[float, object]:
    fn()  # warm-up: first-call allocations and lazy initialisation
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--original-runs", type=int, default=3, help="0 skips the (minute-long) original")
    args = parser.parse_args()

    ref_bytes, query_bytes = (phone_jpeg(ROOT / p) for p in VIEWS)
    thresholds = Profile(rule="robust")  # bench_fusion.py measures what the fused rule adds
    ref_features = prepare_photo(ref_bytes, thresholds.feature_settings).features

    register_ms, (reg_verdict, _) = median_ms(lambda: register_photo(ref_bytes, thresholds), args.runs)
    verify_ms, result = median_ms(lambda: verify_photo(ref_features, query_bytes, thresholds), args.runs)

    def original() -> object:
        ref, query = decode_image(ref_bytes).bgr, decode_image(query_bytes).bgr
        return decide_original(original_evidence(ref, query), thresholds)

    original_ms, orig_verdict = median_ms(original, args.original_runs) if args.original_runs else (None, None)
    print(
        f"photo pair: {PHONE_SIZE[0]}x{PHONE_SIZE[1]} JPEG, {len(ref_bytes) / 1e6:.1f} MB + {len(query_bytes) / 1e6:.1f} MB; "
        f"cv2 threads {cv2.getNumThreads()}"
    )
    print(f"register (decode+features+decision)     median {register_ms:8.1f} ms  -> {reg_verdict.message}")
    print(
        f"verify   (reference features cached)    median {verify_ms:8.1f} ms  -> {result.verdict.message} "
        f"({result.evidence.n_inliers} inliers)"
    )
    stages = ", ".join(f"{k} {v:.0f}" for k, v in result.timings.items())
    print(f"         last run's stages (ms): {stages}")
    if original_ms is not None:
        print(f"original note's verify, full resolution median {original_ms:8.1f} ms  -> {orig_verdict.message}")
        print(f"speed-up verify vs original: {original_ms / verify_ms:.1f}x")


if __name__ == "__main__":
    main()
