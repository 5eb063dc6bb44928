"""``python -m vision tag`` and ``python -m vision evaluate-tags``: the tag check on one photo or a folder."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vision.cli.common import command
from vision.cli.errors import CommandError, UsageError
from vision.core.errors import ImageInputError
from vision.core.settings import load_settings
from vision.image.imageio import read_image_file
from vision.profile import Profile, load_profile
from vision.tagging.base import DEFAULT_MIN_CONFIDENCE, Concept, TaggerError, TagMatch, tag_verdict
from vision.tagging.evaluate import evaluate_tags
from vision.tagging.factory import BACKENDS, tagger_from_settings

ProfileLoader = Callable[[str], Any]
"""Maps a profile name to an object with a ``tag_min_confidence`` attribute."""


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``tag`` and ``evaluate-tags`` with the profile's default confidence and profile files."""
    add_tag_commands(subparsers, Profile().tag_min_confidence, load_profile)


def add_tag_commands(
    subparsers: argparse._SubParsersAction,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    profile_loader: ProfileLoader | None = None,
) -> None:
    """Register the ``tag`` and ``evaluate-tags`` sub-commands.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``parser.add_subparsers()``.
    min_confidence : float
        Default threshold when neither ``--min-confidence`` nor a profile sets one.
    profile_loader : callable, optional
        ``profile_loader(name)`` returns thresholds with ``tag_min_confidence``;
        needed for ``--profile``.
    """
    tag = subparsers.add_parser("tag", help="tag one photo (JSON on stdout)")
    tag.add_argument("image", type=Path)
    tag.add_argument("--tag", help="word to check; prints the contract body")
    tag.add_argument("--top-k", type=int, default=10)
    _common(tag)
    tag.set_defaults(func=command(run_tag), default_min_confidence=min_confidence, profile_loader=profile_loader)

    ev = subparsers.add_parser("evaluate-tags", help="accuracy and match rate on DATA_DIR/tags.csv")
    ev.add_argument("data_dir", type=Path)
    ev.add_argument("--details", action="store_true", help="include per-image results")
    _common(ev)
    ev.set_defaults(func=command(run_evaluate), default_min_confidence=min_confidence, profile_loader=profile_loader)


def _common(parser: argparse.ArgumentParser) -> None:
    """Options both commands share."""
    parser.add_argument("--backend", choices=BACKENDS, default="local")
    parser.add_argument("--profile", help="threshold profile supplying tag_min_confidence")
    parser.add_argument("--min-confidence", type=float, help="overrides the profile")


def resolve_min_confidence(args: argparse.Namespace) -> float:
    """``--min-confidence``, else the profile's ``tag_min_confidence``, else the default."""
    if args.min_confidence is not None:
        return args.min_confidence
    if args.profile:
        if args.profile_loader is None:
            raise UsageError("--profile is not available here (no profile loader)")
        try:
            loaded = args.profile_loader(args.profile)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        value = getattr(loaded, "tag_min_confidence", None)
        if value is not None:
            return float(value)
    return float(args.default_min_confidence)


def run_tag(args: argparse.Namespace) -> dict[str, Any]:
    """Handler of ``tag``: concepts (and the verdict with ``--tag``)."""
    try:
        image = read_image_file(args.image)
    except ImageInputError as exc:
        raise UsageError(str(exc)) from None
    min_conf = resolve_min_confidence(args)
    out: dict[str, Any] = {"image": str(args.image), "backend": args.backend, "min_confidence": min_conf}
    try:
        tagger = tagger_from_settings(load_settings(), args.backend)
        out["concepts"] = [c.to_dict() for c in tagger.concepts(image, args.top_k)]
    except TaggerError as exc:
        if args.tag is None:
            raise CommandError({**out, "error": exc.cause}) from None
        out["concepts"] = []
        tagger = _FailedTagger(args.backend, exc)
    if args.tag is not None:
        verdict = tag_verdict(tagger, image, args.tag, min_conf)
        out.update(verdict.body(), reason=verdict.reason)
        if verdict.status >= 500:  # the backend failed: exit 1 with the contract body
            raise CommandError({**out, "error": verdict.reason})
    return out


def run_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Handler of ``evaluate-tags``: the summary (per image with ``--details``)."""
    if not (args.data_dir / "tags.csv").is_file():
        raise UsageError(f"{args.data_dir / 'tags.csv'} not found")
    try:
        tagger = tagger_from_settings(load_settings(), args.backend)
    except TaggerError as exc:
        raise CommandError({"error": exc.cause}) from None
    report = evaluate_tags(args.data_dir, tagger, resolve_min_confidence(args))
    if not args.details:
        report.pop("results")
    return report


class _FailedTagger:
    """Stands in for a backend that could not be built, so the verdict reports why."""

    def __init__(self, name: str, error: TaggerError) -> None:
        self.name = name
        self._error = error

    def concepts(self, image_bgr: np.ndarray, top_k: int = 10) -> list[Concept]:
        """Always raises the construction error."""
        raise self._error

    def match(self, image_bgr: np.ndarray, tag: str, min_confidence: float) -> TagMatch:
        """Always raises the construction error."""
        raise self._error
