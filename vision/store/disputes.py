"""Disputed verifications as tuning data: a labelled ``pairs.csv`` set beside the reference store.

When a user disputes a verdict whose proof photo was kept (``VISION_KEEP_PROOF_PHOTOS``), the pair
(the reference photo the verdict named + the proof photo) is written into the store's disputes
area: ``<root>/.disputes/`` (local) or the ``<prefix>.disputes/`` prefix (S3).  A ``.`` can start
no user id, so the area is never taken for a user.  Layout (the same in both stores)::

    rows/<verification id>.json        one dispute: label, claim, owner, reviewed (no read-modify-write)
    <owner>/<verification id>_ref.jpg  the reference photo (as stored: re-encoded, no metadata)
    <owner>/<verification id>_proof.jpg

:func:`materialise` writes the rows as a ``pairs.csv`` (``ref,query,label,kind,source,H,reviewed``
plus ``claim,owner,id``; ``kind`` is ``dispute``, the owner folder is the scene) and, for S3, copies
the photos, so :func:`vision.lab.data.open_folder` opens it like any labelled set.  For a local store
the folder is the disputes area itself.  :func:`review` marks one row reviewed, confirming or flipping
the label the user's claim gave it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from vision.store.base import StoreUnavailableError
from vision.store.guard import GuardedStore
from vision.store.history import check_entry_id
from vision.store.ids import validate_user_id

__all__ = ["DISPUTES_DIR", "PAIRS_COLUMNS", "DisputeRow", "Disputes", "disputes_of"]

DISPUTES_DIR = ".disputes"
PAIRS_COLUMNS = ("ref", "query", "label", "kind", "source", "H", "reviewed", "claim", "owner", "id")
MAX_ROWS = 100_000
"""Most rows one materialisation reads (the area is bounded by the disputes users can make)."""


@dataclass(frozen=True)
class DisputeRow:
    """One disputed pair: which verification (``id``) of which habit (``owner``), the label and its review."""

    id: str
    owner: str
    claim: str
    label: int
    reviewed: bool = False

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.id}_ref.jpg"

    @property
    def query(self) -> str:
        return f"{self.owner}/{self.id}_proof.jpg"

    def csv_row(self) -> dict[str, str]:
        """The row in this repo's ``pairs.csv`` format (``reviewed`` as ``true``/``false``)."""
        return {
            "ref": self.ref,
            "query": self.query,
            "label": str(self.label),
            "kind": "dispute",
            "source": "user dispute",
            "H": "",
            "reviewed": "true" if self.reviewed else "false",
            "claim": self.claim,
            "owner": self.owner,
            "id": self.id,
        }


class _LocalArea:
    """The disputes area as files under ``<root>/.disputes`` (atomic writes)."""

    def __init__(self, root: Path) -> None:
        self.root = root / DISPUTES_DIR

    def write(self, rel: str, data: bytes) -> None:
        target = self.root / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except OSError as exc:
            raise StoreUnavailableError(f"cannot write the disputes area: {exc}", reason="io-error") from exc

    def read(self, rel: str) -> bytes | None:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreUnavailableError(f"cannot read the disputes area: {exc}", reason="io-error") from exc

    def row_names(self) -> list[str]:
        try:
            return sorted(p.name for p in (self.root / "rows").iterdir() if p.name.endswith(".json"))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreUnavailableError(f"cannot list the disputes area: {exc}", reason="io-error") from exc


class _S3Area:
    """The disputes area as objects under ``<prefix>.disputes/``."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client, self.bucket, self.base = client, bucket, f"{prefix}{DISPUTES_DIR}/"

    def _fail(self, action: str, exc: Exception) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"S3 bucket {self.bucket!r}: cannot {action}: {type(exc).__name__}", reason="error"
        )

    def write(self, rel: str, data: bytes) -> None:
        kind = "application/json" if rel.endswith(".json") else "image/jpeg"
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.base + rel, Body=data, ContentType=kind)
        except Exception as exc:
            raise self._fail("write the disputes area", exc) from exc

    def read(self, rel: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.base + rel)
            with response["Body"] as body:
                return bytes(body.read())
        except self.client.exceptions.NoSuchKey:
            return None
        except Exception as exc:
            raise self._fail("read the disputes area", exc) from exc

    def row_names(self) -> list[str]:
        prefix = self.base + "rows/"
        names: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                names.extend(item["Key"][len(prefix) :] for item in page.get("Contents", []))
        except Exception as exc:
            raise self._fail("list the disputes area", exc) from exc
        return sorted(n for n in names if n.endswith(".json"))


class _GuardedArea:
    """A disputes area's calls through a :class:`GuardedStore` (its pool, timeout and breaker)."""

    def __init__(self, area: _LocalArea | _S3Area, guard: GuardedStore) -> None:
        self.inner, self.guard = area, guard

    def write(self, rel: str, data: bytes) -> None:
        self.guard.call("write a disputed pair", self.inner.write, rel, data)

    def read(self, rel: str) -> bytes | None:
        return self.guard.call("read a disputed pair", self.inner.read, rel)

    def row_names(self) -> list[str]:
        return self.guard.call("list the disputes", self.inner.row_names)


