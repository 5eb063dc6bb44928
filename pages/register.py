"""Register page: check a reference photo, store it for a user, manage a user's references."""

from __future__ import annotations

import streamlit as st

from ui.photo import photo_input
from ui.render import show_verdict
from ui.resources import reference_store, registration, thumbnail_of
from ui.sidebar import render_sidebar
from vision.draw import draw_keypoints
from vision.references import save_reference
from vision.store import StoreError

thresholds = render_sidebar()
store = reference_store()

st.title("Register a reference photo")
st.write("A reference needs enough keypoints to be recognised later. Good photos can be stored for a user.")

user_id = st.text_input(
    "User id", value="demo", max_chars=64, key="register_user", help="Letters, digits and _ . @ - (up to 64)."
)
photo = photo_input("register", "Photo source", default_sample="images/lightglue/DSC_0410.JPG")

if photo is not None:
    verdict, prepared = registration(photo.data, thresholds)
    left, right = st.columns([3, 1])
    with right:
        if prepared is not None:
            n = prepared.features.n_detected
            st.metric(
                "AKAZE keypoints",
                f"{n}+" if n >= thresholds.max_keypoints else n,
                delta=n - thresholds.min_keypoints,
                help=f"Minimum {thresholds.min_keypoints} (sidebar); counted up to "
                f"{thresholds.max_keypoints}, the strongest kept for matching",
            )
            width, height = prepared.header.upright_size
            st.caption(
                f"{photo.name}: {width}x{height} px, features at {prepared.image.shape[1]}x{prepared.image.shape[0]}"
            )
        show_verdict(verdict)
    with left:
        if prepared is not None:
            st.image(draw_keypoints(prepared.image, prepared.features), caption="Keypoints at working resolution")
    if (
        verdict.result
        and prepared is not None
        and st.button(f"Store as reference for '{user_id}'", type="primary", key="store_reference")
    ):
        try:
            record = save_reference(store, user_id, photo.data, prepared)
            st.success(f"Stored as {record.key}")
        except StoreError as exc:
            st.error(f"Could not store the reference: {exc}")

st.subheader(f"References of '{user_id}'")
try:
    records = store.list(user_id) if user_id else []
except StoreError as exc:
    st.error(str(exc))
    records = []
if not records:
    st.caption("No references stored for this user yet.")
for record in records:
    thumb, info, action = st.columns([1, 3, 1])
    with thumb:
        image = thumbnail_of(record.key)
        if image is not None:
            st.image(image)
    info.write(
        f"`{record.key}`  \n{record.created_at:%Y-%m-%d %H:%M:%S} UTC · "
        f"{record.n_keypoints} keypoints · {record.width}x{record.height}"
    )
    if action.button("Delete", key=f"delete_{record.key}"):
        try:
            store.delete(record.key)
            st.rerun()
        except StoreError as exc:
            st.error(str(exc))
