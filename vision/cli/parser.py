"""The ``python -m vision`` parser: each subcommand module adds its own commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn

from vision.cli import store, tag, tune, verify

DESCRIPTION = "Photo verification: every command prints one JSON document on stdout."


class JsonArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors keep the convention: ``{"error": ...}`` on stdout, exit 2.

    The usage text still goes to stderr for people; subcommand parsers inherit the class.
    """

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        print(json.dumps({"error": message}, indent=2))
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each sets ``func`` (see :func:`vision.cli.common.command`)."""
    parser = JsonArgumentParser(prog="python -m vision", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    verify.add_commands(sub)
    tune.add_commands(sub)
    tag.add_commands(sub)
    store.add_commands(sub)
    return parser
