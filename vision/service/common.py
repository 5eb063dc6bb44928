"""What the API's flows share: the CPU gate's type and the JSON names of request values (for reasons)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from typing import Any

Gate = Callable[[], ContextManager[Any]]
"""A context manager factory held around CPU-heavy work (the API bounds how many run at once)."""


def no_gate() -> ContextManager[Any]:
    """The gate of a caller that does not bound CPU work (the CLI, tests)."""
    return contextlib.nullcontext()


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type (for reasons)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
