"""The cross-user replay index (issue 21): another user's accepted proof is flagged, without naming them.

Both stores: the local one and S3 on a real moto server (``moto_url``).  Bundled samples only.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api import create_app
from vision.core import verdict as v
from vision.image.imageio import decode_image
from vision.profile import Profile
from vision.replay.fingerprint import fingerprint_from_bytes
from vision.replay.transforms import DIGITAL
from vision.store import LocalReferenceStore

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "images" / "lightglue"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(params=["local", "s3"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """A factory of store objects over one location (a second call is a restarted process's store)."""
    if request.param == "local":
        yield lambda: LocalReferenceStore(tmp_path / "refs")
        return
    pytest.importorskip("boto3")
    from api_fixtures import s3_client

    from vision.store import S3ReferenceStore

    url = request.getfixturevalue("moto_url")
    bucket = f"replay-{uuid.uuid4().hex[:10]}"
    s3_client(url).create_bucket(Bucket=bucket)
    yield lambda: S3ReferenceStore(s3_client(url), bucket)


def _post(client: TestClient, path: str, data: bytes, name: str) -> dict:
    resp = client.post(path, json={"data": _b64(data), "name": name})
    body = resp.json()
    assert resp.status_code == body["status"], body
    return body


def _client(store) -> TestClient:
    return TestClient(create_app({}, store=store, tagger=None, thresholds=Profile()), raise_server_exceptions=False)


def test_another_users_proof_is_flagged_without_naming_them(make_store) -> None:
    ref = (SAMPLES / "DSC_0410.JPG").read_bytes()
    new = (SAMPLES / "DSC_0411.JPG").read_bytes()
    resent = DIGITAL["jpeg_q50"](decode_image(new, max_side=1600).bgr, np.random.default_rng(0))
    with _client(make_store()) as client:
        assert _post(client, "/auth/stdimg", ref, "hong")["message"] == v.GOOD_PICTURE
        assert _post(client, "/auth/feature", new, "hong")["message"] == v.COMPLETE
    # A restarted process (new store object, empty cache) still has the index: it is in the store.
    store = make_store()
    with _client(store) as client:
        assert _post(client, "/auth/stdimg", ref, "kim")["message"] == v.GOOD_PICTURE
        body = _post(client, "/auth/feature", resent, "kim")
        assert (body["message"], body["result"], body["replay"]) == (v.WRONG_PICTURE, False, True)
        assert body["replay_of"] == {"kind": "another_user", "label": "another user's proof"}
        assert "another user's proof" in body["reason"] and "hong" not in str(body)
        own = _post(client, "/auth/feature", resent, "hong")  # hong's own proof: named as theirs
        assert own["replay"] is True and own["replay_of"]["kind"] == "proof"
    entries = store.list_global_proofs()
    assert len(entries) == 1 and entries[0].user_id == ""
    assert b"hong" not in entries[0].fingerprint and b"kim" not in entries[0].fingerprint
    assert fingerprint_from_bytes(entries[0].fingerprint).thumb.shape == (1, 1)  # no picture kept
    assert store.users() == ["hong", "kim"]  # the index is no user


def test_the_index_is_bounded_and_rejects_bad_input(make_store) -> None:
    store = make_store()
    ids = [store.add_global_proof(bytes([i]) * 10, keep=3).proof_id for i in range(5)]
    listed = store.list_global_proofs()
    assert [r.proof_id for r in listed] == ids[::-1][:3]  # newest first, the oldest pruned
    assert [r.fingerprint for r in listed] == [bytes([i]) * 10 for i in (4, 3, 2)]
    assert store.load_global_proof(ids[0]) is None
    digest = "ab" * 16
    assert store.add_global_proof(b"x", keep=3, digest=digest).proof_id.endswith(digest)
    with pytest.raises(ValueError, match="keep"):
        store.add_global_proof(b"x", keep=0)
    with pytest.raises(ValueError, match="bytes"):
        store.add_global_proof(b"", keep=3)
    with pytest.raises(ValueError, match="digest"):
        store.add_global_proof(b"x", keep=3, digest="not-hex")
    assert len(store.list_global_proofs()) == 3  # nothing written by the refused calls


def test_the_index_can_be_switched_off(tmp_path: Path) -> None:
    store = LocalReferenceStore(tmp_path / "refs")
    app = create_app({}, store=store, tagger=None, thresholds=Profile(replay_global_keep=0))
    with TestClient(app, raise_server_exceptions=False) as client:
        _post(client, "/auth/stdimg", (SAMPLES / "DSC_0410.JPG").read_bytes(), "hong")
        assert _post(client, "/auth/feature", (SAMPLES / "DSC_0411.JPG").read_bytes(), "hong")["replay"] is False
    assert store.list_global_proofs() == []
