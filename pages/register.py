"""Register page: check a reference photo, store it for a user, manage a user's references."""

from __future__ import annotations

import hashlib

import streamlit as st

from ui.examples import REFERENCES
from ui.pickers import photo_input
from ui.render import figures, inject_css, verdict_card
from ui.resources import reference_store, registration, thumbnail_of
from ui.sidebar import PAGE_CONTROLS, render_sidebar
from vision.flows.prepare import PreparedPhoto
from vision.flows.references import save_reference
from vision.store import StoreError
from vision.store.ids import validate_user_id
from vision.views.draw import draw_keypoints
from vision.views.match import Figure

thresholds = render_sidebar(PAGE_CONTROLS["register"])
store = reference_store()
inject_css()

st.title("Register a reference photo")
st.write("A reference needs enough distinctive points to be recognised later. Good photos can be stored for a user.")

user_id = st.text_input(
    "User id", value="demo", max_chars=64, key="register_user", help="Letters, digits and _ . @ - (up to 64)."
).strip()
user_error = ""
if user_id:
    try:
        validate_user_id(user_id)
    except StoreError as exc:  # InvalidUserIdError: the message names the rule that failed
        user_error = str(exc)
photo = photo_input("register", "Photo source", REFERENCES, REFERENCES[0])


def _store(user: str, data: bytes, prepared: PreparedPhoto, digest: str) -> None:
    """Button callback: store once per (user, photo) in this session, however often it is pressed."""
    stored = st.session_state.setdefault("register_stored", {})
    if (user, digest) in stored:
        return
    try:
        stored[(user, digest)] = save_reference(store, user, data, prepared).key
    except StoreError as exc:
        st.session_state["register_error"] = f"Could not store the reference: {exc}"


if photo is not None:
    verdict, prepared = registration(photo.data, thresholds)
    left, right = st.columns([3, 2])
    with right:
        if prepared is not None:
            n = prepared.features.n_detected
            shown = f"{n}+" if n >= thresholds.max_keypoints else str(n)
            headline = (
                f"Good reference: {shown} distinctive points"
                if verdict.result
                else f"Too plain: {shown} distinctive points, {thresholds.min_keypoints} needed"
            )
            verdict_card(verdict, headline)
            width, height = prepared.header.upright_size
            work_w, work_h = prepared.image.shape[1], prepared.image.shape[0]
            figures(
                (
                    Figure(
                        "Distinctive points",
                        shown,
                        str(thresholds.min_keypoints),
                        f"AKAZE keypoints, counted up to {thresholds.max_keypoints} (the strongest kept).",
                    ),
                    Figure("Photo", f"{width}x{height}"),
                    Figure(
                        "Checked at",
                        f"{work_w}x{work_h}",
                        help="Large photos are shrunk to the working size; small ones are never enlarged.",
                    ),
                )
            )
        else:
            verdict_card(verdict)
        if verdict.result and prepared is not None:
            digest = hashlib.sha256(photo.data).hexdigest()
            done = st.session_state.get("register_stored", {}).get((user_id, digest))
            if done:
                st.success(f"Stored for '{user_id}'. Verify a new photo against it on the Verify page.")
            elif not user_id:
                st.caption("Enter a user id above to store this photo as their reference.")
            elif user_error:
                st.error(f"Cannot store for this user id: {user_error}")
            else:
                st.button(
                    f"Store as reference for '{user_id}'",
                    type="primary",
                    key="store_reference",
                    on_click=_store,
                    args=(user_id, photo.data, prepared, digest),
                )
            message = st.session_state.pop("register_error", None)
            if message:
                st.error(message)
    with left:
        if prepared is not None:
            st.image(
                draw_keypoints(prepared.image, prepared.features),
                caption="Distinctive points (AKAZE keypoints)",
                width="stretch",
            )

st.subheader(f"References of '{user_id}'" if user_id else "References")
try:
    records = store.list(user_id) if user_id and not user_error else []
except StoreError as exc:
    st.error(str(exc))
    records = []
if not records:
    st.caption("No references stored for this user yet.")
for record in records:
    thumb, info, action = st.columns([1, 3, 1], vertical_alignment="center")
    with thumb:
        image = thumbnail_of(record.key)
        if image is not None:
            st.image(image)
    info.write(
        f"{record.created_at:%Y-%m-%d %H:%M} UTC · {record.n_keypoints} keypoints · {record.width}x{record.height}"
    )
    if action.button("Delete", key=f"delete_{record.key}"):
        try:
            store.delete(record.key)
            st.rerun()
        except StoreError as exc:
            st.error(str(exc))
