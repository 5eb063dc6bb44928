"""Connection guards uvicorn lacks: a request-header deadline and a cap on open connections per client address.

uvicorn's ``--timeout-keep-alive`` only covers an idle connection *between*
requests: a client that opens a socket and sends half a request line, or one
header byte every few seconds, is kept forever, and every such socket counts
against ``--limit-concurrency``, so 260 of them from one address gave every
genuine request 503 (issue 22, item 3).  h11 bounds the size of incomplete
headers (``h11_max_incomplete_event_size``, 16 KB), not their time.

:class:`GuardedH11Protocol` is uvicorn's own h11 protocol with two additions:

- **header deadline**: from the connection's first byte (or from the first byte
  of the next request on a kept-alive connection), the request line and headers
  must be complete within ``header_timeout_s``, or the connection is answered
  ``408 Request Timeout`` and closed.  The deadline is absolute, so trickling
  bytes does not extend it.  The body has its own timeouts in the app
  (:mod:`vision.web.body`);
- **per-address cap**: at most ``max_per_client`` open connections from one TCP
  peer address; the next is answered ``429 Too Many Requests`` and closed
  before anything is read.

Use it with ``uvicorn --http vision.web.connections:GuardedH11Protocol``
(``scripts/serve_api.sh`` does), which reads ``VISION_HEADER_TIMEOUT_S`` and
``VISION_MAX_CONNECTIONS_PER_CLIENT``; tests build their own with
:func:`guarded_protocol`.  Counts are per process (one event loop each).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from vision.core.settings import load_settings

DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_MAX_PER_CLIENT = 32
REFUSED_LINGER_S = 1.0


def _raw_answer(status: int, message: str, reason: str, retry_after: int | None = None) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 response in the contract's JSON shape."""
    body = json.dumps({"status": status, "message": message, "result": False, "reason": reason}).encode()
    lines = [
        f"HTTP/1.1 {status} {message}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    if retry_after is not None:
        lines.append(f"retry-after: {retry_after}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-header deadline and a per-address connection cap."""

    header_timeout_s: ClassVar[float] = DEFAULT_HEADER_TIMEOUT_S
    max_per_client: ClassVar[int] = DEFAULT_MAX_PER_CLIENT
    open_by_client: ClassVar[dict[str, int]] = {}
    """Open connections per peer address, shared by every connection of this class (one event loop)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._counted_as: str | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else "unknown"
        if self.open_by_client.get(host, 0) >= self.max_per_client:
            self._refuse(transport)
            return
        self.open_by_client[host] = self.open_by_client.get(host, 0) + 1
        self._counted_as = host
        self._arm_header_timer()

    def _refuse(self, transport: asyncio.Transport) -> None:
        """Answer 429 and half-close; the socket is closed once the client has read it (at most 1 s later).

        Closing at once, with the client's first bytes unread, would make the
        kernel send a reset that can destroy the answer before it is read.
        """
        self._refused = True
        reason = f"more than {self.max_per_client} open connections from this address"
        transport.write(_raw_answer(429, "Too Many Requests", reason, retry_after=1))
        if transport.can_write_eof():
            transport.write_eof()
        self.loop.call_later(REFUSED_LINGER_S, transport.close)
        self.connections.discard(self)  # nor does it count against --limit-concurrency meanwhile

    def data_received(self, data: bytes) -> None:
        if self._refused:  # answered already: what it sends is dropped unread
            return
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:  # the next request's headers are not complete yet
            if self._header_timer is None and not self.transport.is_closing():
                self._arm_header_timer()
        else:
            self._cancel_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        host, self._counted_as = self._counted_as, None
        if host is not None:
            left = self.open_by_client.get(host, 1) - 1
            if left > 0:
                self.open_by_client[host] = left
            else:
                self.open_by_client.pop(host, None)
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        """The deadline passed: 408 and close, unless the headers completed meanwhile."""
        self._header_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        reason = f"the request headers were not complete within {self.header_timeout_s:g} s"
        self.transport.write(_raw_answer(408, "Request Timeout", reason))
        self.transport.close()


def guarded_protocol(
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S, max_per_client: int = DEFAULT_MAX_PER_CLIENT
) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` subclass with these limits and its own connection counts (``uvicorn.Config(http=...)``)."""
    if not header_timeout_s > 0:
        raise ValueError(f"header_timeout_s must be > 0, got {header_timeout_s}")
    if max_per_client < 1:
        raise ValueError(f"max_per_client must be >= 1, got {max_per_client}")
    attrs = {"header_timeout_s": header_timeout_s, "max_per_client": max_per_client, "open_by_client": {}}
    return type("GuardedH11Protocol", (GuardedH11Protocol,), attrs)


def limits_from_settings(settings: Mapping[str, str]) -> tuple[float, int]:
    """``(header_timeout_s, max_per_client)`` from ``VISION_HEADER_TIMEOUT_S`` and ``VISION_MAX_CONNECTIONS_PER_CLIENT``.

    Raises ``ValueError`` naming the setting when a value is not a positive number.
    """
    raw_timeout = settings.get("VISION_HEADER_TIMEOUT_S", "") or str(DEFAULT_HEADER_TIMEOUT_S)
    raw_cap = settings.get("VISION_MAX_CONNECTIONS_PER_CLIENT", "") or str(DEFAULT_MAX_PER_CLIENT)
    try:
        timeout = float(raw_timeout)
        cap = int(raw_cap)
    except ValueError:
        raise ValueError(
            f"VISION_HEADER_TIMEOUT_S ({raw_timeout!r}) and VISION_MAX_CONNECTIONS_PER_CLIENT ({raw_cap!r}) "
            "must be a number of seconds and a whole number"
        ) from None
    if not timeout > 0 or cap < 1:
        raise ValueError(
            f"VISION_HEADER_TIMEOUT_S must be > 0 and VISION_MAX_CONNECTIONS_PER_CLIENT >= 1 (got {raw_timeout}, {raw_cap})"
        )
    return timeout, cap


def _configure_from_settings() -> None:
    """Give the class uvicorn imports by name (``--http vision.web.connections:GuardedH11Protocol``) the settings' limits."""
    GuardedH11Protocol.header_timeout_s, GuardedH11Protocol.max_per_client = limits_from_settings(load_settings())


_configure_from_settings()
