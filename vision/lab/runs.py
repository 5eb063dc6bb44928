"""Kept runs: every tuning or evaluation run as one JSON record, in a folder or an S3 bucket.

A record says what was measured on what: the data set (its content hash and
pair count), the code (the git commit), when, the profile, and the figures
with their Wilson intervals, overall and per kind.  Two records open side by
side (:func:`compare`); a profile exported from a run carries the same
provenance (:func:`provenance`).

Where: ``VISION_RUNS_DIR`` (default ``./runs``), or with ``VISION_STORE=s3``
the store's bucket under ``VISION_RUNS_PREFIX`` (default ``runs/``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from vision.lab.data import LabelledSet
from vision.lab.intervals import rate_intervals
from vision.lab.report import figures, per_kind
from vision.lab.scored import ScoredSet

__all__ = [
    "LocalRunArchive",
    "RunArchive",
    "RunRecord",
    "S3RunArchive",
    "archive_from_settings",
    "compare",
    "content_hash",
    "current_commit",
    "provenance",
    "record_of",
]

REPO = Path(__file__).resolve().parents[2]
RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$")
#: A record is small (figures, not pairs); a bigger object in the archive is not ours.
MAX_RECORD_BYTES = 2_000_000


def content_hash(labelled: LabelledSet) -> str:
    """sha256 over ``pairs.csv`` and every image it names (sorted): the same data gives the same hash anywhere."""
    h = hashlib.sha256((labelled.root / "pairs.csv").read_bytes())
    for rel in sorted({p.ref for p in labelled.pairs} | {p.query for p in labelled.pairs}):
        h.update(rel.encode())
        try:
            with open(labelled.root / rel, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except OSError:
            h.update(b"<missing>")
    return h.hexdigest()


def current_commit() -> str:
    """The checkout's git commit (``+dirty`` with uncommitted changes); ``VISION_COMMIT`` or "unknown" without git."""
    if os.environ.get("VISION_COMMIT"):
        return os.environ["VISION_COMMIT"]
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


@dataclass(frozen=True)
class RunRecord:
    """One kept run (JSON-safe fields only).

    Attributes
    ----------
    run_id : str
        ``<UTC time>-<8 hex>``: sorts by time.
    created_at : str
        ISO time, UTC.
    kind : str
        ``tune``, ``evaluate`` or ``lab``.
    data : dict
        ``name``, ``content_hash``, ``pairs``.
    commit : str
    rule : str
    profile : dict
        Every threshold (:meth:`vision.profile.Profile.to_dict`).
    figures : dict
        The rule's figures (:func:`vision.lab.report.figures`) plus ``intervals``
        (Wilson 95 % of the true- and false-accept rates).
    per_kind : dict
        :func:`vision.lab.report.per_kind`.
    extra : dict
        What the command adds (the held-out figures of ``tune``, the split...).
    """

    run_id: str
    created_at: str
    kind: str
    data: dict[str, Any]
    commit: str
    rule: str
    profile: dict[str, Any]
    figures: dict[str, Any]
    per_kind: dict[str, Any]
    extra: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        names = set(cls.__dataclass_fields__)
        missing = names - set(data)
        if missing:
            raise ValueError(f"not a run record: missing {', '.join(sorted(missing))}")
        return cls(**{k: data[k] for k in names})

    def provenance(self) -> dict[str, Any]:
        """What a profile exported from this run carries (see :func:`provenance`)."""
        rates = {k: self.figures.get(k) for k in ("true_accept_rate", "false_accept_rate", "pairs", "processed")}
        return {
            "run_id": self.run_id,
            "created_at": self.created_at,
            "data": self.data,
            "commit": self.commit,
            "rule": self.rule,
            "figures": {**rates, "intervals": self.figures.get("intervals")},
        }


def _intervals(f: Mapping[str, Any]) -> dict[str, Any]:
    r = rate_intervals(f["true_accepts"], f["positives"], f["false_accepts"], f["negatives"])
    return r.to_json()


def record_of(
    kind: str,
    labelled: LabelledSet,
    scored: ScoredSet,
    extra: Mapping[str, Any] | None = None,
    *,
    data_hash: str | None = None,
    now: datetime | None = None,
) -> RunRecord:
    """The record of ``scored`` (decided by its current rule at its thresholds) on ``labelled``."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    f = figures(scored)
    return RunRecord(
        run_id=f"{when:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        created_at=when.isoformat(),
        kind=kind,
        data={
            "name": labelled.name,
            "content_hash": data_hash or content_hash(labelled),
            "pairs": len(labelled.pairs),
        },
        commit=current_commit(),
        rule=scored.rule,
        profile=scored.thresholds.to_dict(),
        figures={**f, "intervals": _intervals(f)},
        per_kind=per_kind(scored),
        extra=dict(extra or {}),
    )


def provenance(record: RunRecord) -> dict[str, Any]:
    """The provenance block of a profile exported from ``record``'s run."""
    return record.provenance()


