"""The Verify page's reference chooser: a user's latest, any stored one (thumbnail and date), or an example."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ui.examples import REFERENCES, Scenario, scenario_of
from ui.pickers import thumbnail_picker
from ui.resources import reference_store, thumbnail_of
from vision.store import ReferenceRecord, StoreError

MODES = ("A user's latest reference", "Any stored reference", "An example")


@dataclass(frozen=True)
class ChosenReference:
    """A stored reference (``key``) or an example photo (``data``), its label and scenario when known."""

    label: str
    key: str | None = None
    data: bytes | None = None
    scenario: Scenario | None = None


def describe(record: ReferenceRecord) -> str:
    """``alice · 2026-11-30 12:01 UTC · 1024x682`` (no storage keys on screen)."""
    return f"{record.user_id} · {record.created_at:%Y-%m-%d %H:%M} UTC · {record.width}x{record.height}"


def _stored(record: ReferenceRecord | None) -> ChosenReference | None:
    if record is None:
        return None
    image = thumbnail_of(record.key)
    thumb, info = st.columns([1, 3], vertical_alignment="center")
    if image is not None:
        thumb.image(image, width="stretch")
    info.caption(f"Stored {record.created_at:%Y-%m-%d %H:%M} UTC · {record.n_keypoints} keypoints")
    return ChosenReference(describe(record), key=record.key)


def choose_reference() -> ChosenReference | None:
    """Draw the chooser; None when the choice has no reference (no user yet). Raises StoreError."""
    store = reference_store()
    # Nobody registered yet: start on the examples rather than on an empty user list.
    mode = st.radio("Reference", MODES, horizontal=True, key="verify_mode", index=0 if store.users() else 2)
    if mode == MODES[0]:
        users = store.users()
        user = st.selectbox("User", users, key="verify_user", placeholder="No users yet")
        return _stored(store.latest(user) if user else None)
    if mode == MODES[1]:
        records = sorted((r for u in store.users() for r in store.list(u)), key=lambda r: r.created_at, reverse=True)
        by_key = {r.key: r for r in records}
        key = st.selectbox(
            "Stored reference",
            list(by_key),
            key="verify_key",
            format_func=lambda k: describe(by_key[k]) if k in by_key else k,
            placeholder="Nothing stored yet",
        )
        return _stored(by_key.get(key) if key else None)
    example = thumbnail_picker("verify_ref_example", REFERENCES, REFERENCES[0])
    return ChosenReference(example.title, data=example.read(), scenario=scenario_of(example.path))


__all__ = ["MODES", "ChosenReference", "StoreError", "choose_reference", "describe"]
