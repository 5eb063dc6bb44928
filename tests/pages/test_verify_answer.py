"""AppTest of the Verify page (issue 23): the note's rule labelled, no replay line on a rejection, a clean uploader."""

from __future__ import annotations

from pathlib import Path

from page_helpers import figure_values, headlines, open_page, texts

from vision.flows.prepare import prepare_photo
from vision.flows.references import save_reference
from vision.profile import Profile
from vision.store import LocalReferenceStore

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
REF = "images/lightglue/DSC_0410.JPG"
COFFEE = "tag/coffee.jpg"


def _register(store_dir: Path, user: str, sample: str) -> str:
    data = (SAMPLES / sample).read_bytes()
    photo = prepare_photo(data, Profile().feature_settings)
    return save_reference(LocalReferenceStore(store_dir), user, data, photo).key


def test_the_original_rule_is_labelled_as_the_notes_kept_for_comparison(store_dir):
    """Item 7: the verdict says whose rule it is, that it is kept for comparison, and that no replay check ran."""
    at = open_page("pages/verify.py")
    at.radio(key="verify_rule").set_value("original").run()
    said = texts(at)
    assert "the note's rule, kept for comparison" in said and "not a rule the API may use" in said
    assert "by the note's rule" in headlines(at)[0]
    assert "Replay check: not run" in said


def test_no_replay_check_on_a_rejected_photo(store_dir):
    """Item 8: the replay check runs only on an accepted verdict; a rejection shows no replay line at all."""
    _register(store_dir, "bob", REF)
    at = open_page("pages/verify.py")
    assert figure_values(at)["Replay check"] == "a new photo"  # accepted: it ran
    at.button(key=f"verify_facade_example__{COFFEE}").click().run()
    assert headlines(at)[0].startswith("❌ Different:")
    assert "Replay check" not in figure_values(at)
    assert not [c.value for c in at.caption if c.value.startswith("Replay check:")]


def test_a_refused_upload_leaves_an_empty_uploader(store_dir):
    """Item 11: the refused file's chip does not stay beside the next upload: the uploader starts empty."""
    at = open_page("pages/verify.py")
    at.radio(key="verify_facade_source").set_value("Upload").run()
    at.file_uploader(key="verify_facade_upload").set_value(("bad.jpg", b"\xff\xd8\xff\xe0garbage", "image/jpeg")).run()
    assert not at.exception, at.exception
    assert "Missing Picture" in texts(at) and "bad.jpg" in headlines(at)[0]
    fresh = at.file_uploader(key="verify_facade_upload_1")
    assert not fresh.value  # a new, empty uploader
    fresh.set_value(("new.jpg", (SAMPLES / "images/lightglue/DSC_0411.JPG").read_bytes(), "image/jpeg")).run()
    assert headlines(at)[0].startswith("✅ Same building:")
