"""A real Redis on loopback for the tests: Debian's ``redis-server``, started and stopped by the fixture that needs it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    """A free loopback TCP port (bound and released: good enough for a test server started right after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    """Start ``redis-server`` on a free loopback port, nothing saved to disk; return it and its ``redis://`` URL.

    Raises ``RuntimeError`` with its output when it does not answer PING within 10 s
    (``apt-get install redis-server``; ``scripts/test.sh`` installs it as root).
    """
    port = free_port()
    log = workdir / "redis.log"
    proc = subprocess.Popen(
        [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--logfile", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    text = log.read_text(errors="replace")[-1000:] if log.exists() else ""
    raise RuntimeError(f"redis-server did not start on port {port}: {text}")


def stop_redis(proc: subprocess.Popen) -> None:
    """Stop the server started by :func:`start_redis` (its own pid only)."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
