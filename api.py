"""HTTP API for the mobile client: ``uvicorn api:app``.

The endpoints speak the JSON contract of ``SPEC.md``; the flow logic lives in
:mod:`vision.service` (register, verify, tag: framework-free, shared with the dashboard), this module
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
``VISION_AUTH`` ...         ``none``, ``api-key`` or ``jwt``: see :mod:`vision.web.auth`
limits, timeouts, pools     see :class:`vision.web.settings.ApiSettings`
=========================== ===================================================

Every answer is ``{"status", "message", "result"}`` plus ``reason`` and
flow-specific extras, and the HTTP status equals ``status``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from vision.core import verdict as v
from vision.core.logsafe import SafeLogFilter
from vision.core.settings import truthy
from vision.profile import Profile
from vision.store.gc import collect_in_background
from vision.web.body import BadBody, read_body
from vision.web.docs import (
    REGISTER_DOC,
    TAG_DOC,
    VERIFY_DOC,
    FeatureRequest,
    RegisterRequest,
    TagRequest,
    route_docs,
)
from vision.web.flows import FLOW_BY_PATH, REGISTER, TAG, VERIFY, answer, handle
from vision.web.habits import add_habit_routes
from vision.web.runtime import Runtime

__all__ = ["DEFAULT_MAX_BODY_BYTES", "BadBody", "Runtime", "app", "create_app", "read_body"]

log = logging.getLogger("vision.api")

DEFAULT_MAX_BODY_BYTES = 15_000_000


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
            handler.addFilter(SafeLogFilter())  # one line per record, whatever a call site forgot
            vision_log.addHandler(handler)
            vision_log.setLevel(logging.INFO)
        # Fail fast on configuration errors (nothing here contacts the network).
        store = rt.store()
        if truthy(rt.settings.get("VISION_STORE_GC_ON_START", "1")):
            collect_in_background(store)  # leftovers of writers killed mid-register (vision/store/gc.py)
        thr = rt.thresholds()
        if rt.config.quota_total_mb_total:
            rt.stored_quota().refresh_soon()  # the whole store's bytes, measured in the background
        await anyio.to_thread.run_sync(rt.start_decoders)  # worker processes: a decode's wall-clock budget
        log.info(
            "API ready: min_keypoints=%d min_inliers=%d workers=%d max_body=%d auth=%s limits=%s",
            thr.min_keypoints,
            thr.min_inliers,
            rt.workers,
            rt.max_body_bytes,
            rt.config.auth.mode,
            rt.limit_storage.kind,
        )
        try:
            yield
        finally:
            rt.stop_decoders()

    app = FastAPI(
        title="Habit photo verification API",
        version="1.0",
        description="The mobile client's JSON contract (see SPEC.md). Every answer is "
        "`{status, message, result}` plus `reason` and extras; the HTTP status equals `status`.",
        lifespan=lifespan,
    )
    app.state.runtime = rt
    _publish_auth(app, rt.config.auth.mode)

    @app.post(
        "/auth/stdimg",
        summary="Register a reference photo",
        description=REGISTER_DOC,
        **route_docs(REGISTER, RegisterRequest),
    )
    async def stdimg(request: Request) -> Response:
        return await handle(REGISTER, rt, request)

    @app.post(
        "/auth/test",
        summary="Register a reference photo (the client's name for /auth/stdimg)",
        description=REGISTER_DOC,
        **route_docs(REGISTER, RegisterRequest),
    )
    async def test(request: Request) -> Response:
        return await handle(REGISTER, rt, request)

    @app.post(
        "/auth/feature",
        summary="Verify a photo against the user's reference",
        description=VERIFY_DOC,
        **route_docs(VERIFY, FeatureRequest),
    )
    async def feature(request: Request) -> Response:
        return await handle(VERIFY, rt, request)

    @app.post(
        "/auth/tag", summary="Check a tag word against the photo", description=TAG_DOC, **route_docs(TAG, TagRequest)
    )
    async def tag(request: Request) -> Response:
        return await handle(TAG, rt, request)

    add_habit_routes(app, rt)

    @app.get("/healthz", summary="Liveness (never touches the store or the models)")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": 200, "message": "ok", "result": True})

    @app.head("/healthz", summary="Liveness, headers only (load balancers probe with HEAD)")
    async def healthz_head() -> Response:
        return Response(status_code=200, media_type="application/json")

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


def _publish_auth(app: FastAPI, mode: str) -> None:
    """Declare the configured auth mode in the OpenAPI schema (``/docs`` then offers to send it)."""
    schemes = {
        "api-key": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        "jwt": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    }.get(mode)
    if not schemes:
        return
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = schemes
            for path, item in schema.get("paths", {}).items():
                if path.startswith("/auth/"):
                    for operation in item.values():
                        operation["security"] = [{name: []} for name in schemes]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


app = create_app()
