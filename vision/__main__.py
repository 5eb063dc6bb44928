"""Command line: ``python -m vision {register,verify,evaluate,...}``; JSON on stdout.

Other tools parse the output, so every command prints exactly one JSON
document on stdout (progress goes to stderr) and exits 0 when it ran, 2 when
its input was unusable (the JSON then has an ``error`` field).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vision.decision import RULES, Thresholds, decide_original, load_profile
from vision.errors import ImageInputError
from vision.evaluate import evaluate_folder
from vision.imageio import decode_image
from vision.original import original_evidence
from vision.pipeline import prepare_photo, register_photo, verify_photo
from vision.tagging.cli import add_tag_commands

Handler = Callable[[argparse.Namespace], dict[str, Any]]


class UsageError(Exception):
    """Bad arguments or unreadable inputs: reported as JSON with exit code 2."""


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def _profile(args: argparse.Namespace):
    try:
        return load_profile(args.profile)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_register(args: argparse.Namespace) -> dict[str, Any]:
    verdict, _ = register_photo(_read(args.image), _profile(args))
    return verdict.to_json()


def cmd_verify(args: argparse.Namespace) -> dict[str, Any]:
    thresholds = _profile(args)
    rule = args.rule or thresholds.rule  # default: the profile's rule
    ref_bytes, query_bytes = _read(args.ref), _read(args.query)
    if rule == "original":
        return _verify_original(ref_bytes, query_bytes, thresholds)
    try:
        ref = prepare_photo(
            ref_bytes, thresholds.feature_settings, embed=rule in ("fused", "learned"), learned=rule == "learned"
        )
    except ImageInputError as exc:
        return {"status": 500, "message": "Missing Std Picture", "result": False, "reason": str(exc)}
    result = verify_photo(ref.features, query_bytes, thresholds, rule=rule)
    body = result.to_json()
    body["timings_ms"] = {"ref_" + k: val for k, val in ref.timings.items()} | result.timings
    body["rule"] = result.rule
    return body


def _verify_original(ref_bytes: bytes, query_bytes: bytes, thresholds) -> dict[str, Any]:
    try:
        ref = decode_image(ref_bytes).bgr
    except ImageInputError as exc:
        return {"status": 500, "message": "Missing Std Picture", "result": False, "reason": str(exc)}
    try:
        query = decode_image(query_bytes).bgr
    except ImageInputError as exc:
        return {"status": 400, "message": "Missing Picture", "result": False, "reason": str(exc)}
    body = decide_original(original_evidence(ref, query), thresholds).to_json()
    body["rule"] = "original"
    return body


def cmd_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    try:
        return evaluate_folder(
            args.data_dir, _profile(args), args.rule, workers=args.workers, show_progress=not args.quiet
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vision", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("register", help="check a reference photo (contract body + keypoints)")
    p.add_argument("image")
    p.add_argument("--profile", help="thresholds profile (JSON or TOML)")
    p.set_defaults(handler=cmd_register)

    p = sub.add_parser("verify", help="verify QUERY against reference REF")
    p.add_argument("ref")
    p.add_argument("query")
    p.add_argument("--profile")
    p.add_argument("--rule", choices=RULES, default=None, help="default: the profile's rule (learned by default)")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("evaluate", help="accuracy on a folder with pairs.csv")
    p.add_argument("data_dir")
    p.add_argument("--profile")
    p.add_argument("--rule", choices=RULES, default=None, help="default: the profile's rule (learned by default)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_evaluate)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub: argparse._SubParsersAction) -> None:
    """Commands of the other modules (tagging, tuning) register themselves here.

    Their handlers are ``args.func(args) -> int`` (they print their own JSON).
    """
    add_tag_commands(sub, min_confidence=Thresholds().tag_min_confidence, profile_loader=load_profile)
    try:
        from vision.tuning import add_tune_commands
    except ImportError:
        pass
    else:
        add_tune_commands(sub)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "func"):
        return args.func(args)
    try:
        body = args.handler(args)
    except UsageError as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    print(json.dumps(body, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
