"""The one way tests run ``python -m vision``: in this process (fast), stdout and stderr captured.

``vision.cli.main`` is what ``python -m vision`` calls; ``test_cli.py`` keeps one
real subprocess run to cover the module entry point itself.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from vision.cli import main

REPO_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class CliResult:
    """Like ``subprocess.CompletedProcess``: exit code and the two streams."""

    returncode: int
    stdout: str
    stderr: str


def invoke(*args: str | Path, cwd: Path = REPO_DIR) -> CliResult:
    """Run ``python -m vision ARGS`` in-process from ``cwd``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse refusing the arguments
            code = exc.code if isinstance(exc.code, int) else 2
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli(*args: str | Path, cwd: Path = REPO_DIR) -> tuple[int, dict, str]:
    """Exit code, the one JSON document on stdout, and stderr."""
    done = invoke(*args, cwd=cwd)
    try:
        body = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not one JSON document:\n{done.stdout}\nstderr:\n{done.stderr}")
    return done.returncode, body, done.stderr


def cli_json(*args: str | Path) -> dict:
    """The JSON document of a command that must succeed (exit 0)."""
    rc, body, stderr = run_cli(*args)
    assert rc == 0, stderr
    return body
