"""The replay rule through the HTTP API: ``replay`` in every verify answer, replays rejected.

Bundled samples only (``samples/images/lightglue``): DSC_0410 is the
reference, DSC_0411 a genuine new photo of the same scene a step away.
"""

from __future__ import annotations

import base64
import io
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api import create_app
from vision.core import verdict as v
from vision.image.imageio import decode_image
from vision.profile import Profile
from vision.replay.transforms import DIGITAL
from vision.store import LocalReferenceStore

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "images" / "lightglue"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    ref = (SAMPLES / "DSC_0410.JPG").read_bytes()
    new = (SAMPLES / "DSC_0411.JPG").read_bytes()
    ref_img = decode_image(ref, max_side=1600).bgr
    new_img = decode_image(new, max_side=1600).bgr
    rng = np.random.default_rng(3)
    return {
        "ref": ref,
        "new": new,
        "ref_rot90": DIGITAL["rot90"](ref_img, rng),
        "new_screenshot": DIGITAL["screenshot_phone"](new_img, rng),
    }


def _client(tmp_path: Path, thresholds: Profile) -> TestClient:
    store = LocalReferenceStore(tmp_path / "refs")
    return TestClient(create_app({}, store=store, tagger=None, thresholds=thresholds), raise_server_exceptions=False)


def _post(client: TestClient, path: str, data: bytes, name: str = "hong") -> dict:
    resp = client.post(path, json={"data": b64(data), "name": name})
    body = resp.json()
    assert resp.status_code == body["status"], body
    return body


def test_replays_of_the_reference_and_of_a_proof_are_rejected(tmp_path: Path, photos: dict[str, bytes]) -> None:
    with _client(tmp_path, Profile()) as client:
        assert _post(client, "/auth/stdimg", photos["ref"])["message"] == v.GOOD_PICTURE
        genuine = _post(client, "/auth/feature", photos["new"])
        assert (genuine["message"], genuine["result"], genuine["replay"]) == (v.COMPLETE, True, False)
        assert genuine["replay_evidence"]["n_inliers"] > 0  # it was checked, and is a new photo

        of_ref = _post(client, "/auth/feature", photos["ref_rot90"])
        assert (of_ref["status"], of_ref["message"], of_ref["result"]) == (200, v.WRONG_PICTURE, False)
        assert of_ref["replay"] is True and of_ref["replay_of"]["kind"] == "reference"
        assert "the reference photo" in of_ref["reason"]

        of_proof = _post(client, "/auth/feature", photos["new_screenshot"])
        assert (of_proof["message"], of_proof["result"], of_proof["replay"]) == (v.WRONG_PICTURE, False, True)
        assert of_proof["replay_of"]["kind"] == "proof"
        assert "your proof accepted at" in of_proof["reason"]


def test_every_verify_answer_has_the_field(tmp_path: Path, photos: dict[str, bytes]) -> None:
    with _client(tmp_path, Profile()) as client:
        assert _post(client, "/auth/feature", photos["new"], name="nobody")["replay"] is False  # 400 no std img
        _post(client, "/auth/stdimg", photos["ref"])
        missing = client.post("/auth/feature", json={"data": "not base64!", "name": "hong"}).json()
        assert (missing["status"], missing["replay"]) == (400, False)


def test_the_rule_can_be_switched_off(tmp_path: Path, photos: dict[str, bytes]) -> None:
    with _client(tmp_path, replace(Profile(), replay_check="off")) as client:
        _post(client, "/auth/stdimg", photos["ref"])
        body = _post(client, "/auth/feature", photos["ref_rot90"])
        assert (body["message"], body["replay"], body["replay_check"]) == (v.COMPLETE, False, "off")


def _with_capture_time(data: bytes, when: str) -> bytes:
    image = Image.open(io.BytesIO(data))
    image.thumbnail((1200, 1200))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = when  # DateTimeOriginal
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def test_old_capture_time_is_reported_when_configured(tmp_path: Path, photos: dict[str, bytes]) -> None:
    old = _with_capture_time(photos["new"], "2020:01:02 03:04:05")
    with _client(tmp_path, replace(Profile(), capture_max_age_h=48.0)) as client:
        _post(client, "/auth/stdimg", photos["ref"])
        body = _post(client, "/auth/feature", old)
        assert body["capture_time"]["taken_at"].startswith("2020-01-02T03:04:05")
        assert body["capture_time"]["too_old"] is True and body["capture_time"]["max_age_h"] == 48.0
    with _client(tmp_path / "off", Profile()) as client:  # off by default
        _post(client, "/auth/stdimg", photos["ref"])
        assert "capture_time" not in _post(client, "/auth/feature", old)


def test_cli_verify_says_replay(photos: dict[str, bytes], tmp_path: Path) -> None:
    from vision.__main__ import main

    (tmp_path / "ref.jpg").write_bytes(photos["ref"])
    ok, buf = cv2.imencode(".jpg", decode_image(photos["ref"], max_side=1200).bgr, [cv2.IMWRITE_JPEG_QUALITY, 60])
    assert ok
    (tmp_path / "copy.jpg").write_bytes(buf.tobytes())
    out = io.StringIO()
    import contextlib
    import json

    with contextlib.redirect_stdout(out):
        assert main(["verify", str(tmp_path / "ref.jpg"), str(tmp_path / "copy.jpg")]) == 0
    body = json.loads(out.getvalue())
    assert (body["message"], body["replay"], body["replay_of"]["kind"]) == (v.WRONG_PICTURE, True, "reference")


class _MemoryDown(LocalReferenceStore):
    """A real local store whose proof memory is unreachable (the references still load)."""

    def list_proofs(self, user_id: str, limit: int | None = None, *, load: bool = True) -> list:
        from vision.store import StoreUnavailableError

        raise StoreUnavailableError("proof memory unreachable", reason="unreachable")


def test_memory_outage_fails_open_and_says_so(tmp_path: Path, photos: dict[str, bytes]) -> None:
    from vision.service import register as service_register
    from vision.service import verify as service_verify

    store = _MemoryDown(tmp_path / "refs")
    assert service_register.register_bytes(store, photos["ref"], "hong").result
    verdict = service_verify.verify_bytes(store, photos["new"], "hong")
    assert (verdict.message, verdict.extra["replay"], verdict.extra["replay_check"]) == (
        v.COMPLETE,
        False,
        "unavailable",
    )
