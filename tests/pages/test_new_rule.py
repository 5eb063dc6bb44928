"""The proof of one verdict path: a rule added as one module plus one catalogue line runs everywhere.

``tests/fake_rule.py`` (the keypoint-balance rule) is registered with one
line, then driven through the API, the CLI, the Verify page (AppTest) and
``evaluate``; each must show that rule's own verdict and number.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from api_fixtures import b64
from cli_runner import invoke
from fake_rule import THRESHOLD
from fastapi.testclient import TestClient
from page_helpers import open_page, texts

from api import create_app
from vision.lab.evaluate import evaluate_folder
from vision.lab.pool import Workers
from vision.profile import Profile, save_profile
from vision.rules.catalogue import CATALOGUE, Entry
from vision.store import LocalReferenceStore

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
REF, QUERY = "images/lightglue/DSC_0410.JPG", "images/lightglue/DSC_0411.JPG"


@pytest.fixture(autouse=True)
def keypoints_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one catalogue line."""
    monkeypatch.setitem(CATALOGUE, "keypoints", Entry("fake_rule"))


def test_the_api_decides_by_the_new_rule(tmp_path: Path) -> None:
    app = create_app({}, store=LocalReferenceStore(tmp_path / "refs"), thresholds=Profile(rule="keypoints"))
    with TestClient(app) as client:
        registered = client.post("/auth/stdimg", json={"data": b64((SAMPLES / REF).read_bytes()), "name": "kim"})
        assert registered.status_code == 200, registered.text
        body = client.post("/auth/feature", json={"data": b64((SAMPLES / QUERY).read_bytes()), "name": "kim"}).json()
    assert body["rule"] == "keypoints" and body["keypoint_balance"] >= THRESHOLD
    assert (body["status"], body["message"], body["replay"]) == (200, "Complete", False)  # no homography: no replay


def test_the_cli_decides_by_the_new_rule(tmp_path: Path) -> None:
    result = invoke("verify", SAMPLES / REF, SAMPLES / QUERY, "--rule", "keypoints")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["rule"] == "keypoints" and body["result"] is True and "keypoint_balance" in body
    profile = save_profile(Profile(rule="keypoints"), tmp_path / "profile.json")  # a profile may name it too
    body = json.loads(invoke("verify", SAMPLES / REF, SAMPLES / QUERY, "--profile", profile).stdout)
    assert body["rule"] == "keypoints"


def test_the_verify_page_offers_and_runs_the_new_rule(store_dir: Path) -> None:
    at = open_page("pages/verify.py")
    assert any(o.startswith("keypoints (") for o in at.radio(key="verify_rule").options)  # its label
    at.radio(key="verify_rule").set_value("keypoints").run()
    assert not at.exception, at.exception
    said = texts(at)
    assert "keypoint balance 1.00 >= 0.5" in said and "Replay check: not run" in said  # no homography
    assert any("as the keypoints rule saw them" in c for image in at.get("image") for c in image.captions)


def test_evaluate_scores_the_new_rule_from_the_cached_features(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    for name in ("DSC_0410.JPG", "DSC_0411.JPG"):
        shutil.copy(SAMPLES / "images" / "lightglue" / name, tmp_path / "img" / name)
    shutil.copy(SAMPLES / "images" / "vlfeat" / "roofs1.jpg", tmp_path / "img" / "roofs1.jpg")
    (tmp_path / "pairs.csv").write_text(
        "ref,query,label,kind\nimg/DSC_0410.JPG,img/DSC_0411.JPG,1,viewpoint\nimg/DSC_0410.JPG,img/roofs1.jpg,0,easy\n"
    )
    report = evaluate_folder(tmp_path, Profile(), "keypoints", Workers(1, "threads"), show_progress=False)
    assert report["rule"] == "keypoints" and report["processed"] == 2
    verdicts = json.loads(
        invoke("verify", tmp_path / "img/DSC_0410.JPG", tmp_path / "img/roofs1.jpg", "--rule", "keypoints").stdout
    )
    assert report["false_accepts"] == int(verdicts["result"])  # the lab's verdict is verify's
