"""The habit endpoints' HTTP side: ``GET /auth/history`` and ``POST /auth/dispute`` (:mod:`vision.service.habit_flows`).

``POST /auth/dispute`` is an ordinary :class:`~vision.web.flows.Flow` (same limits, auth, body reading as
the contract's flows).  ``GET /auth/history`` takes its fields from the query string and passes the same
gates in the same order: the client's rate limit, authentication (a token may only read its subject's
history), the user's rate limit, then the read off the event loop under the request deadline.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from vision.core import verdict as v
from vision.service import habit_flows
from vision.store.history import MAX_PAGE
from vision.store.ids import MAX_USER_ID_LENGTH
from vision.web.auth import AuthError, authenticate, effective_user
from vision.web.docs import USER_ID_PATTERN
from vision.web.flows import FORBIDDEN, UNAUTHORIZED, Flow, answer, handle, too_many
from vision.web.runtime import Runtime

__all__ = ["DISPUTE", "add_habit_routes"]

_ANSWERS = {
    code: {"description": desc, "content": {"application/json": {"example": {"status": code, "result": False}}}}
    for code, desc in (
        (400, "a field is malformed (the reason names it)"),
        (401, "authentication required"),
        (403, "the token is for another user"),
        (404, "no such verification in the habit's history"),
        (408, "the body came too slowly"),
        (413, "the body is too large"),
        (429, "rate limit"),
        (500, "the store cannot be read or written"),
        (503, "busy or out of time"),
    )
}

HABIT_PATTERN = r"^[a-z0-9_-]{1,32}$"
ENTRY_PATTERN = r"^[0-9]{8}T[0-9]{12}Z-[0-9a-f]{32}$"
_MAX_QUERY_VALUE = 128
"""Longest query-string value read (the cursor is 55 characters); longer ones are refused before any work."""


def _run_dispute(rt: Runtime, body: dict[str, Any], client: str) -> v.Verdict:
    return habit_flows.dispute(rt.store(), body.get("name"), body.get("habit"), body.get("id"), body.get("claim"))


DISPUTE = Flow("dispute", habit_flows.BAD, v.SOMETHING_WRONG, _run_dispute, photo=False)  # no photo: store work


def _history(rt: Runtime, request: Request) -> v.Verdict:
    """The history read's gates and the read itself (runs off the event loop)."""
    params = request.query_params
    for key, value in params.items():
        if len(value) > _MAX_QUERY_VALUE:
            return v.Verdict(400, habit_flows.BAD, False, f"query value of {key[:32]!r} is too long")
    client = request.client.host if request.client else "unknown"
    if wait := rt.client_limit.hit(f"client:{client}"):
        return too_many("client", wait)
    try:
        principal = authenticate(rt.config.auth, request.headers)
        name = effective_user(principal, params.get("name"))
    except AuthError as exc:
        return v.Verdict(exc.status, UNAUTHORIZED if exc.status == 401 else FORBIDDEN, False, exc.reason)
    user_key = name if isinstance(name, str) and len(name) <= MAX_USER_ID_LENGTH else f"anon@{client}"
    if wait := rt.user_limit.hit(f"user:{user_key}"):
        return too_many("user", wait)
    return habit_flows.history_page(rt.store(), name, params.get("habit"), params.get("limit"), params.get("before"))


HISTORY_DOC = """One page of a habit's verification history, newest first.

Each entry: `id` (the verification id a dispute names), `created_at`, `status`, `message`, `result`,
`reason`, `rule`, `numbers` (the rule's evidence), `replay`, `profile` (hash of the thresholds),
`reference` (the matched or tried reference key) and, once disputed, `dispute`
(`claim`, `label`, `reviewed`).  `limit` is 1-100 (default 20); pass `next` as `before` for the next page.
Same authentication as the user's own requests."""

DISPUTE_DOC = """Dispute a verdict: `{"name", "habit", "id", "claim": "same" | "different"}`.

The claim is recorded on the history entry (label 1 for `same`, 0 for `different`, unreviewed) for a
reviewer to confirm in the Tuning lab.  Unknown `id`: 404 `Not Found`."""


def add_habit_routes(app: FastAPI, rt: Runtime) -> None:
    """Add ``GET /auth/history`` and ``POST /auth/dispute`` to ``app``."""

    @app.get(
        "/auth/history",
        summary="A habit's verification history (paginated)",
        description=HISTORY_DOC,
        response_class=JSONResponse,
        responses=_ANSWERS,  # type: ignore[arg-type]
    )
    async def history(
        request: Request,
        name: str = Query(min_length=1, max_length=MAX_USER_ID_LENGTH, pattern=USER_ID_PATTERN),
        habit: str | None = Query(None, pattern=HABIT_PATTERN),
        limit: int = Query(20, ge=1, le=MAX_PAGE),
        before: str | None = Query(None, pattern=ENTRY_PATTERN),
    ) -> Response:
        verdict = await anyio.to_thread.run_sync(_history, rt, request, limiter=rt.threads_for("history"))
        return answer(verdict)

    @app.post(
        "/auth/dispute",
        summary="Dispute a verdict of the history",
        description=DISPUTE_DOC,
        response_class=JSONResponse,
        responses=_ANSWERS,  # type: ignore[arg-type]
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["name", "id", "claim"],
                            "properties": {
                                "name": {
                                    "type": "string",
                                    "minLength": 1,
                                    "maxLength": MAX_USER_ID_LENGTH,
                                    "pattern": USER_ID_PATTERN,
                                },
                                "habit": {"type": "string", "pattern": HABIT_PATTERN},
                                "id": {"type": "string", "pattern": ENTRY_PATTERN},
                                "claim": {"type": "string", "enum": list(habit_flows.CLAIMS)},
                            },
                        }
                    }
                },
            }
        },
    )
    async def dispute(request: Request) -> Response:
        return await handle(DISPUTE, rt, request)
