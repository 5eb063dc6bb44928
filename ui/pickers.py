"""Photo pickers: curated examples as clickable thumbnails, an upload, or the camera."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

import streamlit as st

from ui.examples import Example
from ui.resources import sample_thumbnail
from vision.core.verdict import Verdict

SOURCES = ("Example", "Upload", "Camera")


@dataclass(frozen=True)
class Photo:
    """Raw bytes of a photo, a label for people, and the example it is (if any).

    ``upload_key`` is the uploader it came from (for :func:`forget_upload`);
    ``rejected`` the verdict on an upload that was refused and cleared (then
    ``data`` is empty): the page shows it once, beside an empty uploader.
    """

    name: str
    data: bytes
    example: Example | None = None
    upload_key: str = ""
    rejected: Verdict | None = None


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
    chosen_example = examples[paths.index(st.session_state[key])]
    note = escape(chosen_example.on_screen)
    st.markdown(f'<div class="picknote">{note}</div>', unsafe_allow_html=True)  # on screen: no hover on a phone
    return chosen_example


def _choose(key: str, path: str) -> None:
    st.session_state[key] = path


def forget_upload(photo: Photo, verdict: Verdict) -> None:
    """Clear the uploader ``photo`` came from and rerun, keeping ``verdict`` for the next run to show.

    A refused file's chip would otherwise stay in the uploader beside the
    next one; a fresh uploader (a new key) has none.  Nothing for a photo
    that was not uploaded.
    """
    if not photo.upload_key:
        return
    key = photo.upload_key
    st.session_state[f"{key}_gen"] = st.session_state.get(f"{key}_gen", 0) + 1
    st.session_state[f"{key}_refused"] = (photo.name, verdict)
    st.rerun()


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
        # 78 px: five thumbnails (and 16 px gaps) fit one row of the Demo's picker column at 1400 px (and three on a phone)
        example = thumbnail_picker(f"{key}_example", examples, default, width=78 if compact else 100)
        return Photo(example.title, example.read(), example)
    if chosen == "Upload":
        refused = st.session_state.pop(f"{key}_refused", None)
        gen = st.session_state.get(f"{key}_gen")
        upload_key = f"{key}_upload" if gen is None else f"{key}_upload_{gen}"
        upload = st.file_uploader("Photo (JPEG, PNG or WebP)", type=["jpg", "jpeg", "png", "webp"], key=upload_key)
        if upload is not None:
            return Photo(upload.name, upload.getvalue(), upload_key=key)
        # the upload just refused: said once, beside an empty uploader (its chip gone)
        return Photo(refused[0], b"", rejected=refused[1]) if refused is not None else None
    shot = st.camera_input("Take a photo", key=f"{key}_camera")
    return Photo("camera photo", shot.getvalue()) if shot is not None else None
