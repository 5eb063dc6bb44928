"""Reading a request body: content type, size limit, read timeouts, JSON object."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import Request

from vision.core.logsafe import safe_text

log = logging.getLogger("vision.api")


JSON_TYPES = ("application/json",)


class BadBody(Exception):
    """The request body cannot be used; ``reason`` says why, ``code`` names the check."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class BodyTimeout(Exception):
    """The client did not send its body in time (408)."""


async def read_body(request: Request, limit: int, total_s: float = 30.0, idle_s: float = 10.0) -> bytes:
    """The raw body, refusing anything over ``limit`` bytes before it is all read.

    The declared ``Content-Length`` is checked first; the streamed bytes are
    counted too (chunked bodies have no length).  A client that sends nothing
    for ``idle_s`` seconds, or has not finished after ``total_s``, gets
    :class:`BodyTimeout` (a slow upload cannot hold a connection forever).
    JSON is parsed later, from these bytes only.
    """
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not (media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))):
        shown = safe_text(media, 60) if media else "none"
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
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total_s
    chunks = request.stream().__aiter__()
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise BodyTimeout(f"the request body was not complete after {total_s:g} s")
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), timeout=min(idle_s, left))
        except StopAsyncIteration:
            break
        except TimeoutError:
            if left < idle_s:
                raise BodyTimeout(f"the request body was not complete after {total_s:g} s") from None
            raise BodyTimeout(f"the client sent no body data for {idle_s:g} s ({len(buf)} bytes received)") from None
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
