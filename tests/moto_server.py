"""A real S3 HTTP endpoint on loopback for the tests: moto's ThreadedMotoServer."""

from __future__ import annotations

from typing import Any


def start_moto() -> tuple[Any, str]:
    """Start a ThreadedMotoServer on a free loopback port; return it and its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def stop_moto(server: Any) -> None:
    """Stop a moto server and close its listening socket.

    ``ThreadedMotoServer.stop`` only ends the serve loop; the socket keeps
    accepting into its backlog, which looks like a hung server rather than a
    stopped one.  Closing it makes the port refuse connections.
    """
    server.stop()
    inner = getattr(server, "_server", None)
    if inner is not None:
        inner.server_close()
