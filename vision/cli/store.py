"""``python -m vision store gc``: remove what interrupted writes left in the reference store (:mod:`vision.store.gc`).

The store is the one the settings name (``VISION_STORE``, ``VISION_STORE_DIR``,
``VISION_S3_*``), as the API and the dashboard use it.
"""

from __future__ import annotations

import argparse
from typing import Any

from vision.cli.common import command
from vision.cli.errors import CommandError, UsageError
from vision.core.settings import load_settings
from vision.store.base import StoreConfigError, StoreError
from vision.store.factory import store_from_settings
from vision.store.gc import DEFAULT_GRACE_S, collect_garbage


def cmd_gc(args: argparse.Namespace) -> dict[str, Any]:
    """Temp files and orphan blobs older than ``--grace-s``: counted, and removed unless ``--dry-run``."""
    try:
        store = store_from_settings(load_settings())
    except (StoreConfigError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    try:
        report = collect_garbage(store, args.grace_s, dry_run=args.dry_run)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except StoreError as exc:
        raise CommandError({"error": str(exc)}) from None
    return {"store": repr(store), "grace_s": args.grace_s, **report.to_json()}


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``store gc``."""
    p = sub.add_parser("store", help="maintenance of the reference store")
    store_sub = p.add_subparsers(dest="store_command", required=True)
    gc = store_sub.add_parser("gc", help="remove temp files and orphan blobs left by interrupted writes")
    gc.add_argument("--grace-s", type=float, default=DEFAULT_GRACE_S, help="only what is older (default 3600 s)")
    gc.add_argument("--dry-run", action="store_true", help="count, remove nothing")
    gc.set_defaults(func=command(cmd_gc))
