"""The ``python -m vision`` parser: each subcommand module adds its own commands."""

from __future__ import annotations

import argparse

from vision.cli import tag, tune, verify

DESCRIPTION = "Photo verification: every command prints one JSON document on stdout."


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each sets ``func`` (see :func:`vision.cli.common.command`)."""
    parser = argparse.ArgumentParser(prog="python -m vision", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    verify.add_commands(sub)
    tune.add_commands(sub)
    tag.add_commands(sub)
    return parser
