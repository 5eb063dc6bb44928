"""What decoding in worker processes costs: in-process vs pool decode medians, pool start and worker replacement.

Usage::

    python -m bench.decode_pool [--repeats 15]

A 12 MP phone-sized JPEG (a bundled photo upscaled to 4000x3000) is decoded
at reduced DCT scales (what the API's flows ask for) and at full size,
``--repeats`` times in process and through the pool; prints the medians and
the pool's overhead (the pipe transfer of the bytes and the pixels).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import cv2
import numpy as np

from bench.request_memory import large_photo
from vision.image.decode_pool import DecodePool, DecodeTimeoutError


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.decode_pool", description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    data = large_photo("DSC_0410.JPG", 4000, 3000, quality=90)
    print(f"photo: {len(data) / 1e6:.1f} MB JPEG, 4000x3000")
    start = time.perf_counter()
    pool = DecodePool(2, timeout_s=5.0)
    pool.warm_up()
    print(f"pool of 2 started and warmed up: {(time.perf_counter() - start) * 1000:.0f} ms")
    try:
        for label, flag in (
            ("1/4 scale", cv2.IMREAD_REDUCED_COLOR_4),
            ("1/2 scale", cv2.IMREAD_REDUCED_COLOR_2),
            ("full", cv2.IMREAD_COLOR),
        ):
            here = median_ms(lambda f=flag: cv2.imdecode(np.frombuffer(data, np.uint8), f), args.repeats)
            there = median_ms(lambda f=flag: pool.decode(data, f), args.repeats)
            print(
                f"{label:9s}  in process {here:7.1f} ms   pool {there:7.1f} ms   overhead {there - here:+6.1f} ms (medians of {args.repeats})"
            )
        pool.timeout_s = 0.001
        with contextlib.suppress(DecodeTimeoutError):
            pool.decode(data, cv2.IMREAD_COLOR)
        pool.timeout_s = 5.0
        start = time.perf_counter()
        for _ in range(2):  # one of the two is the replacement
            pool.decode(data, cv2.IMREAD_REDUCED_COLOR_8)
        print(f"after a kill: next two decodes (one on the replacement) {(time.perf_counter() - start) * 1000:.0f} ms")
    finally:
        pool.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
