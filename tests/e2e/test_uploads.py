"""Issue 23, item 11, in chromium: a refused upload leaves no chip behind, and no uploader offers a "+"."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from . import harness as h

pytestmark = pytest.mark.e2e

GOOD = Path(__file__).resolve().parents[2] / "samples" / "images" / "lightglue" / "DSC_0411.JPG"


def test_a_refused_upload_is_cleared_and_one_photo_is_asked_for(app_page, tmp_path) -> None:
    page = app_page
    h.open_page(page, "Verify", "Verify a new photo")
    expect(h.verdict_headline(page)).to_contain_text("Same building")
    h.choose_radio(page, "New photo source", "Upload")
    h.wait_until_idle(page)
    main = page.get_by_test_id("stMainBlockContainer")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not a photo")
    main.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(bad))
    expect(h.verdict_box(page, "Missing Picture")).to_be_visible()
    expect(h.verdict_headline(page)).to_contain_text("broken.jpg")
    expect(main.get_by_test_id("stFileChip")).to_have_count(0)  # its chip is gone: the uploader is empty
    main.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(GOOD))
    expect(h.verdict_headline(page)).to_contain_text("Same building")
    expect(main.get_by_test_id("stFileChip")).to_have_count(1)  # only the new photo's
    expect(main.get_by_role("button", name="Add files")).to_be_hidden()  # one photo: no "+"
    h.assert_no_exception(page)
