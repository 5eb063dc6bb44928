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


def s3_client(endpoint_url: str, key_id: str, secret: str, **config: Any) -> Any:
    """The one boto3 S3 client factory of the tests: dummy credentials, short timeouts, one attempt.

    ``config`` overrides the :class:`botocore.config.Config` options.
    """
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {
        "connect_timeout": 2,
        "read_timeout": 5,
        "retries": {"total_max_attempts": 1, "mode": "standard"},
        "max_pool_connections": 32,  # the concurrency tests use 16 threads
        "s3": {"addressing_style": "path"},
        "signature_version": "s3v4",
    }
    options.update(config)
    session = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, region_name="us-east-1")
    return session.client("s3", endpoint_url=endpoint_url, config=Config(**options))
