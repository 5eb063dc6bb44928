"""One request, start to answer: rate limits, authentication, body, the flow off the event loop, the contract answer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from vision.core import verdict as v
from vision.core.logsafe import safe_text
from vision.core.memory import release_memory
from vision.service import habit_flows, register, tag, verify
from vision.service.common import unusable_photo
from vision.store.errors import StoreError
from vision.store.ids import MAX_USER_ID_LENGTH
from vision.web.auth import AuthError, Principal, authenticate, effective_user
from vision.web.body import BadBody, BodyTimeout, parse_json_object, read_body
from vision.web.gate import DeadlineExceeded
from vision.web.quota import Admission, StoredRefusal
from vision.web.runtime import Runtime

log = logging.getLogger("vision.api")


@dataclass(frozen=True)
class Flow:
    """One endpoint's contract: its 400 for unusable bodies, its 500, and its runner ``(runtime, body, client)``.

    ``photo``: the body's ``data`` is a base64 photo that the runner answers from its own checks, before
    the store and the CPU gate, when it is unusable (:func:`admit` relies on it).
    """

    name: str
    bad_request: str
    fault: str
    run: Callable[[Runtime, dict[str, Any], str], v.Verdict]
    photo: bool = True


def _run_register(rt: Runtime, body: dict[str, Any], client: str) -> v.Verdict:
    name = body.get("name")

    def charge(nbytes: int) -> v.Verdict | None:
        """The storage quotas (:mod:`vision.web.quota`); an anonymous register counts against ``anon@<client>``."""
        user = name if isinstance(name, str) else f"anon@{client}"
        try:  # the totals first: a refusal there charges nothing to the daily quotas
            stored = rt.stored_quota().check(nbytes, name if isinstance(name, str) else None)
        except StoreError as exc:
            log.error("register: store unavailable (measuring the stored bytes for the quota): %s", exc)
            return v.Verdict(500, v.SOMETHING_WRONG, False, "the reference store is unavailable (quota check)")
        if isinstance(stored, StoredRefusal):
            return v.Verdict(429, TOO_MANY, False, stored.reason, {"error": "storage-quota"})
        admitted.append(stored)
        refusal = rt.quota.charge(nbytes, user, client)
        if refusal is None:
            return None
        retry = max(1, int(refusal.retry_after_s + 0.999))
        return v.Verdict(429, TOO_MANY, False, refusal.reason, {"retry_after": retry, "error": "quota"})

    admitted: list[Admission] = []
    verdict = _register(rt, body, name, charge)
    owner = verdict.extra.get("name")
    if admitted and verdict.status == 200 and isinstance(owner, str):
        try:
            rt.stored_quota().settle(admitted[0], owner)
        except StoreError as exc:  # stored already: the next whole-store scan corrects the total
            log.warning("register: cannot measure what %s stores now: %s", safe_text(owner, 40), exc)
    elif admitted:  # admitted, then refused by a daily quota or not stored: it takes no room
        rt.stored_quota().cancel(admitted[0])
    return verdict


def _register(rt: Runtime, body: dict[str, Any], name: Any, charge: Callable[[int], v.Verdict | None]) -> v.Verdict:
    if "habit" in body or "replace" in body:
        return habit_flows.register_habit_b64(
            rt.store(),
            body.get("data"),
            name,
            body.get("habit"),
            body.get("replace"),
            rt.thresholds(),
            rt.limits,
            gate=rt.gate,
            charge=charge,
            keep_original=rt.config.store_original,
            max_refs=rt.config.max_references_per_habit,
        )
    return register.register_b64(
        rt.store(),
        body.get("data"),
        name,
        rt.thresholds(),
        rt.limits,
        gate=rt.gate,
        charge=charge,
        keep_original=rt.config.store_original,
    )


def _run_verify(rt: Runtime, body: dict[str, Any], client: str) -> v.Verdict:
    if "habit" in body:
        return habit_flows.verify_habit_b64(
            rt.store(),
            body.get("data"),
            body.get("name"),
            body.get("habit"),
            rt.thresholds(),
            rt.limits,
            gate=rt.gate,
            max_refs=rt.config.max_references_per_habit,
            keep_photo=rt.config.keep_proof_photos,
        )
    return verify.verify_b64(rt.store(), body.get("data"), body.get("name"), rt.thresholds(), rt.limits, gate=rt.gate)


def _run_tag(rt: Runtime, body: dict[str, Any], client: str) -> v.Verdict:
    return tag.tag_b64(rt.tagger, body.get("data"), body.get("tag"), rt.thresholds(), rt.limits, gate=rt.gate)


REGISTER = Flow("register", v.TAKE_PICTURE_AGAIN, v.SOMETHING_WRONG, _run_register)
VERIFY = Flow("verify", v.MISSING_PICTURE, v.MISSING_STD_PICTURE, _run_verify)
TAG = Flow("tag", v.NO_TAG, v.CLARIFAI_API_FAULT, _run_tag)
FLOW_BY_PATH = {"/auth/stdimg": REGISTER, "/auth/test": REGISTER, "/auth/feature": VERIFY, "/auth/tag": TAG}


UNAUTHORIZED, FORBIDDEN, TOO_MANY, BUSY, TIMEOUT = (
    "Unauthorized",
    "Forbidden",
    "Too Many Requests",
    "Server Busy",
    "Request Timeout",
)
"""Messages of the answers the contract is silent about (auth, rate limits, overload, slow body)."""


def answer(verdict: v.Verdict, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The HTTP response of a verdict: its JSON, with the HTTP status mirroring ``status``."""
    extra_headers = dict(headers or {})
    retry = verdict.extra.get("retry_after")
    if verdict.status in (429, 503) and isinstance(retry, int):
        extra_headers["Retry-After"] = str(retry)
    return JSONResponse(verdict.to_json(), status_code=verdict.status, headers=extra_headers or None)


