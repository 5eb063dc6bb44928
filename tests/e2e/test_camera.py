"""Taking the photo with the camera, through chromium's fake capture device.

``--use-fake-device-for-media-stream`` makes chromium's camera a moving test
pattern and ``--use-fake-ui-for-media-stream`` (plus the granted permission)
skips the permission prompt.  The pattern may have few keypoints, so any of
the contract's registration verdicts counts, as long as the photo arrived
and nothing raised.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from . import harness as h

pytestmark = pytest.mark.e2e

REGISTRATION_VERDICTS = re.compile(r"(Good Picture|Too Little Features|Take Picture Again|Something Wrong)")


def test_register_a_camera_photo(camera_page) -> None:
    page = camera_page
    h.open_page(page, "Register", "Register a reference photo")
    h.choose_radio(page, "Photo source", "Camera")

    camera = page.get_by_test_id("stCameraInput")
    expect(camera.locator("video")).to_be_visible()
    # The stream is live once the video has frames; only then does "Take Photo" capture one.
    page.wait_for_function("v => v.readyState >= 2 && v.videoWidth > 0", arg=camera.locator("video").element_handle())
    camera.get_by_role("button", name=re.compile("Take photo", re.IGNORECASE)).click()

    # The shot is shown in the widget and sent to the app, which checks it.
    expect(camera.get_by_role("button", name=re.compile("Clear photo", re.IGNORECASE))).to_be_visible()
    expect(page.locator(".vcard .vcontract").first).to_contain_text(REGISTRATION_VERDICTS)
    expect(h.figure_value(page, "Photo")).to_have_text(re.compile(r"^\d+x\d+$"))
    h.wait_until_idle(page)
    h.assert_no_exception(page)
