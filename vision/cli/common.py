"""The handler convention of every subcommand, and the helpers handlers share (see :mod:`vision.cli`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vision.cli.errors import CommandError, UsageError
from vision.core.errors import ImageInputError
from vision.image.imageio import DEFAULT_LIMITS, read_file_bounded
from vision.lab.pool import DEFAULT_WORKERS, Workers
from vision.profile import Profile, load_profile

Handler = Callable[[argparse.Namespace], dict[str, Any]]
Command = Callable[[argparse.Namespace], int]


def command(handler: Handler) -> Command:
    """Wrap ``handler`` in the convention: print its JSON body, return the exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            body = handler(args)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            _print({"error": str(exc)})
            return 2
        except CommandError as exc:
            print(f"error: {exc}", file=sys.stderr)
            _print(exc.body)
            return 1
        _print(body)
        # A body naming an ``error`` means the input was unusable (not an image...): exit 2, as documented.
        return 2 if body.get("error") else 0

    run.__name__ = run.__qualname__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def _print(body: dict[str, Any]) -> None:
    print(json.dumps(body, indent=2, default=str, ensure_ascii=False))


def read_input(path: str | Path, max_bytes: int = DEFAULT_LIMITS.max_bytes) -> bytes:
    """The bytes of an input photo, read no further than ``max_bytes + 1``; ``UsageError`` naming it.

    ``/dev/zero`` or a 20 GB file is refused after at most ``max_bytes`` read
    (a regular file from its size alone), not after filling the memory.
    """
    try:
        return read_file_bounded(path, max_bytes)
    except ImageInputError as exc:
        raise UsageError(str(exc)) from None


def profile_of(args: argparse.Namespace) -> Profile:
    """The ``--profile`` file's profile (the defaults without one); ``UsageError`` when it is unusable."""
    try:
        return load_profile(args.profile)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    """``--workers N`` (local processes, default 2), ``--threads`` and ``--scheduler tcp://HOST:8786`` (Dask)."""
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="local worker processes (default 2)")
    parser.add_argument("--threads", action="store_true", help="threads instead of processes (one process)")
    parser.add_argument("--scheduler", help="a Dask scheduler address, tcp://HOST:8786: run the pairs on that cluster")


def workers_of(args: argparse.Namespace) -> Workers:
    """The :class:`vision.lab.pool.Workers` the options ask for; ``UsageError`` when they are unusable."""
    try:
        return Workers(args.workers, "threads" if args.threads else "processes", args.scheduler)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
