"""AppTest fixtures: the dashboard on a fresh local store and profile path per test."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st

from ui import resources, tuning_view


@pytest.fixture
def store_dir(tmp_path, monkeypatch) -> Path:
    """An empty reference folder and profile path; Streamlit's caches cleared."""
    root = tmp_path / "references"
    monkeypatch.setenv("VISION_STORE", "local")
    monkeypatch.setenv("VISION_STORE_DIR", str(root))
    monkeypatch.setenv("VISION_PROFILE", str(tmp_path / "profile.json"))
    monkeypatch.delenv("CLARIFAI_PAT", raising=False)
    _clear_caches()
    yield root
    _clear_caches()


def _clear_caches() -> None:
    """Forget everything that depends on the store, the settings or a test's files.

    The pure caches of ``ui.resources`` (decode, features, descriptors, XFeat, matches, the original
    pipeline, sample thumbnails) are keyed on the photo bytes and settings and give the same answer
    in every test, so they are kept across tests: the same bundled photos are not re-prepared for
    each page test.
    """
    st.cache_resource.clear()  # the store, the taggers, the tuning runs: all follow the environment
    for cached in (resources.stored_reference, resources.thumbnail_of, resources.concepts, tuning_view.working_photo):
        cached.clear()
