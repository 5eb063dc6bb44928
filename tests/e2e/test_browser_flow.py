"""The dashboard in a real browser, walked the way a person uses it.

Register a bundled sample for a user, verify a matching and a different photo
against it, move a threshold slider, tag a photo, run the Tuning lab on the
bundled set.  Streamlit reruns after each action; the assertions use
Playwright's auto-waiting ``expect`` instead of sleeps.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from . import harness as h

pytestmark = pytest.mark.e2e

REF = "images/lightglue/DSC_0410.JPG"
SAME = "images/lightglue/DSC_0411.JPG"
OTHER = "images/vlfeat/river1.jpg"
USER = "alice_e2e"
# A landmark pair with ~150 inliers: accepted at the default 15, refused at the slider's maximum 200.
LANDMARK_REF = "images/sacre_coeur/17295357_9106075285.jpg"
LANDMARK_QUERY = "images/sacre_coeur/93341989_396310999.jpg"
ORIGINAL_TOGGLE = "Also score the original note's rule (full resolution, slow)"
# The scatter as drawn (the first chart of the Tuning lab; canvas or SVG), to see it redrawn.
SCATTER_PIXELS = """() => {
    const chart = document.querySelector('[data-testid="stVegaLiteChart"]');
    const canvas = chart && chart.querySelector('canvas');
    if (canvas) return canvas.toDataURL();
    const svg = chart && chart.querySelector('svg');
    return svg ? svg.innerHTML : '';
}"""


def _image_loaded(page, caption: str) -> None:
    """The ``st.image`` with ``caption`` is shown and its picture has actually been loaded."""
    image = h.images_with_caption(page, caption).locator("img").first
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())


def _hover_a_pair(page, chart) -> tuple[int, int, str]:
    """Move the mouse over ``chart`` (5 px steps) until Vega's tooltip names a pair: where, and the tooltip."""
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    tip = page.locator("#vg-tooltip-element.visible")
    for y in range(int(box["y"]) + 10, int(box["y"] + box["height"]) - 60, 5):
        for x in range(int(box["x"]) + 40, int(box["x"] + box["width"]) - 120, 5):
            page.mouse.move(x, y)
            if tip.count() and " vs " in tip.inner_text():
                return x, y, tip.inner_text()
    raise AssertionError("no point of the scatter showed a tooltip")


def test_register_then_verify_matching_and_different_photo(app_page) -> None:
    page = app_page
    # --- Register: the default sample is checked, then stored for a new user.
    expect(page.locator("h1")).to_contain_text("Register a reference photo")
    expect(h.selectbox_field(page, "Sample photo")).to_have_value(REF)
    h.fill_text(page, "User id", USER)
    store = page.get_by_role("button", name=f"Store as reference for '{USER}'")
    expect(store).to_be_visible()
    expect(h.verdict_box(page, "Verdict: Good Picture")).to_be_visible()
    _image_loaded(page, "Keypoints at working resolution")
    store.click()
    expect(h.verdict_box(page, "Stored as")).to_be_visible()
    expect(page.get_by_text(f"References of '{USER}'")).to_be_visible()
    expect(page.get_by_test_id("stMainBlockContainer")).to_contain_text(re.compile(r"\d+ keypoints · 1024x682"))
    h.assert_no_exception(page)

    # --- Verify against the user's latest reference: the matching photo is the default.
    h.open_page(page, "Verify", "Verify a new photo")
    h.choose_option(page, "User", USER)
    expect(h.selectbox_field(page, "Sample photo")).to_have_value(SAME)
    expect(h.verdict_box(page, "Verdict: Complete")).to_be_visible()
    _image_loaded(page, "Reference (left) and new photo (right)")
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text="Reason:").first).to_contain_text("inliers")
    h.assert_no_exception(page)

    # --- A photo of another scene is refused.
    h.choose_option(page, "Sample photo", OTHER)
    expect(h.verdict_box(page, "Verdict: You took wrong picture")).to_be_visible()
    expect(h.verdict_box(page, "Verdict: Complete")).to_have_count(0)
    _image_loaded(page, "Reference (left) and new photo (right)")
    h.assert_no_exception(page)


