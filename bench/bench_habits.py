"""Latency of a habit's verification with 1 and 3 references, and of one history page read (medians, p95).

The query is a night photo the day references reject, so every reference is tried (the worst case:
no early stop).  Local store in a temporary folder; no replay proofs accumulate (all rejected).
Run: ``python -m bench.bench_habits [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from vision.flows.prepare import prepare_photo
from vision.flows.references import save_reference
from vision.profile import Profile
from vision.service.habits import habit_owner, remember, verify_habit_bytes
from vision.store import LocalReferenceStore
from vision.store.history import history_log

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
REFS = ["habits/facade_day.jpg", "images/vlfeat/roofs1.jpg", "images/lines/terrace0.JPG"]
QUERY = "habits/facade_night_proof.jpg"


def _stats(times_ms: list[float]) -> str:
    ordered = sorted(times_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    profile = Profile()
    query = (SAMPLES / QUERY).read_bytes()
    with tempfile.TemporaryDirectory() as root:
        store = LocalReferenceStore(root)
        for n in (1, 3):
            owner = habit_owner("bench", f"n{n}")
            for name in REFS[:n]:
                data = (SAMPLES / name).read_bytes()
                save_reference(store, owner, data, prepare_photo(data, profile.feature_settings))
            verify_habit_bytes(store, query, owner, profile)  # warm: models loaded, features upgraded
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                verdict = verify_habit_bytes(store, query, owner, profile)
                times.append((time.perf_counter() - start) * 1000)
                remember(store, owner, verdict, f"n{n}", profile)
            print(f"verify, {n} reference(s), {verdict.extra.get('references_tried')} tried: {_stats(times)}")
        log = history_log(store)
        owner = habit_owner("bench", "hist")
        for i in range(200):
            log.append(owner, {"i": i, "message": "Complete", "numbers": {"inliers": i}})
        reads = []
        for _ in range(args.repeats * 3):
            start = time.perf_counter()
            log.page(owner, 20)
            reads.append((time.perf_counter() - start) * 1000)
        print(f"history read, 20 of 200 entries (local store): {_stats(reads)}")


if __name__ == "__main__":
    main()
