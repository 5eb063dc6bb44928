"""Register / verify latency of the learned rule on 12-megapixel JPEGs, beside the robust and fused rules.

Pairs (4032x3024 JPEGs made from bundled photos, as bench_pipeline.py does):

* same: DSC_0410 -> DSC_0411 (AKAZE is conclusive: XFeat is skipped);
* different: DSC_0410 -> terrace0 (AKAZE finds nothing: XFeat + LighterGlue run);

then, with ``--data``, every pair of a labelled folder verified against its
reference's stored features (median and 95th percentile; the folder's photos
are at most 1600 px, so this measures the matching more than the decode).

Usage: ``python bench/bench_learned.py [--runs 15] [--data ../shared/data]``
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from bench.bench_pipeline import PHONE_SIZE, median_ms, phone_jpeg
from vision.flows.prepare import prepare_photo, register_photo
from vision.flows.verify import verify_photo
from vision.profile import Profile
from vision.rules.base import Needs

ROOT = Path(__file__).resolve().parents[1]
REF = "samples/images/lightglue/DSC_0410.JPG"
SAME = "samples/images/lightglue/DSC_0411.JPG"
OTHER = "samples/images/lines/terrace0.JPG"


def over_folder(data: Path, profile: Profile) -> list[float]:
    """Verify milliseconds of every pair of ``data`` against stored reference features."""
    rows = list(csv.DictReader((data / "pairs.csv").open()))
    refs = {}
    times = []
    for row in rows:
        if row["ref"] not in refs:
            refs[row["ref"]] = prepare_photo(
                (data / row["ref"]).read_bytes(), profile.feature_settings, needs=Needs(embedding=True, xfeat=True)
            ).features
        query = (data / row["query"]).read_bytes()
        start = time.perf_counter()
        verify_photo(refs[row["ref"]], query, profile)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--data", type=Path, help="also verify every pair of this labelled folder")
    args = parser.parse_args()
    ref_bytes, same_bytes, other_bytes = (phone_jpeg(ROOT / p) for p in (REF, SAME, OTHER))
    learned = Profile()
    print(f"12-MP pairs {PHONE_SIZE[0]}x{PHONE_SIZE[1]}; cv2 threads {cv2.getNumThreads()}; runs {args.runs}")
    for rule in ("robust", "fused", "learned"):
        profile = replace(learned, rule=rule)
        ms, (verdict, _) = median_ms(lambda p=profile: register_photo(ref_bytes, p), args.runs)
        print(f"register {rule:8s}                  median {ms:7.1f} ms -> {verdict.message}")
    ref = prepare_photo(ref_bytes, learned.feature_settings, needs=Needs(embedding=True, xfeat=True)).features
    for rule in ("robust", "fused", "learned"):
        profile = replace(learned, rule=rule)
        for name, query in (("same", same_bytes), ("different", other_bytes)):
            ms, result = median_ms(lambda p=profile, q=query: verify_photo(ref, q, p), args.runs)
            stages = ", ".join(f"{k} {v:.0f}" for k, v in result.timings.items())
            print(f"verify   {rule:8s} {name:9s}        median {ms:7.1f} ms -> {result.verdict.message} ({stages})")
    if args.data:
        times = np.array(over_folder(args.data, learned))
        print(
            f"verify learned over {args.data} ({len(times)} pairs): median {np.median(times):.1f} ms, "
            f"p95 {np.percentile(times, 95):.1f} ms, max {times.max():.1f} ms"
        )


if __name__ == "__main__":
    main()