def test_threshold_slider_changes_the_verdict(app_page) -> None:
    page = app_page
    h.open_page(page, "Verify", "Verify a new photo")
    # The robust rule decides on the inliers alone, so "Minimum inliers" is the slider that matters.
    h.choose_radio(page, "Decision rule", "robust")
    h.choose_radio(page, "Reference", "A bundled sample")  # no stored reference needed
    h.choose_option(page, "Sample reference", LANDMARK_REF)
    h.choose_option(page, "Sample photo", LANDMARK_QUERY)
    inliers = page.get_by_test_id("stMetric").filter(has_text="Inliers").filter(has_not_text="ratio")
    expect(inliers.get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^\s*1[0-9]{2}\s*$"))
    expect(h.verdict_box(page, "Verdict: Complete")).to_be_visible()
    assert h.slider_value(page, "Minimum inliers") == "15"

    # Demand more inliers than any pair has: the same photo is now refused.
    h.press_slider(page, "Minimum inliers", "End")
    expect(h.slider_thumb(page, "Minimum inliers")).to_have_value("200")
    expect(h.verdict_box(page, "Verdict: You took wrong picture")).to_be_visible()
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text="Reason:").first).to_contain_text("inliers <")

    # Back to the lowest setting: accepted again; the slider keeps its value on another page.
    h.press_slider(page, "Minimum inliers", "Home")
    expect(h.verdict_box(page, "Verdict: Complete")).to_be_visible()
    h.open_page(page, "Tag", "Tag check")
    assert h.slider_value(page, "Minimum inliers") == "4"
    h.assert_no_exception(page)


def test_tag_a_photo(app_page) -> None:
    page = app_page
    h.open_page(page, "Tag", "Tag check")
    expect(h.selectbox_field(page, "Sample photo")).to_have_value("tag/coffee.jpg")
    expect(h.verdict_box(page, "Verdict: Matched")).to_be_visible()
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    _image_loaded(page, "tag/coffee.jpg")

    h.fill_text(page, "Tag", "giraffe")
    expect(h.verdict_box(page, "Verdict: Not Matched")).to_be_visible()
    h.assert_no_exception(page)


def test_tuning_lab_on_the_bundled_set(app_page) -> None:
    page = app_page
    h.open_page(page, "Tuning lab", "Tuning lab")
    expect(h.widget(page, "stRadio", "Labelled set").get_by_role("radio", name="Bundled samples")).to_be_checked()
    expect(page.get_by_test_id("stMainBlockContainer")).to_contain_text(
        re.compile(r"\d+ pairs, \d+ same / \d+ different")
    )
    # The original note's rule runs at full resolution: leave it out to keep the run short.
    h.set_toggle(page, ORIGINAL_TOGGLE, False)
    h.wait_until_idle(page)
    page.get_by_role("button", name="Run", exact=True).click()

    charts = page.get_by_test_id("stVegaLiteChart")
    expect(charts).to_have_count(4, timeout=h.TUNE_TIMEOUT_MS)  # scatter, two histograms, ROC: live Altair charts
    expect(page.get_by_test_id("stMetric").filter(has_text="ROC AUC (fused score)")).to_contain_text(
        re.compile(r"0\.\d{3}|1\.000")
    )
    expect(page.get_by_text(re.compile(r"^\d+ / \d+ · 95 %: "))).to_have_count(3)  # counts under each rate
    h.wait_until_idle(page)
    h.assert_no_exception(page)

    # Hovering a point of the scatter names its pair; clicking it opens that pair's match view.
    x, y, tip = _hover_a_pair(page, charts.first)
    assert re.search(r"pair\s+\S+ vs \S+.*truth\s+(same|different).*verdict\s+(accepted|rejected)", tip, re.S), tip
    pair = re.search(r"(\S+ vs \S+)", tip)[1]
    shown = h.images_with_caption(page, pair)
    before = shown.count()  # the errors gallery may show it too
    page.mouse.click(x, y)
    expect(shown).to_have_count(before + 1)
    h.wait_until_idle(page)

    # A decision slider re-decides every pair from the cached run (no new run) and the scatter is redrawn.
    before = page.evaluate(SCATTER_PIXELS)
    h.press_slider(page, "Minimum inliers", "End")
    page.wait_for_function(f"before => ({SCATTER_PIXELS})() !== before", arg=before)
    expect(page.get_by_role("button", name=re.compile("Run again"))).to_be_visible()
    h.wait_until_idle(page)
    expect(charts).to_have_count(4)
    h.assert_no_exception(page)
