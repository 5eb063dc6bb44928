"""Features on disk, keyed by the image's content and the settings: a rerun computes only what changed.

An entry is ``<root>/<sha256 of the image bytes>-<settings key>.feat``: 8
bytes of the preparation time in milliseconds (float64, so a cached run still
reports a verification's cost), then :func:`vision.matchers.akaze.features_to_bytes`.
Writes go to a temporary name and are renamed into place, so concurrent
workers (processes, Dask workers on a shared disk) never read half a file.
The folder is ``VISION_CACHE_DIR`` (settings), else ``~/.cache/habit-photo-check/features``;
an empty value turns the cache off.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from dataclasses import replace
from pathlib import Path

from vision.core.errors import ImageInputError
from vision.core.settings import load_settings
from vision.flows.prepare import prepare_photo
from vision.matchers.akaze import Features, FeatureSettings, features_from_bytes, features_to_bytes
from vision.rules.base import Needs

DEFAULT_DIR = Path.home() / ".cache" / "habit-photo-check" / "features"
_MS = struct.Struct("<d")


def cache_dir() -> Path | None:
    """The configured cache folder, or None when ``VISION_CACHE_DIR`` is set empty (cache off)."""
    value = load_settings().get("VISION_CACHE_DIR")
    if value is None:
        return DEFAULT_DIR
    return Path(value).expanduser() if value.strip() else None


def entry_key(data: bytes, settings: FeatureSettings, embed: bool, learned: bool = False) -> str:
    """``<sha256>-<working side>-<max keypoints>-<threshold>-<e|n>[x]``: everything the features depend on.

    ``x`` marks features that carry XFeat's too (the learned rule).
    """
    digest = hashlib.sha256(data).hexdigest()
    kind = ("e" if embed else "n") + ("x" if learned else "")
    return f"{digest}-{settings.working_side}-{settings.max_keypoints}-{settings.akaze_threshold:g}-{kind}"


def _read(path: Path) -> tuple[Features, float] | None:
    try:
        raw = path.read_bytes()
        return features_from_bytes(raw[_MS.size :]), _MS.unpack(raw[: _MS.size])[0]
    except (OSError, ValueError, struct.error):
        return None  # missing or damaged: recompute


def _write(path: Path, features: Features, prepare_ms: float) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MS.pack(prepare_ms) + features_to_bytes(features))
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs time


def image_features(
    root: Path, rel: str, settings: FeatureSettings, embed: bool, folder: Path | None, learned: bool = False
) -> tuple[Features | str, float]:
    """One image's features (with its global descriptor when ``embed``, XFeat's when ``learned``) and their
    preparation time in ms.

    From ``folder`` when cached there, else computed and stored.  Returns the
    error text instead of features when the image cannot be read or used.
    A module-level function of plain data: process pools and Dask workers run it.
    """
    try:
        data = (root / rel).read_bytes()
    except OSError as exc:
        return f"{rel}: {exc}", 0.0
    embed = embed or learned  # the learned rule weighs the global similarity too
    path = folder / f"{entry_key(data, settings, embed, learned)}.feat" if folder is not None else None
    if path is not None and (hit := _read(path)) is not None:
        return hit
    if folder is not None and not embed and not learned:  # features with the descriptor serve a run without it too
        with_descriptor = _read(folder / f"{entry_key(data, settings, True)}.feat")
        if with_descriptor is not None:
            features, prepare_ms = with_descriptor
            return replace(features, embedding=None), prepare_ms
    try:
        photo = prepare_photo(data, settings, needs=Needs(embedding=embed, xfeat=learned))
    except ImageInputError as exc:
        return f"{rel}: {exc}", 0.0
    prepare_ms = sum(photo.timings.values())
    if path is not None:
        _write(path, photo.features, prepare_ms)
    return photo.features, prepare_ms


def pair_digest(ref: Features, query: Features) -> str:
    """sha256 of both photos' feature arrays (AKAZE's, and XFeat's when present): a pair's evidence depends on them."""
    h = hashlib.sha256()
    for features in (ref, query):
        for array in (features.points, features.descriptors):
            h.update(array.tobytes())
        if features.xfeat is not None:
            h.update(features.xfeat.keypoints.tobytes())
            h.update(features.xfeat.descriptors.tobytes())
    return h.hexdigest()


def evidence_entry(digest: str, rule: str, key_values: tuple[object, ...]) -> str:
    """``<pair digest>-<rule>-<sha of the evidence thresholds>.pev``: one pair's own evidence for one rule."""
    values = hashlib.sha256(repr(key_values).encode()).hexdigest()[:16]
    return f"{digest}-{rule}-{values}.pev"


def read_evidence(path: Path) -> float | None:
    """A cached pair evidence (float64), None when missing or damaged."""
    try:
        return float(_MS.unpack(path.read_bytes())[0])
    except (OSError, struct.error):
        return None


def write_evidence(path: Path, value: float) -> None:
    """Store one pair evidence atomically (a failed write only costs time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MS.pack(value))
        os.replace(tmp, path)
    except OSError:
        pass
