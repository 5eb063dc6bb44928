"""Make ``samples/habits/``: a day reference, a night reference and a night proof of one facade (simulated night).

The test of a multi-reference verification (``tests/test_habits.py``) needs a night photo that the day
reference rejects and a night reference accepts.  No real night pair of one scene is bundled under a
licence that allows it, so, like ``scripts/make_demo_samples.py``, the night photos are darkened copies
(gamma 3.4, brightness x 0.08, a blue cast, noise) of the LightGlue assets ``DSC_0410.JPG`` (reference
side) and ``DSC_0411.JPG`` (the proof, another angle), downscaled to 640 px.  Run:
``python -m scripts.make_habit_samples``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1] / "samples"
SIDE = 640


def small(bgr: np.ndarray) -> np.ndarray:
    """Long side :data:`SIDE` px (area interpolation)."""
    scale = SIDE / max(bgr.shape[:2])
    return cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def night(bgr: np.ndarray, seed: int) -> np.ndarray:
    """A strong simulated night: gamma 3.4, x 0.08, blue cast, sensor-like noise (seeded)."""
    image = bgr.astype(np.float32) / 255.0
    dark = image**3.4 * 0.08
    dark[..., 0] *= 1.1
    dark[..., 2] *= 0.8
    dark += np.random.default_rng(seed).normal(0.0, 0.05, dark.shape)
    return (np.clip(dark, 0.0, 1.0) * 255).astype(np.uint8)


def main() -> None:
    out = ROOT / "habits"
    out.mkdir(exist_ok=True)
    day = small(cv2.imread(str(ROOT / "images" / "lightglue" / "DSC_0410.JPG")))
    other = small(cv2.imread(str(ROOT / "images" / "lightglue" / "DSC_0411.JPG")))
    quality = [cv2.IMWRITE_JPEG_QUALITY, 90]
    cv2.imwrite(str(out / "facade_day.jpg"), day, quality)
    cv2.imwrite(str(out / "facade_night_ref.jpg"), night(day, 1), quality)
    cv2.imwrite(str(out / "facade_night_proof.jpg"), night(other, 2), quality)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
