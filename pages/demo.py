"""Demo page: the whole flow on one screen, for a projector or a phone.

Pick (or take) a reference and see it accepted with its keypoints; pick (or
take) a new photo; see the verdict in plain words with the lines that agree;
then the tag check on the same photo.  The profile's default rule decides
(as the API does), then the replay rule (the proof must be a new photo, as
on the Verify page); there is no threshold sidebar here.
"""

from __future__ import annotations

import streamlit as st

from ui.decide import page_verdict
from ui.examples import REFERENCES, any_new_photos, demo_queries, scenario_of
from ui.pickers import forget_upload, photo_input
from ui.render import contract_words, figures, inject_css, legend, replay_picture, scroll_into_view, verdict_card
from ui.resources import decoded, prepared, registration, tagger
from ui.sidebar import prepare_state
from vision import rules
from vision.core import verdict as v
from vision.core.errors import ImageInputError
from vision.flows.prepare import unreadable_photo
from vision.tagging import TaggerError, tag_verdict
from vision.views.draw import draw_keypoints, draw_match_view, legend_rows
from vision.views.plain import plain_message
from vision.views.replay_step import replay_match_view

thresholds = prepare_state()
inject_css()
st.title("Same thing, new photo?")
st.caption(
    "A habit app keeps a reference photo of something (a desk, a plant, a building) and later checks that a new "
    "photo shows the same thing. Pick both below, or take your own."
)


def details(*verdicts: v.Verdict, lines: tuple[str, ...] = ()) -> None:
    """The engineers' part, folded: the contract's answers and how the verdict was reached."""
    with st.expander("Details"):
        for line in lines:
            st.caption(line)
        for verdict in verdicts:
            st.caption(contract_words(verdict))


pick_col, verdict_col = st.columns([1.15, 1], gap="large")
with pick_col:
    st.markdown("**1 · The reference**")
    reference = photo_input("demo_ref", "Reference photo", REFERENCES, REFERENCES[0], compact=True)
    accepted_box = st.container()
    st.markdown("**2 · The new photo**")
    scenario = scenario_of(reference.example.path) if reference and reference.example else None
    if scenario is not None:
        new = photo_input(
            f"demo_new_{scenario.key}", "New photo", demo_queries(scenario), scenario.default_query, compact=True
        )
    else:
        new = photo_input("demo_new", "New photo", any_new_photos(), source="Upload", compact=True)
# After each pick, a phone scrolls here (on a wide screen the answer is beside the pickers already).
verdict_box = verdict_col.container(key="demo_answer")
verdict_box.markdown("**3 · The answer**")
choice = f"{reference.name if reference else ''}|{new.name if new else ''}"
if st.session_state.get("demo_last_choice", choice) != choice:
    with verdict_box:
        scroll_into_view("demo_answer", choice)
st.session_state["demo_last_choice"] = choice

if reference is None:
    verdict_box.info("Upload or take the reference photo.")
    st.stop()
if reference.rejected is not None:
    with verdict_box:
        verdict_card(reference.rejected, f"{plain_message(reference.rejected)}: try another photo", contract=False)
        details(reference.rejected)
    st.stop()
reg_verdict, ref = registration(reference.data, thresholds)
with accepted_box:
    if ref is not None:
        n = ref.features.n_detected
        shown = f"{n}+" if n >= thresholds.max_keypoints else str(n)
        points, card = st.columns([1, 2], vertical_alignment="center")
        points.image(draw_keypoints(ref.image, ref.features), width="stretch")
        with card:
            verdict_card(
                reg_verdict,
                f"Accepted: {shown} distinctive points"
                if reg_verdict.result
                else f"Too plain: {shown} distinctive points, {thresholds.min_keypoints} needed",
                small=True,
                contract=False,
            )
    else:
        verdict_card(reg_verdict, small=True, contract=False)
if ref is None or not reg_verdict.result:
    with verdict_box:
        verdict_card(
            v.Verdict(400, v.NO_STD_IMG, False, "the reference was not accepted"),
            "This reference cannot be checked against: pick another",
            contract=False,
        )
        details(reg_verdict)
    st.stop()
if new is None:
    verdict_box.info("Upload or take the new photo of the same thing.")
    st.stop()
if new.rejected is not None:
    with verdict_box:
        verdict_card(new.rejected, f"{plain_message(new.rejected)}: try another", contract=False)
        details(new.rejected)
    st.stop()
try:
    query = prepared(new.data, thresholds.feature_settings)
except ImageInputError as exc:
    forget_upload(new, unreadable_photo(exc, v.MISSING_PICTURE))  # a fresh uploader, the reason kept (reruns)
    with verdict_box:
        unusable = unreadable_photo(exc, v.MISSING_PICTURE)
        verdict_card(unusable, f"{plain_message(unusable)}: try another")
    st.stop()

# --- the verdict: the profile's default rule, as the API decides ------------------
rule = thresholds.rule
decided = page_verdict(rule, (reference.data, ref.features, ref.image), (new.data, query), thresholds)
outcome, replayed = decided.replayed.outcome, decided.replayed
view = replay_match_view(replayed, scenario.noun if scenario else "thing")
example = new.example
with verdict_box:
    # one sentence and its number; the rest is under "Details"
    verdict_card(outcome.verdict, view.headline, contract=False)
    if example is not None and example.derived:
        st.caption(f"{example.title}: {example.note}.")
    if example is not None and example.if_rejected and not outcome.verdict.result:
        st.info(example.if_rejected)
    tag = scenario.tag if scenario else ""
    tagged = None
    if tag:
        try:
            tagged = tag_verdict(tagger("local"), decoded(new.data), tag, thresholds.tag_min_confidence)
        except (TaggerError, ImageInputError) as exc:
            tagged = v.Verdict(400, v.NO_TAG, False, str(exc))
        score = tagged.extra.get("score")
        sure = f" ({score:.0%} sure)" if tagged.result and isinstance(score, float) else ""
        head = f"Tag check: it shows a {tag}{sure}" if tagged.result else f"Tag check: no {tag} here"
        verdict_card(tagged, head, small=True, contract=False)
    with st.expander("Details"):
        if view.detail:
            st.caption(view.detail)
        figures(view.figures)
        st.caption(f"Decided as the API decides, by the rule {rules.get(outcome.rule).label}.")
        for said in (outcome.verdict, tagged):
            if said is not None:
                st.caption(contract_words(said))
    if replayed.picture is not None and replayed.replay:  # the evidence of this verdict, right under it
        replay_picture(replayed, stacked=True)

st.image(
    draw_match_view(ref.image, query.image, view, legend=False),
    caption="Reference (left) and new photo (right): the points that line up, and where the reference lies",
    width="stretch",
)
legend(legend_rows(view, False, 100, query.image.shape))
if replayed.picture is not None and not replayed.replay:  # what the replay rule compared, and its finding
    replay_picture(replayed)
