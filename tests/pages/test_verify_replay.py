"""AppTest of the Verify page's replay check: the aligned difference image and the replay verdict."""

from __future__ import annotations

from pathlib import Path

from page_helpers import open_page, texts

from vision.flows.prepare import prepare_photo
from vision.flows.references import save_reference
from vision.profile import Profile
from vision.store import LocalReferenceStore

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
REF = "images/lightglue/DSC_0410.JPG"


def _register(store_dir: Path, user: str, sample: str) -> str:
    data = (SAMPLES / sample).read_bytes()
    photo = prepare_photo(data, Profile().feature_settings)
    return save_reference(LocalReferenceStore(store_dir), user, data, photo).key


def test_new_photo_shows_the_difference_image_and_the_copy_is_a_replay(store_dir: Path) -> None:
    _register(store_dir, "bob", REF)
    at = open_page("pages/verify.py")  # default new photo: DSC_0411, a genuine re-photograph
    said = texts(at)
    assert "Complete" in said and "Replay check" in said and "A new photo:" in said
    assert len(at.get("image")) >= 2  # the matches and the aligned difference image
    at.radio(key="verify_facade_source").set_value("Upload").run()  # the reference itself, sent again
    at.file_uploader(key="verify_facade_upload").set_value(
        ("same.jpg", (SAMPLES / REF).read_bytes(), "image/jpeg")
    ).run()
    said = texts(at)
    assert "You took wrong picture" in said and "not a new photo" in said and "the reference photo" in said
