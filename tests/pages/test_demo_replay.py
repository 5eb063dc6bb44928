"""AppTest of the Demo page's replay check: the reference sent again is caught, with its difference image."""

from __future__ import annotations

from page_helpers import headlines, open_page, texts

from ui.examples import REFERENCES, SENT_AGAIN, demo_queries, scenario_of

REF = "images/lightglue/DSC_0410.JPG"


def _pictures(at) -> int:
    """The page's pictures that are not picker thumbnails (keypoints, matches, difference image)."""
    thumbnails = len(REFERENCES) + len(demo_queries(scenario_of(REF)))  # type: ignore[arg-type]
    return len(at.get("image")) - thumbnails


def test_the_reference_sent_again_is_not_a_new_photo(store_dir):
    scenario = scenario_of(REF)
    assert scenario is not None
    again = demo_queries(scenario)[-1]
    assert again.resent == SENT_AGAIN and again.path == REF and again.read() != scenario.reference.read()
    at = open_page("pages/demo.py")
    at.button(key=f"demo_new_facade_example__{again.key}").click().run()
    assert not at.exception, at.exception
    verdict = headlines(at)[1]
    assert verdict == "❌ Not a new photo: this is the reference photo sent again"
    said = texts(at)
    assert "You took wrong picture" in said and "not a new photo: it repeats the reference photo" in said
    # the aligned difference, captioned once by the replay check that made the verdict
    captions = [c.value for c in at.caption if c.value.startswith("Replay check:")]
    assert len(captions) == 1 and "a copy" in captions[0]
    assert _pictures(at) == 5  # keypoints, matches, and the replay check's aligned reference, new photo, difference


def test_a_genuine_new_photo_passes_the_replay_check(store_dir):
    at = open_page("pages/demo.py")  # default: the facade from another angle, a genuine re-photograph
    assert headlines(at)[1].startswith("✅ Same building")
    said = texts(at)
    assert "You took wrong picture" not in said and "A new photo: " in said
    assert _pictures(at) == 5  # the replay check's pictures are shown for a genuine photo too (what it measured)
