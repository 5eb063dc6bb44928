"""AppTest of the Verify page: stored and sample references, sliders, rules, bad uploads."""

from __future__ import annotations

from pathlib import Path

from page_helpers import open_page, texts

from vision.pipeline import prepare_photo
from vision.profile import Profile
from vision.references import save_reference
from vision.store import LocalReferenceStore

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
REF, SAME, OTHER = "images/lightglue/DSC_0410.JPG", "images/lightglue/DSC_0411.JPG", "images/vlfeat/river1.jpg"


def _register(store_dir: Path, user: str, sample: str) -> str:
    data = (SAMPLES / sample).read_bytes()
    photo = prepare_photo(data, Profile().feature_settings)
    return save_reference(LocalReferenceStore(store_dir), user, data, photo).key


def test_no_reference_yet(store_dir):
    at = open_page("pages/verify.py")
    assert "You don't have std img" in texts(at)


def test_users_latest_reference_complete_then_wrong(store_dir):
    _register(store_dir, "bob", REF)
    at = open_page("pages/verify.py")
    assert at.selectbox(key="verify_user").value == "bob"
    said = texts(at)
    assert "Complete" in said and "inliers >=" in said
    assert len(at.get("image")) >= 1  # the drawMatches view
    at.selectbox(key="verify_sample").set_value(OTHER).run()
    assert "You took wrong picture" in texts(at)


def test_decision_slider_updates_without_recompute(store_dir):
    _register(store_dir, "bob", REF)
    at = open_page("pages/verify.py")
    # the default (learned) rule says which evidence decided; AKAZE is conclusive here, XFeat did not run
    assert "Complete" in texts(at) and "Reason: AKAZE" in texts(at)
    assert any("Decided by:** AKAZE" in m.value for m in at.markdown)
    assert {m.label: m.value for m in at.metric}["XFeat inliers (checked)"] == "not run"
    at.radio(key="verify_rule").set_value("robust").run()  # the slider below is the robust rule's
    values = {m.label: m.value for m in at.metric}
    inliers = int(values["Inliers"])
    at.slider(key="th_min_inliers").set_value(min(200, inliers + 1)).run()
    if inliers + 1 <= 200:
        said = texts(at)
        assert "You took wrong picture" in said and "inliers <" in said
    at.slider(key="th_min_inliers").set_value(15).run()
    assert "Complete" in texts(at)


def test_any_stored_reference_and_original_rule(store_dir):
    key = _register(store_dir, "carol", REF)
    at = open_page("pages/verify.py")
    at.radio(key="verify_mode").set_value("Any stored reference").run()
    assert at.selectbox(key="verify_key").value == key
    at.radio(key="verify_rule").set_value("original").run()
    assert "original rule: area" in texts(at)


def test_sample_reference_raw_toggle_and_bad_upload(store_dir):
    at = open_page("pages/verify.py")
    at.radio(key="verify_mode").set_value("A bundled sample").run()
    assert "Complete" in texts(at)
    at.toggle(key="verify_raw").set_value(True).run()
    assert not at.exception
    at.radio(key="verify_source").set_value("Upload").run()
    at.file_uploader(key="verify_upload").set_value(("bad.jpg", b"\xff\xd8\xff\xe0garbage", "image/jpeg")).run()
    assert not at.exception
    assert "Missing Picture" in texts(at)


def test_missing_reference_image_is_missing_std_picture(store_dir):
    key = _register(store_dir, "dave", REF)
    for blob in store_dir.rglob("*"):
        if blob.is_file() and not blob.name.endswith(".json"):
            blob.unlink()
    at = open_page("pages/verify.py")
    assert "Missing Std Picture" in texts(at), key
