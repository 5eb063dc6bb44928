"""One widget group to get a photo: a bundled sample, an upload, or the camera."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"
SAMPLE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
SOURCES = ("Sample", "Upload", "Camera")


@dataclass(frozen=True)
class Photo:
    """Raw bytes of a photo and where it came from."""

    name: str
    data: bytes


def list_samples(root: Path = SAMPLES_DIR) -> list[str]:
    """Bundled sample photos, as paths relative to ``samples/``."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix.lower() in SAMPLE_SUFFIXES)


def photo_input(key: str, label: str, default_sample: str | None = None) -> Photo | None:
    """Let the user pick a sample, upload a file or take a photo; None until they have."""
    source = st.radio(label, SOURCES, horizontal=True, key=f"{key}_source")
    if source == "Sample":
        samples = list_samples()
        index = samples.index(default_sample) if default_sample in samples else 0
        name = st.selectbox("Sample photo", samples, index=index, key=f"{key}_sample")
        return Photo(name, (SAMPLES_DIR / name).read_bytes()) if name else None
    if source == "Upload":
        upload = st.file_uploader("Photo (JPEG, PNG or WebP)", type=["jpg", "jpeg", "png", "webp"], key=f"{key}_upload")
        return Photo(upload.name, upload.getvalue()) if upload is not None else None
    shot = st.camera_input("Take a photo", key=f"{key}_camera")
    return Photo("camera.jpg", shot.getvalue()) if shot is not None else None