class Disputes:
    """Add, list, review and materialise the disputed pairs of one store (see the module docstring)."""

    def __init__(self, area: _LocalArea | _S3Area | _GuardedArea) -> None:
        self.area = area

    @property
    def local_folder(self) -> Path | None:
        """The folder that is the labelled set, for a local store (None for S3: see :meth:`materialise`)."""
        area = self.area.inner if isinstance(self.area, _GuardedArea) else self.area
        return area.root if isinstance(area, _LocalArea) else None

    def add(self, owner: str, entry_id: str, claim: str, ref_photo: bytes, proof_photo: bytes) -> DisputeRow:
        """Write the pair and its row (label 1 for ``same``, 0 for ``different``; unreviewed).

        A second dispute of the same verification replaces the first (same id).  ValueError for a
        malformed owner, id or claim; the store's errors as raised.
        """
        validate_user_id(owner)
        check_entry_id(entry_id)
        if claim not in ("same", "different"):
            raise ValueError(f"claim must be 'same' or 'different', got {claim!r}")
        row = DisputeRow(entry_id, owner, claim, int(claim == "same"))
        self.area.write(row.ref, ref_photo)
        self.area.write(row.query, proof_photo)
        self.area.write(f"rows/{entry_id}.json", json.dumps(asdict(row), sort_keys=True).encode("utf-8"))
        return row

    def rows(self) -> list[DisputeRow]:
        """Every dispute row, oldest first (ids sort by time)."""
        rows = []
        for name in self.area.row_names()[:MAX_ROWS]:
            raw = self.area.read(f"rows/{name}")
            if raw is not None:
                rows.append(_row(json.loads(raw)))
        return rows

    def review(self, entry_id: str, *, flip: bool) -> DisputeRow:
        """Mark one row reviewed: its label confirmed, or flipped (``flip``); KeyError when there is no such row."""
        raw = self.area.read(f"rows/{check_entry_id(entry_id)}.json")
        if raw is None:
            raise KeyError(f"no dispute {entry_id!r}")
        row = _row(json.loads(raw))
        row = replace(row, label=1 - row.label if flip else row.label, reviewed=True)
        self.area.write(f"rows/{entry_id}.json", json.dumps(asdict(row), sort_keys=True).encode("utf-8"))
        return row

    def materialise(self, dest: str | Path | None = None) -> Path:
        """A folder holding the rows' ``pairs.csv`` and photos; returns it.

        Local store: the disputes area itself (``dest`` ignored); S3: ``dest``, where the photos not
        there yet are downloaded.  The ``pairs.csv`` is written whole (temp file, rename) each time.
        """
        rows = self.rows()
        if (local := self.local_folder) is not None:
            folder = local
        elif dest is None:
            raise ValueError("materialising an S3 disputes area needs a local folder")
        else:
            folder = Path(dest)
            for row in rows:
                for rel in (row.ref, row.query):
                    if not (folder / rel).is_file() and (data := self.area.read(rel)) is not None:
                        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                        (folder / rel).write_bytes(data)
        folder.mkdir(parents=True, exist_ok=True)
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=PAIRS_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row.csv_row() for row in rows)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".pairs.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text.getvalue())
        os.replace(tmp, folder / "pairs.csv")
        return folder


def _row(data: dict[str, Any]) -> DisputeRow:
    """A row from its JSON, its fields checked (a row names photo paths: never trust them unchecked)."""
    row = DisputeRow(
        check_entry_id(data.get("id")),
        validate_user_id(data.get("owner")),  # type: ignore[arg-type]
        str(data.get("claim")),
        int(data.get("label", -1)),
        bool(data.get("reviewed", False)),
    )
    if row.label not in (0, 1):
        raise ValueError(f"dispute {row.id}: label must be 0 or 1")
    return row


def disputes_of(store: Any) -> Disputes:
    """The disputes area of ``store`` (a local store's ``root``, or an S3 store's client, bucket, prefix).

    Behind a :class:`GuardedStore` every call goes through its guard like the store's own.
    """
    if isinstance(store, GuardedStore):
        area = disputes_of(store.inner).area
        assert not isinstance(area, _GuardedArea)
        return Disputes(_GuardedArea(area, store))
    if hasattr(store, "root"):
        return Disputes(_LocalArea(Path(store.root)))
    if all(hasattr(store, a) for a in ("client", "bucket", "prefix")):
        return Disputes(_S3Area(store.client, store.bucket, store.prefix))
    raise TypeError(f"no disputes area for a {type(store).__name__}")
