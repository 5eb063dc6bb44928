"""Latency the replay check adds to a verification (medians of repeated runs).

On the 12-megapixel pair of ``bench_pipeline.py`` (the new photo's decode and
AKAZE features are already done by the verification and not counted):

* the new photo's fingerprint (thumbnail, four pHashes, keypoint selection);
* one candidate checked: aligned by the verification's homography (the reference), or by its
  fingerprint (match 192 keypoints into 2000, MAGSAC, ECC when the fit is rough; a remembered proof), then warp and correlation;
* a genuine photo checked against the reference and N remembered proofs
  (the worst case: no replay, so every candidate is checked), CPU only;
* the same through the local store (read the memory, remember the new proof);
* a mirrored copy's extra work (the mirrored view's AKAZE pass at 640 px, only when its pHash is close);
* the cross-user index: the new photo against 200 compact entries (rank + 2 keypoint checks);
* the fingerprint's size in bytes.

Usage: ``python bench/bench_replay.py [--runs 21] [--proofs 0 10 30]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace

from bench.bench_pipeline import ROOT, VIEWS, phone_jpeg
from vision.flows.prepare import prepare_photo
from vision.flows.verify import verify_photo
from vision.profile import Profile
from vision.replay.check import Candidate, find_replay, measure
from vision.replay.fingerprint import fingerprint_from_bytes, fingerprint_to_bytes, make_fingerprint
from vision.replay.global_index import compact_entry, find_in_index
from vision.replay.memory import apply_replay_rule, replay_thresholds, verification_alignment
from vision.replay.residual import mirrored_features
from vision.rules.evidence import evaluate_match, match_features
from vision.store import LocalReferenceStore


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--proofs", type=int, nargs="+", default=[0, 10, 30])
    args = parser.parse_args()

    ref_bytes, query_bytes = (phone_jpeg(ROOT / p) for p in VIEWS)
    thresholds = replace(Profile(), rule="robust")
    ref = prepare_photo(ref_bytes, thresholds.feature_settings)
    query = prepare_photo(query_bytes, thresholds.feature_settings)
    ref_fp = make_fingerprint(ref.image, ref.features)
    query_fp = make_fingerprint(query.image, query.features)
    rt = replay_thresholds(thresholds)
    match = evaluate_match(match_features(ref.features, query.features), thresholds)
    alignment = verification_alignment(match, ref.features)

    print(f"fingerprint size: {len(fingerprint_to_bytes(query_fp))} bytes")
    verify_ms = median_ms(lambda: verify_photo(ref.features, query_bytes, thresholds), max(args.runs // 3, 5))
    print(f"for scale, a verification (robust rule, reference features cached): {verify_ms:6.1f} ms")
    fp_ms = median_ms(lambda: make_fingerprint(query.image, query.features), args.runs)
    print(f"new photo's fingerprint:              {fp_ms:6.2f} ms")
    one_ms = median_ms(lambda: measure(ref_fp, query.features, query_fp.thumb, query_fp, alignment), args.runs)
    print(f"reference checked (verification's H): {one_ms:6.2f} ms")
    one_ms = median_ms(lambda: measure(ref_fp, query.features, query_fp.thumb, query_fp), args.runs)
    print(f"proof checked (fingerprint's H):      {one_ms:6.2f} ms")
    for n in args.proofs:
        # Genuine proofs: the other view, so no candidate is a replay; the reference is aligned by the
        # verification's homography (as in the verify flow), the likeliest proof by its fingerprint.
        candidates = [Candidate("reference", ref_fp, "r", alignment)]
        candidates += [Candidate(f"proof {i}", ref_fp) for i in range(n)]
        ms = median_ms(lambda c=candidates: find_replay(c, query.features, query_fp, rt), args.runs)
        print(f"fingerprint + reference + {n:2d} proofs:  {fp_ms + ms:6.2f} ms (CPU)")

    mirror_ms = median_ms(lambda: mirrored_features(query.image, query.features.settings), args.runs)
    print(f"mirrored view (only for a near-mirror pHash): {mirror_ms:6.2f} ms")
    entry = fingerprint_from_bytes(compact_entry(ref_fp))
    entries = [(f"{i:054d}", entry) for i in range(200)]
    index_ms = median_ms(lambda: find_in_index(entries, query.features, set()), args.runs)
    print(f"cross-user index, 200 entries:        {index_ms:6.2f} ms (CPU)")

    with tempfile.TemporaryDirectory() as root:
        store = LocalReferenceStore(root)
        record = store.put(
            "bench", ref_bytes, b"-", n_keypoints=2000, width=4032, height=3024, content_type="image/jpeg"
        )
        store.save_fingerprint(record.key, fingerprint_to_bytes(ref_fp))
        keep = max(args.proofs)
        for _ in range(keep):
            store.add_proof("bench", fingerprint_to_bytes(ref_fp), keep=keep)
        t = replace(thresholds, replay_keep=keep)
        ms = median_ms(
            lambda: apply_replay_rule(store, record, ref.features, query.image, query.features, t), args.runs
        )
        print(f"through the local store, {keep} proofs: {ms:6.2f} ms (read memory, check, remember the proof)")


if __name__ == "__main__":
    main()
