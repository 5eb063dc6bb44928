"""What the decode budget costs and saves (issue 22, items 1-2): medians of repeated runs.

- the walk on an ordinary 12 MP phone JPEG and a PNG (its overhead on every photo);
- the time to refuse the issue's attacks: the 8000x8000 progressive JPEG with
  20,000 repeated scans, a 2000x2000 one with 2,000 (under the coefficient
  limit, so the scan count refuses it), and the PNG with 900 zTXt chunks
  after IDAT (8 MB each once inflated);
- for scale, what libjpeg spends on the 2000x2000 flood when nothing refuses
  it (``cv2.imdecode`` directly, once).

Usage: ``python -m bench.bench_decode_budget [--runs 21]``
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from bench.bench_pipeline import ROOT, VIEWS, median_ms, phone_jpeg
from bench.hostile_images import scan_flood_jpeg, text_bomb_png
from vision.core.errors import ImageInputError
from vision.image.decode_budget import check_budget
from vision.image.imageio import DEFAULT_LIMITS, read_header


def refusal_ms(data: bytes, runs: int) -> tuple[float, str]:
    """Median ms for :func:`read_header` to refuse ``data``, and the message."""

    def attempt() -> str:
        try:
            read_header(data)
        except ImageInputError as exc:
            return str(exc)
        return "ACCEPTED"

    ms, message = median_ms(attempt, runs)
    return ms, str(message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()

    phone = phone_jpeg(ROOT / VIEWS[0])
    ok, png = cv2.imencode(".png", cv2.imread(str(ROOT / VIEWS[0])))
    assert ok
    for name, data in (("12 MP phone JPEG", phone), ("PNG", png.tobytes())):
        ms, _ = median_ms(lambda data=data: check_budget(data, DEFAULT_LIMITS), args.runs)
        print(f"walk of a {name} ({len(data) / 1e6:.1f} MB): {ms:.3f} ms")

    small_flood = scan_flood_jpeg(2000, 2000, 2000)
    attacks = {
        "8000x8000 progressive JPEG, 20,000 scans": scan_flood_jpeg(8000, 8000, 20_000),
        "2000x2000 progressive JPEG, 2,000 scans": small_flood,
        "PNG with 900 zTXt chunks after IDAT": text_bomb_png(chunks=900),
    }
    for name, data in attacks.items():
        ms, message = refusal_ms(data, args.runs)
        print(f"refused {name} ({len(data) / 1e6:.1f} MB) in {ms:.3f} ms: {message}")

    start = time.perf_counter()
    cv2.imdecode(np.frombuffer(small_flood, np.uint8), cv2.IMREAD_REDUCED_COLOR_2)
    print(f"without the budget, libjpeg decodes the 2000x2000 flood in {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
