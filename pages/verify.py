"""Verify page: a new photo against a reference, with the evidence of the rule that made the verdict."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ui.examples import any_new_photos, scenario_of_bytes
from ui.pickers import photo_input
from ui.reference_picker import choose_reference
from ui.render import figures, inject_css, replay_picture, show_timings, verdict_card
from ui.resources import embedded, matches, original, prepared, stored_reference, with_xfeat
from ui.sidebar import RULE_CONTROLS, prepare_state, render_sidebar
from vision.core import verdict as v
from vision.core.errors import ImageInputError
from vision.flows.prepare import unreadable_photo
from vision.rules import get as get_rule
from vision.store import StoreError
from vision.views.draw import draw_match_view
from vision.views.outcome import available_rules, needs_embedding, needs_xfeat, rule_outcome
from vision.views.replay_step import replay_match_view, replay_step

RULE_LABELS = {
    "learned": "learned: AKAZE or XFeat + look-alike",
    "fused": "fused: points + look-alike",
    "robust": "robust: points only",
    "original": "original: the design note",
}

defaults = prepare_state()
inject_css()
st.title("Verify a new photo")
rules = available_rules()
rule = st.radio(
    "Decision rule",
    rules,
    horizontal=True,
    key="verify_rule",
    index=rules.index(defaults.rule) if defaults.rule in rules else 0,
    format_func=lambda r: RULE_LABELS.get(r, get_rule(r).label),
    help="learned (the API's default): points that line up by AKAZE or, when needed, XFeat + LighterGlue, "
    "helped by how alike the photos look; fused: AKAZE points + look-alike; robust: AKAZE points only; "
    "original: the design note's rule (80 best matches, area > 30 px²).",
)
thresholds = render_sidebar(RULE_CONTROLS.get(rule))
settings = thresholds.feature_settings
fused = needs_embedding(rule)

left, right = st.columns(2, gap="large")
# --- the reference ------------------------------------------------------------
with left:
    st.subheader("Reference")
    try:
        chosen = choose_reference()
    except StoreError as exc:
        verdict_card(v.Verdict(500, v.MISSING_STD_PICTURE, False, str(exc)))
        st.stop()
    if chosen is None:
        verdict_card(v.Verdict(400, v.NO_STD_IMG, False, "no stored reference for this choice: register one first"))
        st.stop()
    try:
        if chosen.key is not None:
            loaded, ref_image = stored_reference(chosen.key, settings, fused)
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
    if scenario is not None:  # a copy of an example: offer its story, the other angle first
        photo = photo_input(f"verify_{scenario.key}", "New photo source", scenario.queries, scenario.default_query)
    else:  # the user's own reference: their own new photo, not a stranger's building
        photo = photo_input("verify", "New photo source", any_new_photos(), source="Upload")
if photo is None:
    st.info("Upload or take the new photo of the same thing.")
    st.stop()
try:
    query = prepared(photo.data, settings)
except ImageInputError as exc:
    verdict_card(unreadable_photo(exc, v.MISSING_PICTURE))
    st.stop()

# --- the rule's verdict and its own evidence (cheap: reruns on every slider move) ---
pair = matches(ref_features, query.features)
if fused:  # global descriptors: cached per photo, the kNN matches are reused
    pair = replace(pair, ref=embedded(ref_features, ref_image), query=embedded(query.features, query.image))
if needs_xfeat(rule):  # XFeat runs on the new photo only when AKAZE is not conclusive
    pair = replace(pair, ref=with_xfeat(pair.ref, ref_image))
full = original(ref_bytes, photo.data) if rule == "original" else None
sizes = ((ref_image.shape[1], ref_image.shape[0]), (query.image.shape[1], query.image.shape[0]))
outcome, decide_ms = rule_outcome(rule, pair, thresholds, *sizes, original=full, query_image=query.image)
# the replay rule: is the new photo a copy of the reference?
replayed = replay_step(outcome, ref_image, ref_features, query.image, query.features, thresholds)
outcome = replayed.outcome
view = replay_match_view(replayed, scenario.noun if scenario else "thing")

verdict_card(outcome.verdict, view.headline, view.detail)
figures(view.figures)
show_others = st.toggle(f"Also show the {view.others_name}, faint", key="verify_others", disabled=not len(view.others))
st.image(
    draw_match_view(ref_image, query.image, view, show_others),
    caption=f"Reference (left) and new photo (right), as the {outcome.rule} rule saw them",
    width="stretch",
)
timings = {**query.timings, **({"match": pair.match_ms} if rule != "original" else {}), **decide_ms}
show_timings(timings)
replay_picture(replayed)
