"""API server processes for the tests: ``scripts/serve_api.sh`` on a free loopback port, as production starts it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from redis_server import free_port

REPO = Path(__file__).resolve().parents[1]


def start_api(workdir: Path, settings: Mapping[str, str], name: str = "api") -> tuple[subprocess.Popen, str]:
    """Start one API process with ``settings`` in its environment; return it and its URL once /healthz answers.

    Its log goes to ``workdir/<name>.log`` (an unread pipe would fill and block it);
    ``RuntimeError`` with the log's tail when it exits or does not answer within 30 s.
    """
    port = free_port()
    env = {**os.environ, "PYTHON": sys.executable, "HOST": "127.0.0.1", "PORT": str(port), **settings}
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            ["bash", str(REPO / "scripts" / "serve_api.sh"), "--log-level", "warning", "--no-access-log"],
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    stop_api(proc)
    raise RuntimeError(f"API {name} did not start: {log_path.read_text(errors='replace')[-2000:]}")


def stop_api(proc: subprocess.Popen) -> None:
    """Stop a process started by :func:`start_api` (its own pid: uvicorn exits on SIGTERM)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def api_processes(workdir: Path, settings: Mapping[str, str], count: int = 2) -> Iterator[list[str]]:
    """``count`` API processes with the same settings (one store, one Redis...); yields their URLs."""
    with ExitStack() as stack:
        urls = []
        for i in range(count):
            proc, url = start_api(workdir, settings, f"api{i}")
            stack.callback(stop_api, proc)
            urls.append(url)
        yield urls
