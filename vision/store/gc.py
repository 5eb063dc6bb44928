"""Remove what interrupted writes leave behind: temp files and blobs without metadata, older than a grace period.

A ``put`` writes the image and features blobs, then the metadata (the commit
marker), then the pointer; ``delete`` removes the metadata first.  A process
killed in between (``kill -9``, OOM, power) leaves what nothing lists and
nothing removes (issue 22, item 7):

- local: half-written temp files (``.<name>.<random>.tmp``, from ``mkstemp``),
  and ``<ref>.img`` / ``.features`` / ``.fingerprint`` without ``<ref>.json``;
- S3: the same blobs as objects without their ``.json``.

:func:`collect_garbage` removes those whose age (file mtime, S3
``LastModified``) passes ``grace_s``: a ``put`` in progress writes its
metadata within seconds of its blobs, so an hour's grace never races a live
writer.  ``python -m vision store gc`` runs it (``--dry-run`` only lists),
and the API runs it once in the background at start.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vision.store.base import BlobReferenceStore, StoreUnavailableError
from vision.store.proofs import FINGERPRINT_SUFFIX

__all__ = ["DEFAULT_GRACE_S", "GcReport", "collect_garbage", "collect_in_background"]

log = logging.getLogger("vision.store")

DEFAULT_GRACE_S = 3600.0
_BLOB_SUFFIXES = (BlobReferenceStore.IMAGE_SUFFIX, BlobReferenceStore.FEATURES_SUFFIX, FINGERPRINT_SUFFIX)
_BLOB = re.compile(r"([0-9a-f]{32})(" + "|".join(re.escape(s) for s in _BLOB_SUFFIXES) + r")")
_TEMP = re.compile(r"\..+\.tmp")


@dataclass
class GcReport:
    """What a collection found (and, unless ``dry_run``, removed): names relative to the store root / prefix."""

    temp_files: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    bytes: int = 0
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "temp_files": len(self.temp_files),
            "orphans": len(self.orphans),
            "bytes": self.bytes,
            "dry_run": self.dry_run,
            "removed": [] if self.dry_run else sorted(self.temp_files + self.orphans)[:100],
        }


def collect_garbage(store: Any, grace_s: float = DEFAULT_GRACE_S, *, dry_run: bool = False) -> GcReport:
    """Remove temp files and orphan blobs older than ``grace_s`` from ``store`` (local or S3, guarded or not).

    Raises
    ------
    ValueError
        A negative grace, or a store of another kind.
    StoreUnavailableError
        The store cannot be listed.
    """
    if grace_s < 0:
        raise ValueError(f"the grace period must be >= 0 s, got {grace_s}")
    inner = getattr(store, "inner", store)
    root = getattr(inner, "root", None)
    if isinstance(root, Path):
        return _collect_local(root, grace_s, dry_run)
    if hasattr(inner, "client") and hasattr(inner, "bucket"):
        return _collect_s3(inner, grace_s, dry_run)
    raise ValueError(f"no garbage collection for {type(inner).__name__}")


def _collect_local(root: Path, grace_s: float, dry_run: bool) -> GcReport:
    report = GcReport(dry_run=dry_run)
    cutoff = time.time() - grace_s
    if not root.exists():
        return report
    try:
        for folder, _dirs, files in os.walk(root):
            names = set(files)
            user_folder = Path(folder).parent == root  # reference blobs live there; proofs/ has its own names
            for name in files:
                path = Path(folder) / name
                blob = _BLOB.fullmatch(name)
                is_temp = _TEMP.fullmatch(name) is not None
                is_orphan = user_folder and blob is not None and f"{blob.group(1)}.json" not in names
                if not (is_temp or is_orphan):
                    continue
                try:
                    info = path.stat()
                except FileNotFoundError:
                    continue  # renamed into place or removed meanwhile
                if info.st_mtime > cutoff:
                    continue
                (report.temp_files if is_temp else report.orphans).append(str(path.relative_to(root)))
                report.bytes += info.st_size
                if not dry_run:
                    path.unlink(missing_ok=True)
    except OSError as exc:
        raise StoreUnavailableError(f"local reference store at {root}: cannot collect garbage: {exc}") from exc
    return report


def _collect_s3(store: Any, grace_s: float, dry_run: bool) -> GcReport:
    report = GcReport(dry_run=dry_run)
    cutoff = datetime.now(UTC).timestamp() - grace_s
    prefix: str = store.prefix
    keys: dict[str, tuple[float, int]] = {}

    def list_all() -> None:
        for page in store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                keys[item["Key"][len(prefix) :]] = (item["LastModified"].timestamp(), int(item.get("Size", 0)))

    store._call("list objects for garbage collection", list_all)
    doomed = []
    for name, (modified, size) in keys.items():
        folder, _, base = name.rpartition("/")
        blob = _BLOB.fullmatch(base)
        if blob is None or "/" in folder or f"{folder}/{blob.group(1)}.json" in keys or modified > cutoff:
            continue
        report.orphans.append(name)
        report.bytes += size
        doomed.append(prefix + name)
    for start in range(0, 0 if dry_run else len(doomed), 1000):  # DeleteObjects takes 1000 keys at a time
        batch = [{"Key": key} for key in doomed[start : start + 1000]]
        store._call(
            "remove orphan objects",
            store.client.delete_objects,
            Bucket=store.bucket,
            Delete={"Objects": batch, "Quiet": True},
        )
    return report


def collect_in_background(store: Any, grace_s: float = DEFAULT_GRACE_S) -> threading.Thread:
    """Run :func:`collect_garbage` once in a daemon thread (the API at start), logging what it removed or why not."""

    def run() -> None:
        try:
            report = collect_garbage(store, grace_s)
        except (StoreUnavailableError, ValueError) as exc:
            log.warning("store garbage collection skipped: %s", exc)
            return
        if report.temp_files or report.orphans:
            log.info(
                "store garbage collection: removed %d temp file(s) and %d orphan blob(s), %d bytes",
                len(report.temp_files),
                len(report.orphans),
                report.bytes,
            )

    thread = threading.Thread(target=run, name="store-gc", daemon=True)
    thread.start()
    return thread
