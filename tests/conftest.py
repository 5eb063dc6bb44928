"""Shared fixtures for every test folder.

* ``DATA_DIR``: the evaluation data (``<repo>/../shared/data``, or the folder
  named by the ``VISION_DATA_DIR`` environment variable); the ``data_dir``
  fixture skips the test when it is absent.
* ``SAMPLES_DIR``: the bundled sample photos (``<repo>/samples``, always
  present, with ``pairs.csv``).
* Photo bytes: ``pair_same``, ``pair_different``, ``blank_jpeg``.
* ``make_jpeg(image, exif_orientation=None, quality=90)``: encode a BGR or gray
  array as JPEG bytes, optionally with a real EXIF orientation tag.
"""

from __future__ import annotations

import copy
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image


def _run_wide_dir(prefix: str) -> str:
    """A fresh folder for this test run, the same in every xdist worker of the run (its ``testrunuid``)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        return tempfile.mkdtemp(prefix=prefix)
    path = Path(tempfile.gettempdir()) / f"{prefix}{run}"
    path.mkdir(exist_ok=True)
    return str(path)


# One feature cache for the whole run, shared by its xdist workers (and the processes they start):
# each bundled photo is prepared once, however many tests in however many workers score the samples.
# The cache writes by rename (vision.lab.cache, vision.lab.aliked_evidence), so workers never read half a file.
os.environ.setdefault("VISION_CACHE_DIR", _run_wide_dir("vision-test-features-"))
os.environ.setdefault("VISION_RUNS_DIR", tempfile.mkdtemp(prefix="vision-test-runs-"))

REPO_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("VISION_DATA_DIR") or REPO_DIR.parent / "shared" / "data")
SAMPLES_DIR = REPO_DIR / "samples"
SAMPLE_IMAGES = SAMPLES_DIR / "images"

SAME_REF = SAMPLE_IMAGES / "lightglue" / "DSC_0410.JPG"
SAME_QUERY = SAMPLE_IMAGES / "lightglue" / "DSC_0411.JPG"
DIFFERENT_QUERY = SAMPLE_IMAGES / "vlfeat" / "river1.jpg"

EXIF_ORIENTATION_TAG = 0x0112


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ../shared/data, deselect the ``shared_data`` checks (reported as deselected, not skipped)."""
    if (DATA_DIR / "pairs.csv").is_file():
        return
    dropped = [item for item in items if item.get_closest_marker("shared_data")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not item.get_closest_marker("shared_data")]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The evaluation data folder; skips the test when it is not there."""
    if not (DATA_DIR / "pairs.csv").is_file():
        pytest.skip(f"evaluation data not found at {DATA_DIR} (set VISION_DATA_DIR)")
    return DATA_DIR


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The bundled sample folder (``samples/`` with ``pairs.csv``)."""
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def samples_evaluation() -> Callable[[Any, str], dict[str, Any]]:
    """``evaluate(profile, rule)``: ``evaluate_folder`` on the bundled samples, run once per session per argument.

    Several modules score the same samples with the same profile and rule; each gets a deep copy of one run.
    """
    from vision.lab.evaluate import evaluate_folder

    runs: dict[tuple[str, str], dict[str, Any]] = {}

    def evaluate(profile: Any, rule: str) -> dict[str, Any]:
        key = (repr(profile), rule)
        if key not in runs:
            runs[key] = evaluate_folder(SAMPLES_DIR, profile, rule, show_progress=False)
        return copy.deepcopy(runs[key])

    return evaluate


@pytest.fixture(scope="session")
def pair_same() -> tuple[bytes, bytes]:
    """Two photos of the same scene from slightly different viewpoints (JPEG bytes)."""
    return SAME_REF.read_bytes(), SAME_QUERY.read_bytes()


@pytest.fixture(scope="session")
def pair_different() -> tuple[bytes, bytes]:
    """Photos of two unrelated scenes (JPEG bytes)."""
    return SAME_REF.read_bytes(), DIFFERENT_QUERY.read_bytes()


def encode_jpeg(image: np.ndarray, exif_orientation: int | None = None, quality: int = 90) -> bytes:
    """JPEG bytes of a BGR (or gray) uint8 array, with an optional EXIF orientation tag.

    The pixels are stored as given; the tag tells a viewer how to rotate them.
    """
    pil = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)) if image.ndim == 3 else Image.fromarray(image)
    buf = io.BytesIO()
    if exif_orientation is None:
        pil.save(buf, "JPEG", quality=quality)
    else:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION_TAG] = int(exif_orientation)
        pil.save(buf, "JPEG", quality=quality, exif=exif)
    return buf.getvalue()


@pytest.fixture(scope="session")
def make_jpeg() -> Callable[..., bytes]:
    """``make_jpeg(image, exif_orientation=None, quality=90)`` -> JPEG bytes (see :func:`encode_jpeg`)."""
    return encode_jpeg


@pytest.fixture(scope="session")
def blank_jpeg() -> bytes:
    """A uniform mid-gray 640x480 JPEG: decodes fine, has no keypoints."""
    ok, buf = cv2.imencode(".jpg", np.full((480, 640, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A real moto S3 server on loopback for one test module (``ThreadedMotoServer``), stopped after it."""
    from moto_server import start_moto, stop_moto

    server, url = start_moto()
    try:
        yield url
    finally:
        stop_moto(server)
