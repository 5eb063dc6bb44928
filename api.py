"""HTTP API for the mobile client: ``uvicorn api:app``.

The endpoints speak the JSON contract of ``SPEC.md``; the flow logic lives in
:mod:`vision.service` (framework-free, shared with the dashboard), this module
only reads requests, runs the flows off the event loop and writes answers.

Settings (environment, read when first needed; ``create_app(settings=...)``
takes a mapping instead):

=========================== ===================================================
``VISION_PROFILE``          thresholds profile saved by the dashboard (JSON or
                            TOML); re-read when the file changes.  Defaults
                            when unset.
``VISION_TAGGER``           ``local`` (default, offline ONNX) or ``clarifai``
                            (needs ``CLARIFAI_PAT``)
``VISION_STORE`` ...        reference store, see :mod:`vision.store.factory`
``VISION_MAX_BODY_BYTES``   largest request body accepted (default 15 MB)
``VISION_WORKERS``          concurrent CPU-heavy jobs (default: CPU count)
=========================== ===================================================

Every answer is ``{"status", "message", "result"}`` plus ``reason`` and
flow-specific extras, and the HTTP status equals ``status``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from vision import service
from vision import verdict as v
from vision.imageio import DEFAULT_LIMITS, DecodeLimits
from vision.profile import Profile, load_profile
from vision.settings import load_settings, number

__all__ = ["DEFAULT_MAX_BODY_BYTES", "Runtime", "app", "create_app"]

log = logging.getLogger("vision.api")

DEFAULT_MAX_BODY_BYTES = 15_000_000
JSON_TYPES = ("application/json",)


# -- request/answer models (for the OpenAPI page; bodies are parsed by hand) ----


class RegisterRequest(BaseModel):
    data: str = Field(description="The photo, base64 (JPEG, PNG or WebP; a data: URL prefix is accepted).")
    name: str | None = Field(
        None,
        description="User id (1-64 of A-Z a-z 0-9 _ . @ -). The photo becomes this user's latest "
        "reference. Without it the photo is stored under a fresh anonymous id, returned as `name`.",
    )


class FeatureRequest(BaseModel):
    data: str = Field(description="The new photo, base64.")
    name: str = Field(description="User id whose latest reference the photo is compared with.")


class TagRequest(BaseModel):
    data: str = Field(description="The photo, base64.")
    tag: str = Field(description="The word the photo should show, e.g. `dog`.")


class Answer(BaseModel):
    status: int = Field(description="Same as the HTTP status code.")
    message: str = Field(description="One of the contract's messages.")
    result: bool
    reason: str | None = Field(None, description="Why (for humans and logs; clients need not read it).")
    key: str | None = Field(None, description="Register: the stored reference's key; verify: the key compared with.")
    name: str | None = Field(None, description="Register: the user id the reference was stored under.")
    url: str | None = Field(None, description="Register with the S3 store: a (presigned) URL of the photo.")

    model_config = {"extra": "allow"}


# -- runtime: lazily built store, tagger and thresholds ------------------------------


class Runtime:
    """What the endpoints share: settings, store, tagger, thresholds, CPU gate.

    The store, the tagger and the thresholds are built on first use (so that
    importing :mod:`api` touches neither the network nor the model file).
    The thresholds follow the ``VISION_PROFILE`` file: it is re-read when its
    modification time or size changes; an unreadable new version keeps the
    last good thresholds (and logs why).
    """

    def __init__(
        self,
        settings: Mapping[str, str] | None = None,
        *,
        store: Any = None,
        tagger: Any = None,
        thresholds: Profile | None = None,
        limits: DecodeLimits = DEFAULT_LIMITS,
    ) -> None:
        self._settings = settings
        env = self.settings
        self.max_body_bytes = number(env, "VISION_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, integer=True, minimum=1)
        self.workers = number(env, "VISION_WORKERS", os.cpu_count() or 2, integer=True, minimum=1)
        self.limits = limits
        self._store = store
        self._tagger = tagger
        self._fixed_thresholds = thresholds
        self._profile_state: tuple[str, int, int] | None = None
        self._profile_thresholds: Profile | None = None
        self._lock = threading.Lock()
        self._cpu = threading.BoundedSemaphore(self.workers)

    @property
    def settings(self) -> Mapping[str, str]:
        return self._settings if self._settings is not None else load_settings()

    def gate(self) -> threading.BoundedSemaphore:
        """Context manager held around CPU-heavy work (at most ``workers`` at once)."""
        return self._cpu

    def store(self) -> Any:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from vision.store.factory import store_from_settings

                    self._store = store_from_settings(self.settings)
                    log.info("reference store: %r", self._store)
        return self._store

    def tagger(self) -> Any:
        if self._tagger is None:
            with self._lock:
                if self._tagger is None:
                    from vision.tagging.factory import tagger_from_settings

                    backend = (self.settings.get("VISION_TAGGER") or "local").strip().lower() or "local"
                    self._tagger = tagger_from_settings(self.settings, backend)
                    log.info("tagger: %s", getattr(self._tagger, "name", type(self._tagger).__name__))
        return self._tagger

    def thresholds(self) -> Profile:
        if self._fixed_thresholds is not None:
            return self._fixed_thresholds
        path = (self.settings.get("VISION_PROFILE") or "").strip()
        if not path:
            return Profile()
        try:
            st = os.stat(path)
            state = (path, st.st_mtime_ns, st.st_size)
        except OSError as exc:
            state = None
            error: Exception = ValueError(f"cannot read profile {path}: {exc.strerror}")
        with self._lock:
            if state is not None and state == self._profile_state and self._profile_thresholds is not None:
                return self._profile_thresholds
            if state is not None:
                try:
                    loaded = load_profile(path)
                except ValueError as exc:
                    error = exc
                else:
                    if self._profile_thresholds is not None:
                        log.info("thresholds profile %s changed; reloaded", path)
                    self._profile_state, self._profile_thresholds = state, loaded
                    return loaded
            if self._profile_thresholds is not None:
                log.warning("keeping the last good thresholds: %s", error)
                return self._profile_thresholds
            raise error


# -- request reading -----------------------------------------------------------------


class BadBody(Exception):
    """The request body cannot be used; ``reason`` says why, ``code`` names the check."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing anything over ``limit`` bytes before it is all read.

    The declared ``Content-Length`` is checked first; the streamed bytes are
    counted too (chunked bodies have no length).  JSON is parsed later, from
    these bytes only.
    """
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not (media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))):
        shown = media[:60] if media else "none"
        raise BadBody(f"content-type must be application/json (got {shown})", "content-type")
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadBody("invalid Content-Length header", "content-length") from None
        if size > limit:
            raise BadBody(f"the request body is {size} bytes, over the {limit}-byte limit", "too-large")
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise BadBody(f"the request body is over the {limit}-byte limit", "too-large")
    if not buf.strip():
        raise BadBody("the request body is empty (expected a JSON object)", "empty")
    return bytes(buf)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse a JSON object; :class:`BadBody` for anything else."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BadBody("the request body is nested too deeply", "json") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int too long
        detail = (
            f" ({exc.msg} at line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        )
        raise BadBody(f"the request body is not valid JSON{detail}", "json") from None
    if not isinstance(body, dict):
        raise BadBody(f"the request body must be a JSON object, got {type(body).__name__}", "json")
    return body


# -- flows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    """One endpoint's contract: its 400 for unusable bodies, its 500, and its runner."""

    name: str
    bad_request: str
    fault: str
    run: Callable[[Runtime, dict[str, Any]], v.Verdict]


