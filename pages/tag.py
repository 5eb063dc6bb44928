"""Tag page: which concepts does a photo show, and does it match the tag the app asks for?"""

from __future__ import annotations

import streamlit as st

from ui.photo import photo_input
from ui.render import show_verdict
from ui.resources import clarifai_available, concepts, decoded, tagger
from ui.sidebar import render_sidebar
from vision import verdict as v
from vision.errors import ImageInputError
from vision.pipeline import unreadable_photo
from vision.tagging import TaggerError, tag_verdict

BACKEND_LABELS = {
    "local": "Offline (EfficientNet-Lite0, ImageNet + WordNet)",
    "clarifai": "Clarifai general-image-recognition",
}

thresholds = render_sidebar()
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
photo = photo_input("tag", "Photo source", default_sample="tag/coffee.jpg")
word = st.text_input("Tag", value="cup", key="tag_word", help="Case and plural do not matter.")

if photo is None:
    st.stop()
try:
    image = decoded(photo.data)
except ImageInputError as exc:
    show_verdict(unreadable_photo(exc))
    st.stop()

left, right = st.columns([2, 3])
left.image(image[:, :, ::-1], caption=photo.name)
with right:
    try:
        found = concepts(photo.data, backend)
    except TaggerError as exc:
        show_verdict(v.Verdict(500, v.CLARIFAI_API_FAULT, False, f"{backend} tagger: {exc.cause}"))
        st.stop()
    verdict = tag_verdict(tagger(backend), image, word, thresholds.tag_min_confidence)
    show_verdict(verdict)
    st.bar_chart(
        {"concept": [c.name for c in found], "confidence": [c.score for c in found]},
        x="concept",
        y="confidence",
        horizontal=True,
        sort="-confidence",
    )
    st.caption(f"Minimum confidence {thresholds.tag_min_confidence:.2f} (sidebar)")
