"""``python -m vision.web.serve``: uvicorn with the connection guards of :mod:`vision.web.connections`.

uvicorn's command line only accepts its own protocol names for ``--http``, so
the API is started through ``uvicorn.run`` with :class:`GuardedH11Protocol`
(a class uvicorn's worker processes import by name).  The options are the
uvicorn ones ``scripts/serve_api.sh`` and ``bench/load_api.py`` use, with the
same spelling; the header deadline and per-address cap come from
``VISION_HEADER_TIMEOUT_S`` and ``VISION_MAX_CONNECTIONS_PER_CLIENT``.
"""

from __future__ import annotations

import argparse

import uvicorn

from vision.web.connections import GuardedH11Protocol


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The uvicorn options this launcher passes on."""
    parser = argparse.ArgumentParser(prog="python -m vision.web.serve", description=__doc__.splitlines()[0])
    parser.add_argument("app", nargs="?", default="api:app", help="the ASGI app (default api:app)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=None, help="server processes (limits: see VISION_REDIS_URL)")
    parser.add_argument("--timeout-keep-alive", type=int, default=5)
    parser.add_argument("--limit-concurrency", type=int, default=None)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run uvicorn with the guarded h11 protocol until it is stopped."""
    args = parse_args(argv)
    uvicorn.run(
        args.app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        http=GuardedH11Protocol,
        timeout_keep_alive=args.timeout_keep_alive,
        limit_concurrency=args.limit_concurrency,
        log_level=args.log_level,
        access_log=not args.no_access_log,
    )


if __name__ == "__main__":
    main()
