"""Verify page: a new photo against a reference, with the evidence of the rule that made the verdict."""

from __future__ import annotations

import streamlit as st

from ui.decide import page_verdict
from ui.examples import any_new_photos, scenario_of_bytes
from ui.handoff import clear, received
from ui.pickers import Photo, forget_upload, photo_input
from ui.reference_picker import ChosenReference, choose_reference
from ui.render import figures, inject_css, legend, replay_picture, show_timings, verdict_card
from ui.resources import prepared, stored_reference
from ui.sidebar import prepare_state, render_sidebar, rule_controls
from vision import rules
from vision.core import verdict as v
from vision.core.errors import ImageInputError
from vision.flows.prepare import unreadable_photo
from vision.rules.catalogue import default_rule_names, rule_names
from vision.store import StoreError
from vision.views.draw import draw_match_view, legend_rows
from vision.views.plain import plain_message
from vision.views.replay_step import replay_match_view

defaults = prepare_state()
inject_css()
st.title("Verify a new photo")
names = rule_names()
rule = st.radio(
    "Decision rule",
    names,
    horizontal=True,
    key="verify_rule",
    index=names.index(defaults.rule) if defaults.rule in names else 0,
    format_func=lambda r: rules.get(r).label,
    help="Every rule of the catalogue; the profile's rule (the API's) is preselected.",
)
thresholds = render_sidebar(rule_controls(rule))
settings = thresholds.feature_settings
needs = rules.get(rule).needs

handoff = received()  # a pair opened from the Tuning lab (its thresholds are this session's sidebar)
if handoff is not None:
    st.info(f"From the Tuning lab ({handoff.origin}): {handoff.ref_name} vs {handoff.query_name}.")
    st.button("Choose other photos", on_click=clear, key="verify_handoff_clear")
left, right = st.columns(2, gap="large")
# --- the reference ------------------------------------------------------------
with left:
    st.subheader("Reference")
    try:
        chosen = ChosenReference(handoff.ref_name, data=handoff.ref_data) if handoff else choose_reference()
    except StoreError as exc:
        verdict_card(v.Verdict(500, v.MISSING_STD_PICTURE, False, str(exc)))
        st.stop()
    if chosen is None:
        verdict_card(v.Verdict(400, v.NO_STD_IMG, False, "no stored reference for this choice: register one first"))
        st.stop()
    try:
        if chosen.key is not None:
            loaded, ref_image = stored_reference(chosen.key, settings, needs)
            ref_features, ref_bytes = loaded.features, loaded.image
            scenario = scenario_of_bytes(ref_bytes)
        else:
            ref_bytes, scenario = chosen.data or b"", chosen.scenario
            ref_photo = prepared(ref_bytes, settings)
            ref_features, ref_image = ref_photo.features, ref_photo.image
    except (StoreError, ImageInputError) as exc:
        verdict_card(v.Verdict(500, v.MISSING_STD_PICTURE, False, str(exc)))
        st.stop()

# --- the new photo -------------------------------------------------------------
with right:
    st.subheader("New photo")
    if handoff is not None:
        photo: Photo | None = Photo(handoff.query_name, handoff.query_data)
        st.caption(handoff.query_name)
    elif scenario is not None:  # a copy of an example: offer its story, the other angle first
        photo = photo_input(f"verify_{scenario.key}", "New photo source", scenario.queries, scenario.default_query)
    else:  # the user's own reference: their own new photo, not a stranger's building
        photo = photo_input("verify", "New photo source", any_new_photos(), source="Upload")
if photo is None:
    st.info("Upload or take the new photo of the same thing.")
    st.stop()
if photo.rejected is not None:  # refused on the run before, its uploader cleared
    verdict_card(photo.rejected, f"{photo.name}: {plain_message(photo.rejected)}")
    st.stop()
try:
    query = prepared(photo.data, settings)
except ImageInputError as exc:
    forget_upload(photo, unreadable_photo(exc, v.MISSING_PICTURE))  # a fresh uploader, the verdict kept (reruns)
    verdict_card(unreadable_photo(exc, v.MISSING_PICTURE))
    st.stop()

# --- the rule's verdict and its own evidence (cheap: reruns on every slider move) ---
# The verify flow's own steps (the rule, then the replay check on an accepted photo), on cached inputs.
decided = page_verdict(rule, (ref_bytes, ref_features, ref_image), (photo.data, query), thresholds)
outcome, replayed = decided.replayed.outcome, decided.replayed
view = replay_match_view(replayed, scenario.noun if scenario else "thing")

deciding = rules.get(outcome.rule)
if outcome.rule not in default_rule_names():  # a comparison-only rule says so beside its verdict
    st.caption(f"Decided by the {deciding.label}: not a rule the API may use.")
verdict_card(outcome.verdict, view.headline, view.detail)
figures(view.figures)
if not deciding.aligns:
    st.caption("Replay check: not run; this rule gives no alignment to compare the photos by.")
show_others = st.toggle(f"Also show the {view.others_name}, faint", key="verify_others", disabled=not len(view.others))
st.image(
    draw_match_view(ref_image, query.image, view, show_others, legend=False),
    caption=f"Reference (left) and new photo (right), as the {outcome.rule} rule saw them",
    width="stretch",
)
legend(legend_rows(view, show_others, 100, query.image.shape))
show_timings(decided.verification.timings)
replay_picture(replayed)
