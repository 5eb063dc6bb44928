"""Issue 11, item 8: every command prints one JSON document and exits 2 on unusable input (the issue's commands)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from api_fixtures import REPO

from vision.cli import main

SAME_REF = REPO / "samples" / "images" / "lightglue" / "DSC_0410.JPG"


def run(*args: object) -> tuple[int, dict, str]:
    """``python -m vision ARGS`` in a subprocess: exactly one JSON document on stdout, or this raises."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "vision", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def run_here(capsys, *args: object) -> tuple[int, dict, str]:
    """The same, in this process (fast): ``main`` returns the code, or argparse exits with it."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


@pytest.fixture(scope="module")
def random_bytes(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("cli") / "random.jpg"
    path.write_bytes(os.urandom(4096))
    return str(path)


def test_tag_missing_file_prints_json_and_exits_2():
    code, body, err = run("tag", "/missing.jpg", "--tag", "cup")
    assert code == 2 and "/missing.jpg" in body["error"] and "error" in err


@pytest.mark.parametrize("command", ["register", "verify-ref", "verify-query"])
def test_random_bytes_exit_2_with_the_contract_body(command, random_bytes, capsys):
    args = {
        "register": ("register", random_bytes),
        "verify-ref": ("verify", random_bytes, SAME_REF, "--rule", "original"),
        "verify-query": ("verify", SAME_REF, random_bytes, "--rule", "original"),
    }[command]
    code, body, _ = run_here(capsys, *args)
    assert code == 2 and body["error"] == "NotAnImageError" and body["result"] is False
    assert body["message"] in {"Take Picture Again", "Missing Std Picture", "Missing Picture"}


@pytest.mark.parametrize(
    "args, fragment",
    [(("verify", "a", "b", "--rule", "bogus"), "invalid choice: 'bogus'"), (("register",), "required: image")],
)
def test_usage_errors_are_json(args, fragment, capsys):
    code, body, err = run_here(capsys, *args)
    assert code == 2 and fragment in body["error"] and "usage:" in err


@pytest.mark.parametrize(
    "args",
    [
        ("verify", "/dev/zero", SAME_REF),
        ("verify", SAME_REF, "/dev/zero"),
        ("register", "/dev/zero"),
        ("tag", "/dev/zero"),
    ],
)
def test_an_endless_input_is_refused_after_the_byte_limit_not_read_to_the_end(args):
    """Issue 22, item 8: ``/dev/zero`` is read no further than the 20 MB limit (+1 byte), then exit 2 naming it."""
    code, body, err = run(*args)
    assert code == 2
    assert "/dev/zero is larger than 20 MB" in body["error"]
    assert "/dev/zero is larger than 20 MB" in err


def test_a_regular_file_over_the_limit_is_refused_from_its_size(tmp_path, capsys):
    big = tmp_path / "big.jpg"
    with big.open("wb") as fh:  # sparse: 30 GB of size, no disk used; reading it would take minutes
        fh.truncate(30_000_000_000)
    code, body, _err = run_here(capsys, "verify", big, SAME_REF)
    assert code == 2
    assert "big.jpg is larger than 20 MB" in body["error"]
