"""Command line: ``python -m vision {register,verify,evaluate,tune,tag,evaluate-tags,store gc}``; JSON on stdout.

Other tools parse the output, so every command prints exactly one JSON
document on stdout (progress goes to stderr) and exits 0 when it ran, 1 when a
backend failed, 2 when its input was unusable (the JSON then has an ``error``
field, and stderr repeats it for people).

The handler convention: a subcommand module adds its parsers with
``set_defaults(func=command(handler))``, where ``handler(args) -> dict`` returns
the JSON body and raises :class:`~vision.cli.errors.UsageError` (exit 2) or
:class:`~vision.cli.errors.CommandError` (exit 1); :func:`command` prints and
maps them, so ``args.func(args)`` is the exit code.
"""

from __future__ import annotations

from vision.cli.parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code
