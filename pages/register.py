"""Register page: check a reference photo, add it to a user's habit, list and remove the habit's references.

Widgets in (:mod:`ui.habit_refs`: user id, habit, Remove with its confirmation), the habit flows of
:mod:`vision.service` (the API's register with ``habit``, :func:`~vision.service.habits.remove_habit_reference`)
out; nothing here decides.
"""

from __future__ import annotations

import base64
import hashlib

import streamlit as st

from ui.examples import REFERENCES
from ui.habit_refs import HabitChoice, choose_habit, confirmed_removal, habit_capacity, known_habits, reference_list
from ui.pickers import photo_input
from ui.render import figures, inject_css, verdict_card
from ui.resources import reference_store, registration
from ui.sidebar import PAGE_CONTROLS, render_sidebar
from vision.service.habit_flows import register_habit_b64
from vision.service.habits import habit_references, remove_habit_reference
from vision.store import StoreError
from vision.views.draw import draw_keypoints
from vision.views.match import Figure

thresholds = render_sidebar(PAGE_CONTROLS["register"])
store = reference_store()
capacity = habit_capacity()
inject_css()

st.title("Register a reference photo")
st.write(
    "A reference needs enough distinctive points to be recognised later. Good photos can be stored for a "
    f"user's habit; a habit keeps up to {capacity} references (say, one by day and one at night)."
)

choice = choose_habit("register")
photo = photo_input("register", "Photo source", REFERENCES, REFERENCES[0])

# A Remove confirmed by the click that caused this run: removed before the habit is listed.
removed = confirmed_removal()
notices: list[str] = []
problems: list[str] = []
records = []
if choice.ready:
    if removed:
        try:
            remove_habit_reference(store, choice.user, choice.habit, removed)
            notices.append(f"Removed the reference {removed}.")
        except StoreError as exc:  # not of this habit, gone meanwhile, or the store failed: nothing removed
            problems.append(f"Could not remove the reference: {exc}")
    try:
        records = habit_references(store, choice.user, choice.habit)
    except StoreError as exc:
        problems.append(f"The habit's references cannot be read: {exc}")


def _store(chosen: HabitChoice, data: bytes, digest: str) -> None:
    """Button callback: add the photo to the habit once per (user, habit, photo) in this session (the API's flow)."""
    stored = st.session_state.setdefault("register_stored", {})
    if (chosen.user, chosen.habit, digest) in stored:
        return
    text = base64.b64encode(data).decode("ascii")
    verdict = register_habit_b64(
        store, text, chosen.user, chosen.habit, False, thresholds, keep_original=True, max_refs=capacity
    )
    if verdict.result:
        stored[(chosen.user, chosen.habit, digest)] = verdict.extra.get("key")
    else:
        st.session_state["register_error"] = f"Could not store the reference: {verdict.reason}"


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
            done = st.session_state.get("register_stored", {}).get((choice.user, choice.habit, digest))
            if done:
                st.success(f"Stored for {choice.describe()}. Verify a new photo against it on the Verify page.")
            elif not choice.user:
                st.caption("Enter a user id above to store this photo as their reference.")
            elif choice.error:
                st.error(f"Cannot store for this user id or habit: {choice.error}")
            else:
                more = "Add as another reference" if records else "Store as reference"
                st.button(
                    f"{more} for {choice.describe()}",
                    type="primary",
                    key="store_reference",
                    on_click=_store,
                    args=(choice, photo.data, digest),
                )
                if len(records) >= capacity:
                    st.caption(f"This habit keeps {capacity} references: adding one removes the oldest.")
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

st.subheader(f"References of {choice.describe()} ({len(records)} of {capacity})" if choice.ready else "References")
for notice in notices:
    st.success(notice)
for problem in problems:
    st.error(problem)
if choice.ready and not records:
    st.caption("No references stored for this habit yet.")
reference_list(records)
if choice.ready:
    try:
        habits = known_habits(store.users(), choice.user)
    except StoreError:
        habits = []  # only a hint: the list above already said whether the store answers
    if habits:
        st.caption(f"Habits of '{choice.user}' with references: {', '.join(habits)}.")
