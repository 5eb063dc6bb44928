"""``python -m vision tune DATA_DIR --target-far 0.01 --out profile.json``."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any

from vision import rules
from vision.cli.common import add_worker_options, command, workers_of
from vision.cli.errors import UsageError
from vision.core.settings import load_settings
from vision.lab.data import LabelledSetError, open_folder
from vision.lab.pool import stderr_progress
from vision.lab.recommend import tune
from vision.lab.run import TuningRun
from vision.lab.runs import archive_from_settings, record_of
from vision.lab.split import split_by_scene
from vision.profile import load_profile, save_profile
from vision.rules.catalogue import rule_names


def cmd_tune(args: argparse.Namespace) -> dict[str, Any]:
    """Run, recommend on the training scenes, write the profile, report train/held-out figures.

    The profile has the thresholds of the rule tuned (``--rule``, default the
    base profile's: the shipped ``learned``) and of the rules it builds on
    (robust's ``min_inliers``, fused's, learned's threshold); the figures are
    that rule's.  The run is kept (:mod:`vision.lab.runs`) and the profile
    carries its provenance: the data's content hash, the commit, the rates.
    """
    try:
        base = load_profile(args.profile)
        if args.rule:
            base = replace(base, rule=rules.get(args.rule).name)
        needs = rules.get(base.rule).needs
        start = time.perf_counter()
        progress = None if args.quiet else stderr_progress
        labelled = open_folder(args.data_dir)
        run = TuningRun.build(
            labelled,
            base.feature_settings,
            workers_of(args),
            progress,
            original=args.with_original,
            embed=True,
            learned=needs.xfeat,
        )
        if not rules.get(base.rule).geometric:
            run.add_rule(base.rule, base, progress)
        scored = run.scored(base)
        split = split_by_scene(scored.pairs, args.holdout, args.seed) if args.holdout > 0 else None
        report = tune(scored, args.target_far, split, placement=args.placement)
    except (ValueError, LabelledSetError) as exc:
        raise UsageError(str(exc)) from None
    body = {"data_dir": str(args.data_dir), **report.to_json()}
    body["seconds"] = {k: round(v, 2) for k, v in run.timings_s.items()} | {
        "total": round(time.perf_counter() - start, 2)
    }
    if args.holdout > 0:
        body["split"] |= {"fraction": args.holdout, "seed": args.seed}
    tuned = scored.with_thresholds(report.recommendation.thresholds)
    extra = {
        "target_far": args.target_far,
        "figures": body["figures"],
        "split": body["split"],
        "checks": body["checks"],
    }
    record = record_of("tune", labelled, tuned, extra)
    warnings = body["checks"]["warnings"] if body["checks"] else []
    provenance = {
        **record.provenance(),
        "target_far": args.target_far,
        "held_out": report.holdout,
        "warnings": warnings,
    }
    body["provenance"] = provenance
    try:
        body["run"] = archive_from_settings(load_settings()).save(record)
    except Exception as exc:  # S3 or disk trouble: the answer stands without its record; say so
        body["run"] = None
        body["run_error"] = f"{type(exc).__name__}: {exc}"
    if args.out:
        try:
            body["profile"] = str(save_profile(report.recommendation.thresholds, args.out, provenance))
        except OSError as exc:
            raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
    return body


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``tune`` on the ``python -m vision`` parser."""
    p = sub.add_parser(
        "tune", help="recommend the thresholds of a rule (default: the profile's) for a target false-accept rate"
    )
    p.add_argument("data_dir", help="folder with pairs.csv and the images it names")
    p.add_argument("--target-far", type=float, default=0.01, help="largest false-accept rate (default 0.01)")
    p.add_argument("--out", help="write the recommended profile here (JSON, or TOML by suffix)")
    p.add_argument("--profile", help="base profile: every threshold not tuned is taken from it")
    p.add_argument("--rule", choices=rule_names(), default=None, help="the rule to tune (default: the profile's)")
    p.add_argument(
        "--holdout",
        type=float,
        default=0.0,
        help="fraction of pairs, as whole scenes, to hold out for judging (default 0: none)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the scene shuffle")
    p.add_argument(
        "--placement",
        choices=("midgap", "tightest"),
        default="midgap",
        help="threshold inside the empty score gap (default) or the smallest that meets the target",
    )
    add_worker_options(p)
    p.add_argument(
        "--with-original",
        action="store_true",
        help="also score the original note's rule for comparison (full resolution: slow)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=command(cmd_tune))