def too_many(who: str, wait_s: float) -> v.Verdict:
    retry = max(1, int(wait_s + 0.999))
    return v.Verdict(
        429, TOO_MANY, False, f"rate limit of this {who} reached; retry in {retry} s", {"retry_after": retry}
    )


def admit(flow: Flow, rt: Runtime, raw: bytes, principal: Principal, client: str) -> v.Verdict | dict[str, Any]:
    """Admission-thread part of a request: parse JSON, check the user, and answer an unusable photo at once.

    With a bearer token ``name`` defaults to (and must equal) the token's
    subject.  Register and verify are limited per user (an anonymous
    registration counts against its client).  Returns the parsed body for
    the flow's own thread (:func:`_timed_run`), or the verdict that ends the
    request.

    Why a request whose photo is unusable by its header (a scan flood, a
    text bomb, not base64: :func:`vision.service.common.unusable_photo`) is
    answered here: every flow answers it from its own checks, before the
    store and before a CPU slot, but on the flow threads it would first wait
    for one of them, and under load all of them wait for the CPU gate.
    Issue 22's run with 32 genuine clients: refusals took up to 1.2 s, all
    of it waiting for a flow thread.
    """
    try:
        body = parse_json_object(raw)
    except BadBody as exc:
        return v.Verdict(400, flow.bad_request, False, exc.reason, {"error": exc.code})
    if flow is not TAG:
        try:
            body["name"] = effective_user(principal, body.get("name"))
        except AuthError as exc:
            return v.Verdict(exc.status, FORBIDDEN, False, exc.reason)
        name = body["name"]
        user_key = name if isinstance(name, str) and len(name) <= MAX_USER_ID_LENGTH else f"anon@{client}"
        wait = rt.user_limit.hit(f"user:{user_key}")
        if wait:
            return too_many("user", wait)
    if flow.photo and unusable_photo(body.get("data"), rt.limits):
        return _timed_run(flow, rt, body, client, len(raw))
    return body


