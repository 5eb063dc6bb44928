"""AppTest of the Verify page: the verdict and every number beside it come from the rule that decided."""

from __future__ import annotations

import re
from pathlib import Path

from page_helpers import figure_values, headlines, open_page, texts

from vision.flows.prepare import prepare_photo
from vision.flows.references import save_reference
from vision.profile import Profile
from vision.store import LocalReferenceStore

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
REF = "images/lightglue/DSC_0410.JPG"
OTHER_BUILDING = "images/sacre_coeur/17295357_9106075285.jpg"
COFFEE = "tag/coffee.jpg"


def _register(store_dir: Path, user: str, sample: str) -> str:
    data = (SAMPLES / sample).read_bytes()
    photo = prepare_photo(data, Profile().feature_settings)
    return save_reference(LocalReferenceStore(store_dir), user, data, photo).key


def _pick(at, key: str, path: str):
    """Click the thumbnail button of ``path`` in the picker ``key``."""
    at.button(key=f"{key}__{path}").click().run()
    assert not at.exception, at.exception
    return at


def test_no_reference_yet_starts_on_the_examples(store_dir):
    at = open_page("pages/verify.py")
    assert at.radio(key="verify_mode").value == "An example"
    assert headlines(at)[0].startswith("✅ Same building:")
    at.radio(key="verify_mode").set_value("A user's latest reference").run()
    assert "You don't have std img" in texts(at) and "No reference photo yet" in headlines(at)[0]


def test_first_impression_after_registering_is_the_matching_photo(store_dir):
    _register(store_dir, "bob", REF)
    at = open_page("pages/verify.py")
    assert at.selectbox(key="verify_user").value == "bob"
    assert re.match(r"✅ Same building: \d+ points line up", headlines(at)[0])
    assert "Complete" in texts(at)
    assert len(at.get("image")) >= 1  # the match picture
    _pick(at, "verify_facade_example", COFFEE)
    assert headlines(at)[0].startswith("❌ Different:") and "You took wrong picture" in texts(at)


def test_fused_implausible_fit_counts_no_inliers(store_dir):
    """Under fused, an implausible homography scores 0 inliers: the page says 0 and compares no similarity."""
    _register(store_dir, "bob", REF)
    at = open_page("pages/verify.py")
    at.radio(key="verify_rule").set_value("fused").run()
    _pick(at, "verify_facade_example", OTHER_BUILDING)
    assert "implausible homography" in texts(at)
    figures = figure_values(at)
    assert figures["Points that line up"] == "0"
    assert figures["Outline in the new photo"] == "none"
    assert "needs" not in _chip(at, "Look-alike score")  # not weighed: no impossible requirement shown
    assert headlines(at)[0] == "❌ Different: no points line up, 8 needed"
    at.toggle(key="verify_others").set_value(True).run()  # the rejected matches, faint
    assert not at.exception


def test_learned_default_rule_shows_the_matcher_that_counted(store_dir):
    _register(store_dir, "bob", REF)
    at = open_page("pages/verify.py")
    assert at.radio(key="verify_rule").value == "learned"
    figures = figure_values(at)
    assert figures["Counted by"] == "AKAZE" and figures["AKAZE / XFeat"].endswith("/ not run")
    assert re.match(r"✅ Same building: \d+ points line up", headlines(at)[0])


def _chip(at, label: str) -> str:
    markup = "\n".join(m.value for m in at.markdown)
    found = re.search(rf'<div class="fl">{re.escape(label)}</div>.*?</div></div>', markup)
    return found.group(0) if found else ""


def test_robust_slider_updates_the_verdict(store_dir):
    _register(store_dir, "bob", REF)
    at = open_page("pages/verify.py")
    at.radio(key="verify_rule").set_value("robust").run()
    inliers = int(figure_values(at)["Points that line up"])
    at.slider(key="th_min_inliers").set_value(min(200, inliers + 1)).run()
    if inliers + 1 <= 200:
        assert headlines(at)[0] == f"❌ Different: only {inliers} points line up, {inliers + 1} needed"
    at.slider(key="th_min_inliers").set_value(15).run()
    assert headlines(at)[0].startswith("✅ Same building")


def test_original_rule_shows_its_own_evidence(store_dir):
    _register(store_dir, "carol", REF)
    at = open_page("pages/verify.py")
    at.radio(key="verify_rule").set_value("original").run()
    figures = figure_values(at)
    assert figures["Best matches used"] == "80" and figures["Outline area"].endswith("px²")
    assert "Points that line up" not in figures  # no robust-pipeline numbers beside its verdict
    assert "original rule: area" in texts(at)
    # its sidebar holds only the threshold it reads
    assert [s.key for s in at.sidebar.number_input] == ["th_original_min_area_px"]
    assert not at.sidebar.slider


def test_any_stored_reference_is_listed_by_user_and_date(store_dir):
    key = _register(store_dir, "carol", REF)
    at = open_page("pages/verify.py")
    at.radio(key="verify_mode").set_value("Any stored reference").run()
    box = at.selectbox(key="verify_key")
    assert box.value == key
    assert all(option.startswith("carol · ") and "UTC" in option for option in box.options)
    assert not any(re.search(r"[0-9a-f]{32}", option) for option in box.options)  # no hex keys on screen


def test_bad_upload_is_missing_picture(store_dir):
    at = open_page("pages/verify.py")
    at.radio(key="verify_facade_source").set_value("Upload").run()
    at.file_uploader(key="verify_facade_upload").set_value(("bad.jpg", b"\xff\xd8\xff\xe0garbage", "image/jpeg")).run()
    assert not at.exception
    assert "Missing Picture" in texts(at)


def test_missing_reference_image_is_missing_std_picture(store_dir):
    key = _register(store_dir, "dave", REF)
    for blob in store_dir.rglob("*"):
        if blob.is_file() and not blob.name.endswith(".json"):
            blob.unlink()
    at = open_page("pages/verify.py")
    assert "Missing Std Picture" in texts(at), key


def test_a_pair_opened_from_the_lab_is_verified_at_the_lab_s_thresholds(store_dir):
    from ui.handoff import Handoff

    at = open_page("pages/verify.py")
    ref, query = (SAMPLES / REF).read_bytes(), (SAMPLES / "images/lightglue/DSC_0411.JPG").read_bytes()
    at.session_state["verify_handoff"] = Handoff("a/ref.jpg", ref, "a/query.jpg", query, "bundled samples")
    at.session_state["th_min_inliers"] = 150  # moved in the lab: the Verify page decides by it too
    at.run()
    assert not at.exception, at.exception
    said = texts(at)
    assert "From the Tuning lab (bundled samples): a/ref.jpg vs a/query.jpg." in said
    assert headlines(at)[0].startswith("✅ Same")  # 600+ points: still accepted at 150
    at.button(key="verify_handoff_clear").click().run()
    assert "From the Tuning lab" not in texts(at)


def test_an_unusable_photo_says_what_is_wrong(store_dir, make_jpeg):
    """Issue 23 item 9: "too small: 1x1 px", not "could not be read: take it again"."""
    import cv2
    import numpy as np

    from ui.handoff import Handoff

    ok, tiny = cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))
    assert ok
    at = open_page("pages/verify.py")
    ref = (SAMPLES / REF).read_bytes()
    at.session_state["verify_handoff"] = Handoff("ref.jpg", ref, "tiny.png", tiny.tobytes(), "a test")
    at.run()
    assert not at.exception, at.exception
    assert headlines(at)[0].endswith("This photo cannot be used: too small: 1x1 px")
