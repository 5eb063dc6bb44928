"""``register``, ``verify`` and ``evaluate``: one photo, one pair, a labelled folder."""

from __future__ import annotations

import argparse
from typing import Any

from vision.cli.common import command, profile_of, read_input
from vision.cli.errors import UsageError
from vision.decision import decide_original
from vision.errors import ImageInputError
from vision.imageio import decode_image
from vision.lab.evaluate import evaluate_folder
from vision.lab.pool import DEFAULT_WORKERS
from vision.original import original_evidence
from vision.pipeline import prepare_photo, register_photo, verify_photo
from vision.profile import RULES, Profile


def cmd_register(args: argparse.Namespace) -> dict[str, Any]:
    """Check a reference photo: the contract body and its keypoints."""
    verdict, _ = register_photo(read_input(args.image), profile_of(args))
    return verdict.to_json()


def cmd_verify(args: argparse.Namespace) -> dict[str, Any]:
    """Verify QUERY against REF with ``--rule`` (default: the profile's rule)."""
    thresholds = profile_of(args)
    rule = args.rule or thresholds.rule  # default: the profile's rule
    ref_bytes, query_bytes = read_input(args.ref), read_input(args.query)
    if rule == "original":
        return _verify_original(ref_bytes, query_bytes, thresholds)
    try:
        ref = prepare_photo(ref_bytes, thresholds.feature_settings, embed=rule == "fused")
    except ImageInputError as exc:
        return {"status": 500, "message": "Missing Std Picture", "result": False, "reason": str(exc)}
    result = verify_photo(ref.features, query_bytes, thresholds, rule=rule)
    body = result.to_json()
    body["timings_ms"] = {"ref_" + k: val for k, val in ref.timings.items()} | result.timings
    body["rule"] = result.rule
    return body


def _verify_original(ref_bytes: bytes, query_bytes: bytes, thresholds: Profile) -> dict[str, Any]:
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
    """Accuracy of one rule on a labelled folder (:func:`vision.lab.evaluate.evaluate_folder`)."""
    try:
        return evaluate_folder(
            args.data_dir, profile_of(args), args.rule, workers=args.workers, show_progress=not args.quiet
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``register``, ``verify`` and ``evaluate``."""
    p = sub.add_parser("register", help="check a reference photo (contract body + keypoints)")
    p.add_argument("image")
    p.add_argument("--profile", help="thresholds profile (JSON or TOML)")
    p.set_defaults(func=command(cmd_register))

    p = sub.add_parser("verify", help="verify QUERY against reference REF")
    p.add_argument("ref")
    p.add_argument("query")
    p.add_argument("--profile")
    p.add_argument("--rule", choices=RULES, default=None, help="default: the profile's rule (fused by default)")
    p.set_defaults(func=command(cmd_verify))

    p = sub.add_parser("evaluate", help="accuracy on a folder with pairs.csv")
    p.add_argument("data_dir")
    p.add_argument("--profile")
    p.add_argument("--rule", choices=RULES, default=None, help="default: the profile's rule (fused by default)")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=command(cmd_evaluate))