def _timed_run(flow: Flow, rt: Runtime, body: dict[str, Any], client: str, body_bytes: int) -> v.Verdict:
    """Run the flow under the request's deadline (never raises); a large body's memory is returned after it."""
    try:
        with rt.gate.deadline(rt.config.request_timeout_s):
            return flow.run(rt, body, client)
    except DeadlineExceeded as exc:
        return v.Verdict(503, BUSY, False, str(exc), {"retry_after": 2})
    finally:
        del body
        if body_bytes >= _TRIM_AFTER_BYTES:
            # A large photo's buffers (body, base64, pixels) were just freed: give them back to the system.
            release_memory()


_TRIM_AFTER_BYTES = 256_000
"""Bodies at least this large are followed by ``malloc_trim``; smaller ones leave too little to return."""


def _client_of(request: Request) -> str:
    """The peer address (no proxy header is trusted: a client could forge it)."""
    return request.client.host if request.client else "unknown"


async def handle(flow: Flow, rt: Runtime, request: Request) -> Response:
    """Limit, authenticate, read, run off the event loop, answer; every failure is a contract answer."""
    start = time.perf_counter()
    client = _client_of(request)
    headers: dict[str, str] = {}
    try:
        verdict = await _answer_request(flow, rt, request, client, headers)
    except ClientDisconnect:
        # The client went away mid-upload: nothing to answer, nothing wrong with the server.
        log.info("%s %s: client %s disconnected before sending its body", request.method, request.url.path, client)
        return Response(status_code=499)
    except Exception as exc:
        log.exception("%s %s: unexpected %s", request.method, request.url.path, type(exc).__name__)
        verdict = v.Verdict(500, flow.fault, False, f"internal error ({type(exc).__name__})")
    level = logging.WARNING if verdict.status >= 500 else logging.INFO
    log.log(
        level,
        "%s %s from %s -> %d %s (%s) %.0f ms",
        request.method,
        request.url.path,
        safe_text(client, 64),
        verdict.status,
        verdict.message,
        safe_text(verdict.reason, 300),
        (time.perf_counter() - start) * 1000,
    )
    return answer(verdict, headers)


async def _answer_request(flow: Flow, rt: Runtime, request: Request, client: str, headers: dict[str, str]) -> v.Verdict:
    wait = rt.client_limit.hit(f"client:{client}")
    if wait:
        return too_many("client", wait)
    try:
        principal = authenticate(rt.config.auth, request.headers)
    except AuthError as exc:
        if exc.challenge:
            headers["WWW-Authenticate"] = exc.challenge
        return v.Verdict(exc.status, UNAUTHORIZED if exc.status == 401 else FORBIDDEN, False, exc.reason)
    try:
        raw = await read_body(request, rt.max_body_bytes, rt.config.body_timeout_s, rt.config.body_idle_timeout_s)
    except BadBody as exc:
        return v.Verdict(400, flow.bad_request, False, exc.reason, {"error": exc.code})
    except BodyTimeout as exc:
        headers["Connection"] = "close"
        return v.Verdict(408, TIMEOUT, False, str(exc), {"error": "timeout"})
    try:
        # The backstop deadline; the CPU gate and the store guard normally answer well before it.
        async with asyncio.timeout(rt.config.request_timeout_s + rt.config.store_timeout_s):
            admitted = await anyio.to_thread.run_sync(
                admit, flow, rt, raw, principal, client, limiter=rt.threads_for("admission"), abandon_on_cancel=True
            )
            if isinstance(admitted, v.Verdict):
                return admitted
            size, raw = len(raw), b""  # parsed: the flow holds only the body
            return await anyio.to_thread.run_sync(
                _timed_run, flow, rt, admitted, client, size, limiter=rt.threads_for(flow.name), abandon_on_cancel=True
            )
    except TimeoutError:
        return v.Verdict(503, BUSY, False, "the request ran out of time", {"retry_after": 2})
