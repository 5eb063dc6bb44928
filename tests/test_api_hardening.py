"""Issue 11: what one request may cost, who may write a reference, and user text in logs.

Each test here failed before the hardening: the crafted PNG was decoded, any
caller could register as anyone, nothing was rate limited or capped, a store
root that is a file looked like "no reference", a corrupt newest reference
was skipped for an older one, and a tag with a newline forged a log line.
Photos come from the bundled ``samples/`` (never skipped).
"""

from __future__ import annotations

import io
import logging
import struct
import time
import zlib
from pathlib import Path

import jwt
import pytest
from api_fixtures import REPO, FakeTagger, b64
from fastapi.testclient import TestClient
from PIL import Image

from api import create_app
from vision.core import verdict as v
from vision.core.logsafe import SafeLogFilter, safe_text
from vision.profile import Profile
from vision.store import LocalReferenceStore

SAMPLES = REPO / "samples" / "images"
SAME_REF, SAME_QUERY = SAMPLES / "lightglue" / "DSC_0410.JPG", SAMPLES / "lightglue" / "DSC_0411.JPG"
DIFFERENT_QUERY = SAMPLES / "vlfeat" / "river1.jpg"

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
ISSUER, AUDIENCE = "https://auth.example.test", "habit-photo-api"
JWT_SETTINGS = {
    "VISION_AUTH": "jwt",
    "VISION_JWT_SECRET": SECRET,
    "VISION_JWT_ISSUER": ISSUER,
    "VISION_JWT_AUDIENCE": AUDIENCE,
}
API_KEY = "k" * 24
OPEN = {"VISION_RATE_CLIENT_PER_MIN": "0", "VISION_RATE_USER_PER_MIN": "0"}


@pytest.fixture(scope="module")
def ref() -> str:
    return b64(SAME_REF.read_bytes())


@pytest.fixture(scope="module")
def query() -> str:
    return b64(SAME_QUERY.read_bytes())


def make_client(tmp_path: Path, settings: dict[str, str], store: LocalReferenceStore | None = None) -> TestClient:
    store = store or LocalReferenceStore(tmp_path / "refs")
    app = create_app(settings, store=store, tagger=FakeTagger(), thresholds=Profile())
    return TestClient(app, raise_server_exceptions=False)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def zero_rows(row_bytes: int, height: int, rows_per_block: int = 64) -> bytes:
    """A zlib stream of ``height`` zero rows, without compressing them all.

    After a full flush the compressor starts afresh, so every block of zero
    rows compresses to the same bytes: compress one, repeat it, and append the
    Adler-32 of the whole (computed block by block, never materialised).
    """
    block = b"\x00" * (row_bytes * rows_per_block)
    packer = zlib.compressobj(9)
    first = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(height, rows_per_block)
    tail = packer.compress(b"\x00" * (row_bytes * rest)) + packer.flush()
    adler = 1
    for _ in range(blocks):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(b"\x00" * (row_bytes * rest), adler)
    return first + again * (blocks - 1) + tail[:-4] + struct.pack(">I", adler)


def crafted_png(width: int, height: int, depth: int = 16, colour: int = 6) -> bytes:
    """A complete, valid PNG of zero pixels: tiny on the wire, huge once inflated."""
    samples = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    idat = zero_rows(1 + width * samples * depth // 8, height)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def test_crafted_png_is_a_valid_png():
    small = crafted_png(300, 130, depth=16, colour=6)
    with Image.open(io.BytesIO(small)) as img:
        img.load()  # decodes: the construction is a real PNG, so the big one is too
        assert img.size == (300, 130)


@pytest.fixture(scope="module")
def issue_png() -> bytes:
    """The issue's file: 10000x6400 16-bit RGBA (512 MB of pixels), well under a megabyte."""
    return crafted_png(10000, 6400)


# -- item 1: a small file that would pin a core ------------------------------------------


def test_crafted_png_refused_from_its_header(tmp_path, issue_png, monkeypatch):
    assert len(issue_png) < 1_000_000
    decoded: list[str] = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.format) or real_load(self))
    with make_client(tmp_path, OPEN) as c:
        for path, message in (
            ("/auth/feature", v.MISSING_PICTURE),
            ("/auth/stdimg", v.TAKE_PICTURE_AGAIN),
            ("/auth/tag", v.NO_TAG),
        ):
            res = c.post(path, json={"data": b64(issue_png), "name": "hong", "tag": "cup"})
            body = res.json()
            assert (res.status_code, body["message"]) == (400, message)
            assert "10000x6400" in body["reason"] and "PNG" in body["reason"]
    assert decoded == []  # refused from the header: Pillow never decoded a pixel


