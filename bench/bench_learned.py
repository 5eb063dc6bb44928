"""Register / verify latency of the learned rule on 12-megapixel JPEGs, beside the robust and fused rules.

Pairs (4032x3024 JPEGs made from bundled photos, as bench_pipeline.py does):

* same: DSC_0410 -> DSC_0411 (AKAZE is conclusive: XFeat is skipped);
* different: DSC_0410 -> terrace0 (AKAZE finds nothing: XFeat + LighterGlue run);
* grey: sacre_coeur1 -> sacre_coeur2 (a real night photo: AKAZE and XFeat find
  nothing, the similarity puts it in the grey zone, ALIKED + LightGlue decide;
  median and 95th percentile);

then, with ``--data``, every pair of a labelled folder verified against its
reference's stored features (median and 95th percentile, apart for the pairs
where the second opinion ran, and their share; the folder's photos are at most
1600 px, so this measures the matching more than the decode).

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
NIGHT_REF = "samples/images/lightglue/sacre_coeur1.jpg"
NIGHT = "samples/images/lightglue/sacre_coeur2.jpg"
STORED = Needs(embedding=True, xfeat=True, aliked=True)
"""What a learned-rule registration stores (the second opinion's ALIKED included)."""


def percentiles(times: list[float]) -> str:
    a = np.asarray(times)
    return f"median {np.median(a):7.1f} ms, p95 {np.percentile(a, 95):7.1f} ms"


def over_folder(data: Path, profile: Profile) -> tuple[list[float], list[float]]:
    """Verify milliseconds of every pair of ``data`` against stored reference features.

    Returns the pairs without a second opinion and those where it ran, apart.
    """
    rows = list(csv.DictReader((data / "pairs.csv").open()))
    refs = {}
    plain: list[float] = []
    second: list[float] = []
    for row in rows:
        if row["ref"] not in refs:
            refs[row["ref"]] = prepare_photo(
                (data / row["ref"]).read_bytes(), profile.feature_settings, needs=STORED
            ).features
        query = (data / row["query"]).read_bytes()
        start = time.perf_counter()
        result = verify_photo(refs[row["ref"]], query, profile)
        ms = (time.perf_counter() - start) * 1000
        (second if "second_opinion" in result.verdict.extra else plain).append(ms)
    return plain, second


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
    ref = prepare_photo(ref_bytes, learned.feature_settings, needs=STORED).features
    for rule in ("robust", "fused", "learned"):
        profile = replace(learned, rule=rule)
        for name, query in (("same", same_bytes), ("different", other_bytes)):
            ms, result = median_ms(lambda p=profile, q=query: verify_photo(ref, q, p), args.runs)
            stages = ", ".join(f"{k} {v:.0f}" for k, v in result.timings.items())
            print(f"verify   {rule:8s} {name:9s}        median {ms:7.1f} ms -> {result.verdict.message} ({stages})")
    night_ref = prepare_photo(phone_jpeg(ROOT / NIGHT_REF), learned.feature_settings, needs=STORED).features
    night = phone_jpeg(ROOT / NIGHT)
    verify_photo(night_ref, night, learned)  # warm-up: the ALIKED and LightGlue sessions
    times, result = [], None
    for _ in range(args.runs):
        start = time.perf_counter()
        result = verify_photo(night_ref, night, learned)
        times.append((time.perf_counter() - start) * 1000)
    assert result is not None
    stages = ", ".join(f"{k} {v:.0f}" for k, v in result.timings.items())
    print(f"verify   learned  grey zone (night) {percentiles(times)} -> {result.verdict.message} ({stages})")
    if args.data:
        plain, second = over_folder(args.data, learned)
        share = len(second) / max(1, len(plain) + len(second))
        print(f"verify learned over {args.data}: {len(plain)} pairs without a second opinion: {percentiles(plain)}")
        if second:
            print(f"  {len(second)} pairs ({share:.1%}) with the second opinion: {percentiles(second)}")


if __name__ == "__main__":
    main()
