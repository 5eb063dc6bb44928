"""A loopback TCP proxy that forwards, or stalls: it accepts and reads but never answers.

Put in front of the moto server, it turns a healthy S3 endpoint into one that
hangs (the failure mode of a half-dead load balancer) at the flip of
``stall``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlparse


class StallProxy:
    """``with StallProxy(upstream_url) as proxy:`` -> ``proxy.url``; set ``proxy.stall = True`` to hang."""

    def __init__(self, upstream_url: str) -> None:
        parsed = urlparse(upstream_url)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.stall = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> StallProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _keep(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        return sock

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._keep(client)
            target = self._swallow if self.stall else self._forward
            threading.Thread(target=target, args=(client,), daemon=True).start()

    def _swallow(self, client: socket.socket) -> None:
        """Read whatever comes, answer nothing, until the client or the proxy closes."""
        client.settimeout(0.5)
        while not self._closing.is_set():
            try:
                if not client.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = self._keep(socket.create_connection(self.upstream, timeout=5))
        except OSError:
            client.close()
            return
        threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
        self._pipe(client, upstream)

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(None)
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.stall:  # a connection kept alive from before the flip hangs too
                    self._swallow(src)
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
