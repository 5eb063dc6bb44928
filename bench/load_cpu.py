"""Where the load bench's CPU goes: the CPU time of each verification of its plan, in process, one at a time.

Usage::

    python -m bench.load_cpu --data ../shared/data --requests 256

Builds the plan ``bench.load_api`` sends (:mod:`bench.load_plan`, same seed and
profile), registers each reference in a temporary local store and verifies
each job's photo through :func:`vision.service.verify.verify_bytes`, one at a
time, reading the process's CPU time (all threads: onnxruntime runs two)
around each call.  Prints the total and per-verification CPU (mean, median,
p95), split by whether the learned rule's second opinion (ALIKED + LightGlue)
ran, and the registration's CPU per reference.  No HTTP: what is left of the
load bench's CPU beyond this is the server's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.load_plan import build_plan
from vision.core.settings import load_settings, text
from vision.profile import load_profile
from vision.service.register import register_bytes
from vision.service.verify import verify_bytes
from vision.store import LocalReferenceStore

REPO = Path(__file__).resolve().parents[1]


def _summary(name: str, cpu_s: list[float]) -> str:
    if not cpu_s:
        return f"{name}: none"
    ordered = sorted(cpu_s)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"{name}: {len(cpu_s)}, CPU {sum(cpu_s):.1f} s in all, mean {statistics.fmean(cpu_s) * 1000:.0f} ms, "
        f"median {statistics.median(cpu_s) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO / "samples"), help="labelled folder (pairs.csv)")
    ap.add_argument("--requests", type=int, default=256)
    ap.add_argument("--wrong-every", type=int, default=4)
    ap.add_argument("--seed", type=int, default=22, help="as bench.load_api's")
    args = ap.parse_args(argv)
    profile = load_profile(text(load_settings(), "VISION_PROFILE"))
    plan = build_plan(args.data, args.requests, args.wrong_every, args.seed, profile)
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalReferenceStore(tmp)
        users: dict[str, str] = {}
        start = time.process_time()
        for i, reference in enumerate(plan.references):
            if register_bytes(store, (plan.root / reference).read_bytes(), f"load-{i:03d}", profile).status == 200:
                users[reference] = f"load-{i:03d}"
        register_cpu = (time.process_time() - start) / max(1, len(plan.references))
        plain: list[float] = []
        second: list[float] = []
        for job in plan.jobs:
            if job.reference not in users:
                continue
            data = (plan.root / job.photo).read_bytes()
            start = time.process_time()
            verdict = verify_bytes(store, data, users[job.reference], profile)
            spent = time.process_time() - start
            (second if "second_opinion" in verdict.extra else plain).append(spent)
    every = plain + second
    print(f"{len(plan.references)} references registered: CPU {register_cpu * 1000:.0f} ms each")
    print(_summary("verifications", every))
    print(_summary("  without a second opinion", plain))
    print(_summary("  with the second opinion", second))
    if every:
        print(f"the second opinion's verifications take {sum(second) / sum(every):.0%} of the verifications' CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
