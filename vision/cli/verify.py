"""``register``, ``verify`` and ``evaluate``: one photo, one pair, a labelled folder."""

from __future__ import annotations

import argparse
from typing import Any

from vision.cli.common import add_worker_options, command, profile_of, read_input, workers_of
from vision.cli.errors import UsageError
from vision.flows.prepare import register_photo
from vision.flows.verify import verify_pair_bytes
from vision.lab.evaluate import evaluate_folder
from vision.rules.catalogue import rule_names


def cmd_register(args: argparse.Namespace) -> dict[str, Any]:
    """Check a reference photo: the contract body and its keypoints."""
    verdict, _ = register_photo(read_input(args.image), profile_of(args))
    return verdict.to_json()


def cmd_verify(args: argparse.Namespace) -> dict[str, Any]:
    """Verify QUERY against REF with ``--rule`` (default: the profile's rule), as :mod:`vision.rules` says.

    Every answer says ``replay``: an accepted QUERY that is a copy of REF
    (the replay rule, :mod:`vision.replay.memory`) is ``You took wrong picture``.
    """
    profile = profile_of(args)
    body = verify_pair_bytes(read_input(args.ref), read_input(args.query), profile, args.rule)
    body.setdefault("replay", False)
    return body


def cmd_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Accuracy of one rule on a labelled folder (:func:`vision.lab.evaluate.evaluate_folder`)."""
    try:
        return evaluate_folder(args.data_dir, profile_of(args), args.rule, workers_of(args), not args.quiet)
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
    p.add_argument(
        "--rule", choices=rule_names(), default=None, help="default: the profile's rule (learned by default)"
    )
    p.set_defaults(func=command(cmd_verify))

    p = sub.add_parser("evaluate", help="accuracy on a folder with pairs.csv")
    p.add_argument("data_dir")
    p.add_argument("--profile")
    p.add_argument(
        "--rule", choices=rule_names(), default=None, help="default: the profile's rule (learned by default)"
    )
    add_worker_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=command(cmd_evaluate))
