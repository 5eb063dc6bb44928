"""How a command says it failed; :func:`vision.cli.command` turns these into the exit code.

Exit codes: 0 the command ran (its JSON may still say a photo was rejected),
1 a backend failed (``CommandError``: its JSON body says why), 2 the input was
unusable (``UsageError``: ``{"error": ...}``).
"""

from __future__ import annotations

from typing import Any


class UsageError(Exception):
    """Bad arguments or unreadable inputs: reported as ``{"error": message}`` with exit code 2."""


class CommandError(Exception):
    """The command ran but a backend failed: ``body`` is printed and the exit code is 1."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("error", "command failed")))
        self.body = body