def test_png_pixel_cap_counts_bit_depth(tmp_path):
    # 4000x4000 is within the pixel cap, but at 16-bit RGBA it inflates to 128 MB
    deep = crafted_png(4000, 4000, depth=16, colour=6)
    shallow = crafted_png(4000, 4000, depth=8, colour=0)  # 16 MB of gray: allowed through the header
    with make_client(tmp_path, OPEN) as c:
        body = c.post("/auth/feature", json={"data": b64(deep), "name": "hong"}).json()
        assert body["message"] == v.MISSING_PICTURE and "128 MB decoded" in body["reason"]
        body = c.post("/auth/feature", json={"data": b64(shallow), "name": "hong"}).json()
        assert body["message"] == v.NO_STD_IMG  # the header passed: only then is the store asked


# -- item 2: authentication ------------------------------------------------------------------


def token(sub: str = "hong", *, exp_in: float = 300, aud: str = AUDIENCE, iss: str = ISSUER, key: str = SECRET) -> str:
    now = int(time.time())
    claims = {"sub": sub, "iss": iss, "aud": aud, "iat": now, "exp": now + int(exp_in)}
    return jwt.encode(claims, key, algorithm="HS256")


def bearer(tok: str) -> dict[str, str]:
    return {"authorization": f"Bearer {tok}"}


def assert_denied(res, status: int, fragment: str) -> None:
    body = res.json()
    assert res.status_code == status == body["status"], body
    assert body["result"] is False and set(body) >= {"status", "message", "result", "reason"}
    assert fragment in body["reason"], body
    if status == 401:
        assert res.headers["www-authenticate"].startswith(("Bearer", "ApiKey"))


def test_jwt_tokens_signed_in_the_test(tmp_path, ref, query):
    store = LocalReferenceStore(tmp_path / "refs")
    with make_client(tmp_path, {**JWT_SETTINGS, **OPEN}, store) as c:
        # valid: the subject is the user; `name` may be omitted
        res = c.post("/auth/stdimg", json={"data": ref}, headers=bearer(token("hong")))
        assert res.json()["message"] == v.GOOD_PICTURE and res.json()["name"] == "hong"
        res = c.post("/auth/feature", json={"data": query, "name": "hong"}, headers=bearer(token("hong")))
        assert res.json()["message"] == v.COMPLETE
        key = store.latest("hong").key

        assert_denied(c.post("/auth/feature", json={"data": query, "name": "hong"}), 401, "missing bearer token")
        expired = token("hong", exp_in=-3600)
        assert_denied(c.post("/auth/feature", json={"data": query}, headers=bearer(expired)), 401, "expired")
        wrong_aud = token("hong", aud="another-api")
        assert_denied(c.post("/auth/feature", json={"data": query}, headers=bearer(wrong_aud)), 401, "audience")
        wrong_iss = token("hong", iss="https://evil.test")
        assert_denied(c.post("/auth/feature", json={"data": query}, headers=bearer(wrong_iss)), 401, "issuer")
        forged = token("hong", key="another-secret-that-is-also-32-bytes-long")
        assert_denied(c.post("/auth/feature", json={"data": query}, headers=bearer(forged)), 401, "invalid token")
        # a valid token for "kim" cannot overwrite or probe "hong"
        kim = bearer(token("kim"))
        assert_denied(c.post("/auth/stdimg", json={"data": ref, "name": "hong"}, headers=kim), 403, "'kim'")
        assert_denied(c.post("/auth/feature", json={"data": query, "name": "hong"}, headers=kim), 403, "'kim'")
        assert_denied(c.post("/auth/tag", json={"data": query, "tag": "dog"}), 401, "bearer")
        assert c.post("/auth/tag", json={"data": query, "tag": "dog"}, headers=kim).json()["message"] == v.MATCHED
    assert store.latest("hong").key == key and store.users() == ["hong"]