def _run_register(rt: Runtime, body: dict[str, Any]) -> v.Verdict:
    return service.register_b64(
        rt.store(), body.get("data"), body.get("name"), rt.thresholds(), rt.limits, gate=rt.gate
    )


def _run_verify(rt: Runtime, body: dict[str, Any]) -> v.Verdict:
    return service.verify_b64(rt.store(), body.get("data"), body.get("name"), rt.thresholds(), rt.limits, gate=rt.gate)


def _run_tag(rt: Runtime, body: dict[str, Any]) -> v.Verdict:
    return service.tag_b64(rt.tagger, body.get("data"), body.get("tag"), rt.thresholds(), rt.limits, gate=rt.gate)


REGISTER = Flow("register", v.TAKE_PICTURE_AGAIN, v.SOMETHING_WRONG, _run_register)
VERIFY = Flow("verify", v.MISSING_PICTURE, v.MISSING_STD_PICTURE, _run_verify)
TAG = Flow("tag", v.NO_TAG, v.CLARIFAI_API_FAULT, _run_tag)
FLOW_BY_PATH = {"/auth/stdimg": REGISTER, "/auth/test": REGISTER, "/auth/feature": VERIFY, "/auth/tag": TAG}


def answer(verdict: v.Verdict) -> JSONResponse:
    """The HTTP response of a verdict: its JSON, with the HTTP status mirroring ``status``."""
    return JSONResponse(verdict.to_json(), status_code=verdict.status)


