"""AppTest of the Demo's answer (issue 23): one plain sentence, honest examples, nothing that contradicts itself."""

from __future__ import annotations

import re

from page_helpers import card, figure_values, headlines, open_page, texts

from ui.examples import SCENARIOS, demo_queries, scenario_of

FACADE = "images/lightglue/DSC_0410.JPG"
LANDMARK = "images/sacre_coeur/17295357_9106075285.jpg"
TERRACE = "images/lines/terrace0.JPG"
JARGON = ("API answer", "AKAZE", "XFeat", "LighterGlue", "inlier", "log(1", ">=", "You don't have std img")


def _pick(at, key: str, example_key: str):
    at.button(key=f"{key}__{example_key}").click().run()
    assert not at.exception, at.exception
    return at


def _query(reference: str, title: str):
    scenario = scenario_of(reference)
    assert scenario is not None
    return scenario, next(q for q in demo_queries(scenario) if q.title == title)


def _open_on(reference: str, title: str):
    scenario, query = _query(reference, title)
    at = open_page("pages/demo.py")
    if reference != FACADE:
        _pick(at, "demo_ref_example", reference)
    return _pick(at, f"demo_new_{scenario.key}_example", query.key)


def _cards(at) -> list[str]:
    """The text of every verdict card (the answer, the reference's, the tag check's)."""
    return [card(m.value) for m in at.markdown if 'class="vcard' in m.value]


def _details(at) -> str:
    found = [e for e in at.expander if e.label == "Details"]
    assert found, "a Details expander"
    return "\n".join(c.value for d in found for c in d.caption) + "\n".join(
        card(m.value) for d in found for m in d.markdown
    )


def test_derived_examples_say_so_on_screen_and_the_real_night_photo_says_what_to_do(store_dir):
    """Item 1: no hover on a phone, so a darkened copy says what it is on screen."""
    derived = [q for s in SCENARIOS for q in s.queries if q.derived]
    assert derived and all(q.title.startswith("Simulated") for q in derived)
    at = _open_on(FACADE, "Simulated night")
    assert "Simulated night: a darkened copy" in texts(at)
    at = _open_on(LANDMARK, "Real night photo")
    # XFeat's inliers on the lit facade, checked where they lie (issue 20), accept it; the hint is only for a rejection
    assert headlines(at)[1].startswith("✅ Same landmark:")
    assert not any("register a night photo" in i.value for i in at.info)


def test_the_answer_is_one_sentence_and_the_rest_is_behind_details(store_dir):
    """Item 3: no contract words, matcher names or formulas on the cards; they are under "Details"."""
    for reference, title in ((FACADE, "Another angle"), (TERRACE, "Another building"), (LANDMARK, "Real night photo")):
        at = _open_on(reference, title)
        for said in _cards(at):
            assert not any(word in said for word in JARGON), said
        assert not figure_values(at).keys() - _detail_chips(at)  # every chip is inside Details
        assert "API answer: 200" in _details(at)


def _detail_chips(at) -> set[str]:
    markup = "\n".join(m.value for d in at.expander for m in d.markdown)
    return set(re.findall(r'<div class="fl">(.*?)</div>', markup))


def test_sent_again_is_said_once_with_the_difference_shown_large(store_dir):
    """Item 4: the replay reason once (under Details), no "points line up" beside it, the difference alone."""
    at = _open_on(FACADE, "Sent again")
    assert headlines(at)[1] == "❌ Not a new photo: this is the reference photo sent again"
    said = texts(at)
    assert said.count("correlation") == 1 and said.count("repeats the reference photo") == 1
    assert "line up" not in "\n".join(_cards(at))
    assert "Points that line up" not in figure_values(at)
    shown = {img.caption for element in at.get("image") for img in element.proto.imgs}
    assert {"The reference, aligned", "The new photo"} <= shown  # small, and the difference drawn on its own


def test_numbers_agree_with_the_headline(store_dir):
    """Item 5: a chip's "needs" is the number the verdict was held to; captions say each thing once."""
    at = open_page("pages/demo.py")  # another angle: accepted by AKAZE alone
    n = figure_values(at)["Points that line up"]
    assert re.search(rf"Points that line up\s+{n}\s+needs 15\b", _details(at))
    assert "inliers >= 15" in _details(at)
    said = texts(at)
    assert "New photo: a new photo" not in said and " or roll" not in said
    correlation = re.search(r"correlation (\d\.\d+); a copy has (\d\.\d+) or more", said)
    assert correlation is not None
    value, line = correlation.groups()
    assert float(value) < float(line)  # never "0.85" for a photo found new because it is under 0.85
    at = _open_on(FACADE, "Another building")
    assert headlines(at)[1] == "❌ Different: no points line up, 10 needed"
    assert re.search(r"Points that line up\s+0\s+needs 10\b", _details(at))


def test_a_rejected_fit_draws_no_counted_lines(store_dir):
    """Item 6: the rejected terrace/rooftops pair draws nothing as counted; a "no" tag says no doubt."""
    at = _open_on(TERRACE, "Another building")
    assert headlines(at)[1].startswith("❌ Different: only 6 points line up")
    legend = [card(m.value) for m in at.markdown if 'class="legend"' in m.value]
    assert legend and "nothing drawn" in legend[0] and "points that line up" not in legend[0]
    assert headlines(at)[2] == "❌ Tag check: no patio here"  # not "(0% sure)"


def test_a_bad_reference_says_what_to_do_without_contract_words(store_dir):
    """Item 3: no "You don't have std img" on a bad reference: the Demo says to pick another, the API's why folded."""
    at = open_page("pages/demo.py")
    at.radio(key="demo_ref_source").set_value("Upload").run()
    at.file_uploader(key="demo_ref_upload").set_value(("bad.jpg", b"\xff\xd8\xff\xe0garbage", "image/jpeg")).run()
    assert not at.exception, at.exception
    for said in _cards(at):
        assert not any(word in said for word in JARGON), said
    assert headlines(at)[-1] == "⚠️ This reference cannot be checked against: pick another"
    assert "Take Picture Again" in _details(at) and "You don't have std img" not in texts(at)
