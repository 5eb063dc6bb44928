"""Tag page: which concepts does a photo show, and does it match the tag the app asks for?"""

from __future__ import annotations

import streamlit as st

from ui.charts import chart_height, concept_chart
from ui.examples import CAT, COFFEE, REFERENCES, Example
from ui.pickers import photo_input
from ui.render import inject_css, verdict_card
from ui.resources import clarifai_available, concepts, decoded, tagger
from ui.sidebar import PAGE_CONTROLS, render_sidebar
from vision.core import verdict as v
from vision.core.errors import ImageInputError
from vision.flows.prepare import unreadable_photo
from vision.tagging import TaggerError, tag_verdict

BACKEND_LABELS = {
    "local": "Offline (EfficientNet-Lite0, ImageNet + WordNet)",
    "clarifai": "Clarifai general-image-recognition",
}
EXAMPLES = (
    Example(COFFEE.path, "Coffee cup", COFFEE.note),
    Example(CAT.path, "Cat", CAT.note),
    *REFERENCES[:3],
)


def _article(word: str) -> str:
    """'a' or 'an' before ``word`` (by its first letter: enough for the tagger's nouns)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


thresholds = render_sidebar(PAGE_CONTROLS["tag"])
inject_css()
st.title("Tag check")
st.write(
    "Does the photo show the word the app asks for? Tags match class names and their WordNet ancestors "
    "('dog' covers every breed)."
)

backends = ["local", "clarifai"] if clarifai_available() else ["local"]
backend = st.radio(
    "Backend",
    backends,
    format_func=BACKEND_LABELS.get,
    horizontal=True,
    key="tag_backend",
    help="Clarifai is offered when CLARIFAI_PAT is set in the environment or secrets.",
)
photo = photo_input("tag", "Photo source", EXAMPLES, EXAMPLES[0])
word = st.text_input("Tag", value="cup", key="tag_word", max_chars=64, help="Case and plural do not matter.")

if photo is None:
    st.stop()
try:
    image = decoded(photo.data)
except ImageInputError as exc:  # the API answers an unusable photo with 400 No Tag
    verdict_card(unreadable_photo(exc, v.NO_TAG))  # says why, specifically (plain_message)
    st.stop()

left, right = st.columns([2, 3])
left.image(image[:, :, ::-1], caption=photo.name, width="stretch")
with right:
    try:
        found = concepts(photo.data, backend)
    except TaggerError as exc:
        verdict_card(v.Verdict(500, v.CLARIFAI_API_FAULT, False, f"{backend} tagger: {exc.cause}"))
        st.stop()
    if not word.strip():  # nothing asked yet: say what to do, not an error
        st.info("Type a tag to check.")
        st.altair_chart(concept_chart(found, None, thresholds.tag_min_confidence, ""), width="stretch")
        st.stop()
    verdict = tag_verdict(tagger(backend), image, word, thresholds.tag_min_confidence)
    asked, score = verdict.extra.get("concept"), verdict.extra.get("score")
    shown = word.strip()
    if verdict.status != 200:
        headline = None
    elif verdict.result:
        said = asked if isinstance(asked, str) and asked else shown  # the tagger's singular: "a cat", not "a Cats"
        headline = f"Yes: it shows {_article(said)} {said} ({score:.0%} sure)"
    elif asked:
        headline = f"No {shown} found: {score:.0%} sure, {thresholds.tag_min_confidence:.0%} needed"
    else:
        headline = f"No {shown} found: no concept the tagger knows matches '{shown}'"
    verdict_card(verdict, headline)
    chart = concept_chart(found, asked, thresholds.tag_min_confidence, shown)
    st.altair_chart(chart, width="stretch", height=chart_height(len(found) + 1) + 60)
    st.caption(f"Minimum confidence {thresholds.tag_min_confidence:.0%} (sidebar): the dashed red line.")