def compare(a: RunRecord, b: RunRecord) -> dict[str, Any]:
    """Two runs side by side: the thresholds that differ, both rules' headline figures, and accept rates per kind."""
    changed = {
        name: {"a": a.profile.get(name), "b": b.profile.get(name)}
        for name in sorted(set(a.profile) | set(b.profile))
        if a.profile.get(name) != b.profile.get(name)
    }
    keys = ("rule", "pairs", "true_accept_rate", "false_accept_rate", "true_accepts", "false_accepts", "roc_auc")
    kinds = sorted(set(a.per_kind) | set(b.per_kind))
    return {
        "runs": {"a": a.run_id, "b": b.run_id},
        "same_data": a.data.get("content_hash") == b.data.get("content_hash"),
        "commits": {"a": a.commit, "b": b.commit},
        "changed_thresholds": changed,
        "figures": {k: {"a": a.figures.get(k), "b": b.figures.get(k)} for k in keys},
        "per_kind": {
            k: {
                "a": a.per_kind.get(k, {}).get("accept_rate"),
                "b": b.per_kind.get(k, {}).get("accept_rate"),
            }
            for k in kinds
        },
    }


class RunArchive(Protocol):
    """Where run records are kept."""

    def save(self, record: RunRecord) -> str:
        """Keep ``record``; returns where (a path or an S3 URI)."""
        ...

    def recent(self, limit: int = 100) -> list[RunRecord]:
        """The newest ``limit`` records, newest first (unreadable ones skipped)."""
        ...

    def load(self, run_id: str) -> RunRecord:
        """One record; ``KeyError`` when there is none, ``ValueError`` for a malformed id or record."""
        ...


def _newest_names(names: list[str], limit: int) -> list[str]:
    """The newest ``limit`` run-id names, and any more of the last one's second (ids sort by the second only)."""
    ordered = sorted(names, reverse=True)
    cut = min(limit, len(ordered))
    second = ordered[cut - 1].rsplit("/", 1)[-1][:16] if cut else ""
    while cut < len(ordered) and ordered[cut].rsplit("/", 1)[-1][:16] == second:
        cut += 1
    return ordered[:cut]


def _newest_first(records: list[RunRecord], limit: int) -> list[RunRecord]:
    """By creation time (microseconds): two runs of one second (common: Recommend, then a slider) in order."""
    return sorted(records, key=lambda r: (r.created_at, r.run_id), reverse=True)[:limit]


def _checked_id(run_id: str) -> str:
    if not RUN_ID.match(run_id):
        raise ValueError(f"not a run id: {run_id[:40]!r}")
    return run_id


def _parse(raw: bytes) -> RunRecord:
    if len(raw) > MAX_RECORD_BYTES:
        raise ValueError("run record too large")
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("a run record is a JSON object")
    return RunRecord.from_json(data)


class LocalRunArchive:
    """Records as ``<folder>/<run id>.json`` (written to a temporary name, then renamed)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def save(self, record: RunRecord) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{_checked_id(record.run_id)}.json"
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record.to_json(), fh, indent=1)
        os.replace(tmp, path)
        return str(path)

    def recent(self, limit: int = 100) -> list[RunRecord]:
        if not self.folder.is_dir():
            return []
        out: list[RunRecord] = []
        for name in _newest_names([p.name for p in self.folder.glob("*.json")], limit):
            try:
                out.append(_parse((self.folder / name).read_bytes()))
            except (OSError, ValueError):
                continue
        return _newest_first(out, limit)

    def load(self, run_id: str) -> RunRecord:
        path = self.folder / f"{_checked_id(run_id)}.json"
        if not path.is_file():
            raise KeyError(run_id)
        return _parse(path.read_bytes())


class S3RunArchive:
    """Records as ``<prefix><run id>.json`` objects in a bucket (the reference store's client and bucket)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "runs/") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    def save(self, record: RunRecord) -> str:
        key = f"{self.prefix}{_checked_id(record.run_id)}.json"
        body = json.dumps(record.to_json(), indent=1).encode("utf-8")
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        return f"s3://{self.bucket}/{key}"

    def recent(self, limit: int = 100) -> list[RunRecord]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".json")]
        out: list[RunRecord] = []
        for key in _newest_names(keys, limit):
            try:
                out.append(self._get(key))
            except (ValueError, KeyError):
                continue
        return _newest_first(out, limit)

    def _get(self, key: str) -> RunRecord:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            raise KeyError(key) from None
        return _parse(obj["Body"].read(MAX_RECORD_BYTES + 1))

    def load(self, run_id: str) -> RunRecord:
        return self._get(f"{self.prefix}{_checked_id(run_id)}.json")


def archive_from_settings(settings: Mapping[str, str]) -> RunArchive:
    """The S3 bucket's ``runs/`` when ``VISION_STORE=s3``, else ``VISION_RUNS_DIR`` (default ``./runs``)."""
    if settings.get("VISION_STORE", "local").strip().lower() == "s3":
        from vision.store.s3_settings import s3_store_from_settings

        store = s3_store_from_settings(settings)
        return S3RunArchive(store.client, store.bucket, settings.get("VISION_RUNS_PREFIX", "runs/"))
    return LocalRunArchive(settings.get("VISION_RUNS_DIR") or "runs")
