"""AppTest fixtures: the dashboard on a fresh local store and profile path per test."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st


@pytest.fixture
def store_dir(tmp_path, monkeypatch) -> Path:
    """An empty reference folder and profile path; Streamlit's caches cleared."""
    root = tmp_path / "references"
    monkeypatch.setenv("VISION_STORE", "local")
    monkeypatch.setenv("VISION_STORE_DIR", str(root))
    monkeypatch.setenv("VISION_PROFILE", str(tmp_path / "profile.json"))
    monkeypatch.delenv("CLARIFAI_PAT", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield root
    st.cache_resource.clear()
    st.cache_data.clear()