def _timed_run(flow: Flow, rt: Runtime, raw: bytes) -> v.Verdict:
    """Worker-thread part of a request: parse JSON, run the flow (never raises)."""
    try:
        body = parse_json_object(raw)
    except BadBody as exc:
        return v.Verdict(400, flow.bad_request, False, exc.reason, {"error": exc.code})
    return flow.run(rt, body)


async def handle(flow: Flow, rt: Runtime, request: Request) -> JSONResponse:
    """Read, run off the event loop, answer; every failure is a contract answer."""
    start = time.perf_counter()
    try:
        try:
            raw = await read_body(request, rt.max_body_bytes)
        except BadBody as exc:
            verdict = v.Verdict(400, flow.bad_request, False, exc.reason, {"error": exc.code})
        else:
            verdict = await run_in_threadpool(_timed_run, flow, rt, raw)
    except Exception as exc:
        log.exception("%s %s: unexpected %s", request.method, request.url.path, type(exc).__name__)
        verdict = v.Verdict(500, flow.fault, False, f"internal error ({type(exc).__name__})")
    level = logging.WARNING if verdict.status >= 500 else logging.INFO
    log.log(
        level,
        "%s %s -> %d %s (%s) %.0f ms",
        request.method,
        request.url.path,
        verdict.status,
        verdict.message,
        verdict.reason[:300],
        (time.perf_counter() - start) * 1000,
    )
    return answer(verdict)


# -- app -------------------------------------------------------------------------------

_ANSWERS = {
    REGISTER: {
        200: (
            "Good Picture",
            {
                "status": 200,
                "message": v.GOOD_PICTURE,
                "result": True,
                "reason": "3127 keypoints >= 80 required",
                "key": "hong/3f2a...",
                "name": "hong",
            },
        ),
        400: (
            "Take Picture Again (not an image, bad body, bad name) or Too Little Features",
            {"status": 400, "message": v.TOO_LITTLE_FEATURES, "result": False},
        ),
        500: (
            "Something Wrong (store unreachable; nothing stored)",
            {"status": 500, "message": v.SOMETHING_WRONG, "result": False},
        ),
    },
    VERIFY: {
        200: (
            "Complete, or You took wrong picture",
            {"status": 200, "message": v.COMPLETE, "result": True, "inliers": 669},
        ),
        400: (
            "You don't have std img (no/invalid name, no reference) or Missing Picture (bad photo or body)",
            {"status": 400, "message": v.NO_STD_IMG, "result": False},
        ),
        500: (
            "Missing Std Picture (store unreachable, reference does not load)",
            {"status": 500, "message": v.MISSING_STD_PICTURE, "result": False},
        ),
    },
    TAG: {
        200: ("Matched or Not Matched", {"status": 200, "message": v.MATCHED, "result": True}),
        400: (
            "No Tag (no tag word; also a missing/undecodable photo or a bad body)",
            {"status": 400, "message": v.NO_TAG, "result": False},
        ),
        500: (
            "Clarifai Api Fault (the tagging backend failed)",
            {"status": 500, "message": v.CLARIFAI_API_FAULT, "result": False},
        ),
    },
}


def _route_docs(flow: Flow, model: type[BaseModel]) -> dict[str, Any]:
    return {
        "response_class": JSONResponse,
        "responses": {
            code: {"model": Answer, "description": desc, "content": {"application/json": {"example": ex}}}
            for code, (desc, ex) in _ANSWERS[flow].items()
        },
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": model.model_json_schema()}},
            }
        },
    }


_REGISTER_DOC = """Register a reference photo.

The photo is decoded and its AKAZE keypoints counted; with enough of them it is
stored and becomes the latest reference of `name`.

**Without `name`** the photo is still stored (as the original design did for
every good picture), under a fresh random user id `anon-<32 hex>` that the
answer returns as `name`, together with the reference `key` (and `url` with
the S3 store).  The client passes that `name` to `/auth/feature` later.

Bad input of any kind (body not JSON, wrong content-type, over the size
limit, missing or non-string `data`, invalid base64, not an image,
decompression bomb, invalid `name`) is `400 Take Picture Again` with a
`reason`; nothing is stored.
"""

