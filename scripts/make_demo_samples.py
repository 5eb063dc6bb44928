"""Derive the Demo page's "at night" photos from bundled samples (``samples/demo/*_dark.jpg``).

The bundled sources (LightGlue, image-matching-webui, vlfeat) have no night
shot of the facade, the rooftops or the terrace, so a darkened copy stands
in for one: gamma 1.8, brightness x 0.35, a blue cast and sensor-like noise
(fixed seed).  The Demo page says the photo is derived.  Re-run after
changing a source: ``python scripts/make_demo_samples.py``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SOURCES = ("images/lightglue/DSC_0411.JPG", "images/vlfeat/roofs2.jpg", "images/lines/terrace1.JPG")


def darken(bgr: np.ndarray, seed: int = 0) -> np.ndarray:
    """A night-looking copy of a BGR uint8 photo (same size)."""
    image = bgr.astype(np.float32) / 255.0
    dark = image**1.8 * 0.35
    dark[..., 0] *= 1.25  # more blue
    dark[..., 2] *= 0.8  # less red
    dark += np.random.default_rng(seed).normal(0.0, 0.012, dark.shape)
    return np.clip(dark * 255.0, 0, 255).astype(np.uint8)


def main() -> None:
    out_dir = SAMPLES / "demo"
    out_dir.mkdir(exist_ok=True)
    for source in SOURCES:
        image = cv2.imread(str(SAMPLES / source))
        out = out_dir / f"{Path(source).stem}_dark.jpg"
        cv2.imwrite(str(out), darken(image), [cv2.IMWRITE_JPEG_QUALITY, 85])
        print(out)


if __name__ == "__main__":
    main()
