"""Photo pickers: curated examples as clickable thumbnails, an upload, or the camera."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import streamlit as st

from ui.examples import Example
from ui.resources import sample_thumbnail

SOURCES = ("Example", "Upload", "Camera")


@dataclass(frozen=True)
class Photo:
    """Raw bytes of a photo, a label for people, and the example it is (if any)."""

    name: str
    data: bytes
    example: Example | None = None


def thumbnail_picker(
    key: str, examples: Sequence[Example], default: Example | None = None, width: int = 120
) -> Example:
    """Thumbnails with a button each; the chosen one's button is highlighted. Returns the chosen example.

    The choice lives in ``st.session_state[key]`` (an :attr:`Example.key`); a stale
    choice (not among ``examples``) falls back to ``default``.
    """
    paths = [e.key for e in examples]
    fallback = default.key if default is not None and default.key in paths else paths[0]
    if st.session_state.get(key) not in paths:
        st.session_state[key] = fallback
    # A wrapping row of fixed-width cells: five across on a projector, three on a phone.
    with st.container(key=f"thumbs_{key}", horizontal=True, wrap=True, gap="small"):
        for example in examples:
            with st.container(width=width, gap="small"):
                st.image(sample_thumbnail(example.path, resent=example.resent), width="stretch")
                chosen = st.session_state[key] == example.key
                st.button(
                    example.title,
                    key=f"{key}__{example.key}",
                    type="primary" if chosen else "secondary",
                    width="stretch",
                    help=example.note or None,
                    on_click=_choose,
                    args=(key, example.key),
                )
    return examples[paths.index(st.session_state[key])]


def _choose(key: str, path: str) -> None:
    st.session_state[key] = path


def photo_input(
    key: str,
    label: str,
    examples: Sequence[Example],
    default: Example | None = None,
    source: str = "Example",
    *,
    compact: bool = False,
) -> Photo | None:
    """Curated thumbnails, an upload or the camera; None until there is a photo.

    ``source`` is the source offered first (the radio's first value in this
    session); ``compact`` hides the radio's label and uses smaller thumbnails.
    """
    radio_key = f"{key}_source"
    if radio_key not in st.session_state:
        st.session_state[radio_key] = source
    visibility: Literal["visible", "collapsed"] = "collapsed" if compact else "visible"
    chosen = st.radio(label, SOURCES, horizontal=True, key=radio_key, label_visibility=visibility)
    if chosen == "Example":
        example = thumbnail_picker(f"{key}_example", examples, default, width=100)
        return Photo(example.title, example.read(), example)
    if chosen == "Upload":
        upload = st.file_uploader("Photo (JPEG, PNG or WebP)", type=["jpg", "jpeg", "png", "webp"], key=f"{key}_upload")
        return Photo(upload.name, upload.getvalue()) if upload is not None else None
    shot = st.camera_input("Take a photo", key=f"{key}_camera")
    return Photo("camera photo", shot.getvalue()) if shot is not None else None