_VERIFY_DOC = """Verify a new photo against the user's latest reference.

The reference is looked up in the reference store by `name` only; no URL is
ever read from the request.  Checks, in order: `name` missing, not a valid
user id, or without a reference -> `400 You don't have std img`; store
unreachable -> `500 Missing Std Picture`; `data` missing, not base64 or not an
image (and a body that is not a JSON object, too large, or sent with another
content-type) -> `400 Missing Picture`; reference image gone or undecodable
when its features must be recomputed -> `500 Missing Std Picture`.  Stale
features are recomputed and saved back.
"""

_TAG_DOC = """Does the photo show `tag`?

`400 No Tag` is the contract's only 4xx answer of this flow, so it also
answers a missing or undecodable photo and an unusable body (see `reason`).
"""


def create_app(
    settings: Mapping[str, str] | None = None,
    *,
    store: Any = None,
    tagger: Any = None,
    thresholds: Profile | None = None,
) -> FastAPI:
    """Build the API.

    Parameters
    ----------
    settings : Mapping[str, str], optional
        ``VISION_*`` settings; ``os.environ`` (read when first needed) when None.
    store : ReferenceStore, optional
        Overrides ``VISION_STORE``.
    tagger : Tagger, optional
        Overrides ``VISION_TAGGER``.
    thresholds : Profile, optional
        Fixed thresholds, overriding ``VISION_PROFILE``.
    """
    rt = Runtime(settings, store=store, tagger=tagger, thresholds=thresholds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        vision_log = logging.getLogger("vision")
        if not vision_log.handlers and not logging.getLogger().handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            vision_log.addHandler(handler)
            vision_log.setLevel(logging.INFO)
        # Fail fast on configuration errors (nothing here contacts the network).
        rt.store()
        thr = rt.thresholds()
        log.info(
            "API ready: min_keypoints=%d min_inliers=%d workers=%d max_body=%d",
            thr.min_keypoints,
            thr.min_inliers,
            rt.workers,
            rt.max_body_bytes,
        )
        yield

    app = FastAPI(
        title="Habit photo verification API",
        version="1.0",
        description="The mobile client's JSON contract (see SPEC.md). Every answer is "
        "`{status, message, result}` plus `reason` and extras; the HTTP status equals `status`.",
        lifespan=lifespan,
    )
    app.state.runtime = rt

    @app.post(
        "/auth/stdimg",
        summary="Register a reference photo",
        description=_REGISTER_DOC,
        **_route_docs(REGISTER, RegisterRequest),
    )
    async def stdimg(request: Request) -> JSONResponse:
        return await handle(REGISTER, rt, request)

    @app.post(
        "/auth/test",
        summary="Register a reference photo (the client's name for /auth/stdimg)",
        description=_REGISTER_DOC,
        **_route_docs(REGISTER, RegisterRequest),
    )
    async def test(request: Request) -> JSONResponse:
        return await handle(REGISTER, rt, request)

    @app.post(
        "/auth/feature",
        summary="Verify a photo against the user's reference",
        description=_VERIFY_DOC,
        **_route_docs(VERIFY, FeatureRequest),
    )
    async def feature(request: Request) -> JSONResponse:
        return await handle(VERIFY, rt, request)

    @app.post(
        "/auth/tag", summary="Check a tag word against the photo", description=_TAG_DOC, **_route_docs(TAG, TagRequest)
    )
    async def tag(request: Request) -> JSONResponse:
        return await handle(TAG, rt, request)

    @app.get("/healthz", summary="Liveness (never touches the store or the models)")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": 200, "message": "ok", "result": True})

    def _flow_answer(request: Request, status: int, reason: str) -> JSONResponse:
        flow = FLOW_BY_PATH.get(request.url.path)
        message = (
            (flow.bad_request if status < 500 else flow.fault)
            if flow
            else (v.SOMETHING_WRONG if status >= 500 else "Bad Request")
        )
        return answer(v.Verdict(status, message, False, reason))

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _flow_answer(request, 400, "the request does not match the contract")

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
        return JSONResponse(
            {"status": exc.status_code, "message": message, "result": False, "reason": str(exc.detail)},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s: unhandled %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
        return _flow_answer(request, 500, f"internal error ({type(exc).__name__})")

    return app


app = create_app()
