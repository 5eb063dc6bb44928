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
    assert verdict == "❌ Not a new photo: this repeats the reference photo"
    said = texts(at)
    assert "You took wrong picture" in said and "not a new photo: it repeats the reference photo" in said
    # the aligned difference image, captioned by the replay finding that made the verdict
    assert "Replay check: reference aligned onto the new photo" in said and "Replay: it repeats" in said
    assert "correlation" in said
    assert _pictures(at) == 3  # keypoints, matches and the difference image
    captions = [c.value for c in at.caption if c.value.startswith("Replay check:")]
    assert len(captions) == 1


def test_a_genuine_new_photo_passes_the_replay_check(store_dir):
    at = open_page("pages/demo.py")  # default: the facade from another angle, a genuine re-photograph
    assert headlines(at)[1].startswith("✅ Same building")
    said = texts(at)
    assert "You took wrong picture" not in said and "New photo: " in said
    assert _pictures(at) == 3  # the difference image is shown for a genuine photo too (what the rule measured)