def test_jwt_with_a_public_key(tmp_path, query):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings = {
        **OPEN,
        "VISION_AUTH": "jwt",
        "VISION_JWT_PUBLIC_KEY": public_pem.decode(),
        "VISION_JWT_ALGORITHMS": "ES256",
        "VISION_JWT_ISSUER": ISSUER,
        "VISION_JWT_AUDIENCE": AUDIENCE,
    }
    now = int(time.time())
    claims = {"sub": "hong", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 60}
    good = jwt.encode(claims, private, algorithm="ES256")
    # the classic confusion: an HS256 token signed with the public key as secret
    confused = jwt.encode(claims, "x" * 40, algorithm="HS256")
    with make_client(tmp_path, settings) as c:
        assert c.post("/auth/feature", json={"data": query}, headers=bearer(good)).json()["message"] == v.NO_STD_IMG
        assert_denied(c.post("/auth/feature", json={"data": query}, headers=bearer(confused)), 401, "invalid token")


def test_auth_mode_is_published_in_the_openapi_schema(tmp_path):
    with make_client(tmp_path, {**JWT_SETTINGS, **OPEN}) as c:
        schema = c.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["paths"]["/auth/feature"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in schema["paths"]["/healthz"]["get"]


def test_api_key_mode(tmp_path, query):
    with make_client(tmp_path, {**OPEN, "VISION_AUTH": "api-key", "VISION_API_KEYS": f"{'o' * 20},{API_KEY}"}) as c:
        assert_denied(c.post("/auth/feature", json={"data": query, "name": "hong"}), 401, "X-API-Key")
        bad = {"x-api-key": "k" * 23}
        assert_denied(c.post("/auth/feature", json={"data": query, "name": "hong"}, headers=bad), 401, "invalid")
        ok = c.post("/auth/feature", json={"data": query, "name": "hong"}, headers={"x-api-key": API_KEY})
        assert ok.json()["message"] == v.NO_STD_IMG  # let in; the backend names any user


@pytest.mark.parametrize(
    "settings, fragment",
    [
        ({"VISION_AUTH": "jwt", "VISION_JWT_SECRET": SECRET}, "ISSUER"),
        (
            {"VISION_AUTH": "jwt", "VISION_JWT_SECRET": "short", "VISION_JWT_ISSUER": "i", "VISION_JWT_AUDIENCE": "a"},
            "32",
        ),
        ({"VISION_AUTH": "api-key"}, "VISION_API_KEYS"),
        ({"VISION_AUTH": "basic"}, "VISION_AUTH"),
    ],
)
def test_bad_auth_settings_fail_at_startup(settings, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        create_app(settings, store=object(), tagger=FakeTagger())
    assert "short" not in str(info.value)  # the secret is never echoed


# -- item 2: rate limits and retention ---------------------------------------------------------


def test_rate_limit_per_client(tmp_path, query):
    with make_client(tmp_path, {"VISION_RATE_CLIENT_PER_MIN": "3", "VISION_RATE_USER_PER_MIN": "0"}) as c:
        answers = [c.post("/auth/feature", json={"data": query, "name": f"u{i}"}) for i in range(4)]
    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    body = answers[-1].json()
    assert (body["status"], body["message"], body["result"]) == (429, "Too Many Requests", False)
    assert int(answers[-1].headers["retry-after"]) >= 1 and body["retry_after"] >= 1


def test_rate_limit_per_user_and_anonymous_registrations(tmp_path, query):
    with make_client(tmp_path, {"VISION_RATE_CLIENT_PER_MIN": "0", "VISION_RATE_USER_PER_MIN": "2"}) as c:
        hong = [c.post("/auth/feature", json={"data": query, "name": "hong"}).status_code for _ in range(3)]
        kim = c.post("/auth/feature", json={"data": query, "name": "kim"}).status_code
        anon = [c.post("/auth/stdimg", json={"data": "AAAA"}).status_code for _ in range(3)]
    assert hong == [400, 400, 429] and kim == 400
    assert anon == [400, 400, 429]  # registrations without a name count against their client


def test_retention_keeps_the_newest_references(tmp_path, ref):
    store = LocalReferenceStore(tmp_path / "refs")
    with make_client(tmp_path, {**OPEN, "VISION_MAX_REFERENCES_PER_USER": "2"}, store) as c:
        keys = [c.post("/auth/stdimg", json={"data": ref, "name": "hong"}).json()["key"] for _ in range(3)]
    assert [r.key for r in store.list("hong")] == keys[:0:-1]  # the two newest, newest first
    assert store.latest("hong").key == keys[-1]
    assert not list((tmp_path / "refs" / "hong").glob(keys[0].split("/")[1] + "*"))  # no blob left behind


# -- item 7: faults are explicit --------------------------------------------------------------


def test_store_root_that_is_a_file_is_missing_std_picture(tmp_path, query):
    root = tmp_path / "refs"
    root.write_text("not a directory")
    with make_client(tmp_path, OPEN, LocalReferenceStore(root)) as c:
        body = c.post("/auth/feature", json={"data": query, "name": "hong"}).json()
    assert (body["status"], body["message"]) == (500, v.MISSING_STD_PICTURE)
    assert "not-a-directory" in body["reason"]


@pytest.mark.parametrize("damage", ["newest-metadata", "pointer"])
def test_corrupt_latest_reference_is_not_skipped(tmp_path, ref, query, damage):
    store = LocalReferenceStore(tmp_path / "refs")
    with make_client(tmp_path, OPEN, store) as c:
        old = c.post("/auth/stdimg", json={"data": ref, "name": "hong"}).json()["key"]
        new = c.post("/auth/stdimg", json={"data": ref, "name": "hong"}).json()["key"]
        target = f"{new}.json" if damage == "newest-metadata" else "hong/latest.json"
        (store.root / target).write_text("{not json")
        body = c.post("/auth/feature", json={"data": query, "name": "hong"}).json()
    assert (body["status"], body["message"]) == (500, v.MISSING_STD_PICTURE)
    assert old != new and body.get("key") != old  # the older reference was not used instead


# -- item 6: user text in logs and answers ------------------------------------------------------


FORGED = "cup\nINFO vision.api: POST /auth/feature -> 200 Complete"


def test_log_injection_is_escaped_and_capped(tmp_path, query, caplog):
    ansi = "\x1b[2J\x1b[31mred"
    with caplog.at_level(logging.INFO), make_client(tmp_path, OPEN) as c:
        answers = [
            c.post("/auth/tag", json={"data": query, "tag": FORGED}),
            c.post("/auth/tag", json={"data": query, "tag": ansi}),
            c.post("/auth/tag", json={"data": query, "tag": "x" * 1_000_000}),
            c.post("/auth/feature", json={"data": query, "name": "hong\n" + "y" * 500}),
            c.post("/auth/stdimg", json={"data": query, "name": "\u2028forged\x1b[0m"}),
        ]
    for res in answers:
        assert res.status_code == 400 and len(res.content) < 1000, res.text[:200]
        assert "\x1b" not in res.text and "\u2028" not in res.text  # raw control characters never echoed
    assert answers[0].json()["message"] == v.NO_TAG and "control characters" in answers[0].json()["reason"]
    assert "1000000 characters" in answers[2].json()["reason"]
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("vision")]
    assert messages
    for message in messages:
        assert "\n" not in message and "\x1b" not in message and "\u2028" not in message
        assert len(message) < 2000 and "x" * 100 not in message


def test_safe_text_and_log_filter():
    assert safe_text("a\nb\r\x1b[31m\u2028\x00") == "a\\nb\\r\\x1b[31m\\u2028\\x00"
    assert safe_text("z" * 100, 10) == "z" * 10 + "...(100 chars)"
    assert safe_text(b"bytes") == "<bytes>" and safe_text(None) == "<none>"
    record = logging.LogRecord("vision.x", logging.INFO, __file__, 1, "tag %s", (FORGED,), None)
    assert SafeLogFilter().filter(record) and "\n" not in record.getMessage() and "cup\\nINFO" in record.getMessage()


# -- item 9: HEAD /healthz ----------------------------------------------------------------------


def test_head_healthz(tmp_path):
    with make_client(tmp_path, OPEN) as c:
        res = c.head("/healthz")
        assert res.status_code == 200 and res.content == b""
        assert c.get("/healthz").json() == {"status": 200, "message": "ok", "result": True}


def test_wrong_picture_still_answers(tmp_path, ref):
    # the hardening left the contract's ordinary answers alone
    with make_client(tmp_path, OPEN) as c:
        c.post("/auth/stdimg", json={"data": ref, "name": "hong"})
        body = c.post("/auth/feature", json={"data": b64(DIFFERENT_QUERY.read_bytes()), "name": "hong"}).json()
    assert (body["status"], body["message"], body["result"]) == (200, v.WRONG_PICTURE, False)
