"""Latency the fused rule adds to a verification, on the 12-megapixel pair of ``bench_pipeline.py``.

Prints medians of repeated runs (the reference's features, and under the
fused rule its stored global descriptor, are cached as the store keeps them):

* verify with the robust rule;
* verify with the fused rule (adds the new photo's global descriptor:
  EfficientNet-Lite0 on onnxruntime, one thread);
* the descriptor alone, on the working-resolution image;
* register with each rule (the fused rule also computes the reference's descriptor, once).

The ONNX session is loaded before timing (a server loads it once); its load
time is printed separately.  Runs alternate between the rules so that load
from other processes hits both alike.

Usage: ``python -m bench.bench_fusion [--runs 15]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

from bench.bench_pipeline import PHONE_SIZE, VIEWS, phone_jpeg
from vision.flows.prepare import prepare_photo, register_photo
from vision.flows.verify import verify_photo
from vision.matchers.descriptor import global_embedding
from vision.profile import Profile
from vision.rules.base import Needs

ROOT = Path(__file__).resolve().parents[1]


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    ref_bytes, query_bytes = (phone_jpeg(ROOT / p) for p in VIEWS)
    fused = replace(Profile(), rule="fused")
    robust = replace(Profile(), rule="robust")

    load_ms, ref = timed(
        lambda: prepare_photo(ref_bytes, fused.feature_settings, needs=Needs(embedding=True))
    )  # loads the model
    ref_features = ref.features
    query_image = prepare_photo(query_bytes, fused.feature_settings).image
    counter = [0]

    def fresh():
        """The query image with one pixel changed: defeats the tagger's last-image cache."""
        counter[0] += 1
        image = query_image.copy()
        image[0, 0, 0] = counter[0] % 256
        return image

    cases = {
        "verify robust": lambda: verify_photo(ref_features, query_bytes, robust),
        "verify fused": lambda: verify_photo(ref_features, query_bytes, fused),
        "descriptor alone": lambda: global_embedding(fresh()),
        "register robust": lambda: register_photo(ref_bytes, robust),
        "register fused": lambda: register_photo(ref_bytes, fused),
    }
    for fn in cases.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    last: dict[str, object] = {}
    for _ in range(args.runs):  # interleaved, so background load hits every case alike
        for name, fn in cases.items():
            ms, last[name] = timed(fn)
            times[name].append(ms)
    med = {name: statistics.median(ts) for name, ts in times.items()}

    print(
        f"photo pair: {PHONE_SIZE[0]}x{PHONE_SIZE[1]} JPEG; {args.runs} interleaved runs; "
        f"first reference prepare incl. model load {load_ms:.0f} ms"
    )
    for name in cases:
        ts = sorted(times[name])
        print(f"{name:18s} median {med[name]:7.1f} ms  (min {ts[0]:6.1f}, max {ts[-1]:6.1f})")
    fused_result, robust_result = last["verify fused"], last["verify robust"]
    print(
        f"verify adds with the fusion: {med['verify fused'] - med['verify robust']:+.1f} ms median "
        f"({(med['verify fused'] / med['verify robust'] - 1) * 100:+.0f}%); "
        f"the 'embedding' stage itself: {fused_result.timings.get('embedding', float('nan')):.1f} ms in the last run"
    )
    print(f"register adds: {med['register fused'] - med['register robust']:+.1f} ms median (once per reference)")
    print(
        f"verdicts: robust {robust_result.verdict.message} ({robust_result.evidence.n_inliers} inliers); "
        f"fused {fused_result.verdict.message} (similarity {fused_result.similarity:.3f}, "
        f"{fused_result.verdict.extra['decided_by']})"
    )


if __name__ == "__main__":
    main()
