"""Labelled photo sets: ``pairs.csv`` rows, a server folder or an uploaded zip.

A labelled set is a folder holding ``pairs.csv`` (see
:func:`read_pairs`) and the images it names.  An uploaded zip
is extracted into a fresh private temporary folder, member by member, with
the usual archive traps refused: absolute paths, ``..`` components, links,
too many files, too many bytes (counted while decompressing, not trusted
from the header).
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

PAIRS_FILE = "pairs.csv"
REQUIRED_COLUMNS = ("ref", "query", "label", "kind")
IGNORED_PREFIXES = ("__MACOSX/",)
CHUNK = 1 << 20


@dataclass(frozen=True)
class LabelledPair:
    """One row of ``pairs.csv``."""

    ref: str
    query: str
    label: int
    kind: str
    reviewed: bool | None = None
    """A disputes set's review state (``reviewed`` column, :mod:`vision.store.disputes`); None without it."""

    @property
    def scene(self) -> str:
        """The reference's folder, used to hold out whole scenes."""
        return str(Path(self.ref).parent)


def read_pairs(data_dir: str | Path) -> list[LabelledPair]:
    """Parse ``data_dir/pairs.csv``; ``ValueError`` with the line number on bad rows."""
    path = Path(data_dir) / "pairs.csv"
    if not path.is_file():
        raise ValueError(f"{path} not found: a data folder needs a pairs.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} lacks column(s) {', '.join(missing)}")
        pairs = []
        for line, row in enumerate(reader, start=2):
            if row["label"] not in ("0", "1"):
                raise ValueError(f"{path}:{line}: label must be 0 or 1, got {row['label']!r}")
            reviewed = _reviewed(row.get("reviewed"), f"{path}:{line}")
            pairs.append(LabelledPair(row["ref"], row["query"], int(row["label"]), row["kind"] or "unknown", reviewed))
    if not pairs:
        raise ValueError(f"{path} has no pairs")
    return pairs


def _reviewed(raw: str | None, where: str) -> bool | None:
    """The optional ``reviewed`` column: ``true``/``false`` (None when the set has no such column)."""
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise ValueError(f"{where}: reviewed must be true or false, got {raw!r}")
    return raw == "true"


class LabelledSetError(ValueError):
    """The folder or archive is not a usable labelled set (message says why)."""


@dataclass(frozen=True)
class ZipLimits:
    """Caps on what an uploaded archive may expand to.

    Parameters
    ----------
    max_total_bytes : int
        Sum of the members' uncompressed sizes.
    max_files : int
        Number of file members.
    max_member_bytes : int
        Uncompressed size of any one member.
    """

    max_total_bytes: int = 1 << 30
    max_files: int = 5000
    max_member_bytes: int = 64 << 20


@dataclass
class LabelledSet:
    """A readable labelled set: its root folder, its pairs, and a stable identity.

    Attributes
    ----------
    root : Path
        The folder that holds ``pairs.csv``.
    name : str
        What to call it on screen.
    fingerprint : str
        Changes when the set's content may have changed (cache key).
    pairs : list[LabelledPair]
    """

    root: Path
    name: str
    fingerprint: str
    pairs: list[LabelledPair]
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    def close(self) -> None:
        """Remove the extracted files of an uploaded set (no-op for a folder)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def open_folder(path: str | Path, name: str | None = None) -> LabelledSet:
    """A labelled set from a folder on this machine (``name`` shown instead of the path).

    Raises
    ------
    LabelledSetError
        When the folder does not exist or its ``pairs.csv`` is missing or malformed.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise LabelledSetError(f"{root} is not a folder")
    pairs = _read(root)
    info = (root / PAIRS_FILE).stat()
    fingerprint = f"dir:{root.resolve()}:{info.st_size}:{info.st_mtime_ns}"
    return LabelledSet(root, name or str(root), fingerprint, pairs)


def _read(root: Path) -> list[LabelledPair]:
    try:
        return read_pairs(root)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise LabelledSetError(str(exc)) from None


def open_zip(data: bytes, name: str = "upload.zip", limits: ZipLimits = ZipLimits()) -> LabelledSet:
    """A labelled set from a zip archive's bytes, extracted into a private temp folder.

    ``pairs.csv`` may sit at the archive's root or inside one top-level folder.
    The folder is removed by :meth:`LabelledSet.close` or when the set is
    garbage-collected.

    Raises
    ------
    LabelledSetError
        For an unreadable archive, an unsafe or oversized member, or no ``pairs.csv``.
    """
    tmp = tempfile.TemporaryDirectory(prefix="tuning-set-")
    try:
        root = extract_zip(data, Path(tmp.name), limits)
        pairs = _read(root)
    except BaseException:
        tmp.cleanup()
        raise
    fingerprint = "zip:" + hashlib.sha256(data).hexdigest()
    return LabelledSet(root, name, fingerprint, pairs, tmp)


def extract_zip(data: bytes, dest: Path, limits: ZipLimits = ZipLimits()) -> Path:
    """Check every member of the archive, then extract it under ``dest``.

    Returns
    -------
    Path
        The folder that holds ``pairs.csv`` (``dest`` or its single top-level folder).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise LabelledSetError(f"not a zip archive: {exc}") from None
    with archive:
        members = [m for m in archive.infolist() if not m.filename.startswith(IGNORED_PREFIXES)]
        files = _check_members(members, limits)
        written = 0
        for member, parts in files:
            try:
                written += _extract_member(archive, member, dest.joinpath(*parts), limits, written)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                raise LabelledSetError(f"{member.filename}: corrupt archive member ({exc})") from None
            except FileExistsError:
                raise LabelledSetError(f"{member.filename}: appears twice in the archive") from None
    return _pairs_root(dest, [parts for _, parts in files])


def _check_members(members: list[zipfile.ZipInfo], limits: ZipLimits) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    files = []
    declared = 0
    for member in members:
        parts = _safe_parts(member)
        if member.is_dir():
            continue
        files.append((member, parts))
        declared += member.file_size
        if len(files) > limits.max_files:
            raise LabelledSetError(f"archive has more than {limits.max_files} files")
        if member.file_size > limits.max_member_bytes:
            raise LabelledSetError(
                f"{member.filename} is {member.file_size} bytes uncompressed (limit {limits.max_member_bytes})"
            )
        if declared > limits.max_total_bytes:
            raise LabelledSetError(f"archive expands to more than {limits.max_total_bytes} bytes")
    return files


def _safe_parts(member: zipfile.ZipInfo) -> tuple[str, ...]:
    """The member's path components, refusing anything that could land outside the folder."""
    name = member.filename
    mode = member.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise LabelledSetError(f"{name}: links are not allowed in the archive")
    if "\\" in name or "\x00" in name:
        raise LabelledSetError(f"{name}: unsupported characters in a member name")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise LabelledSetError(f"{name}: absolute paths are not allowed in the archive")
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if ".." in parts:
        raise LabelledSetError(f"{name}: '..' is not allowed in the archive")
    if not parts:
        raise LabelledSetError(f"{name!r}: empty member name")
    return parts


def _extract_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, limits: ZipLimits, written: int
) -> int:
    """Copy one member, counting the bytes actually decompressed; returns that count."""
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with archive.open(member) as src, target.open("xb") as dst:
        while chunk := src.read(CHUNK):
            size += len(chunk)
            if size > limits.max_member_bytes or written + size > limits.max_total_bytes:
                raise LabelledSetError(f"{member.filename} expands beyond the archive's size limit")
            dst.write(chunk)
    return size


def _pairs_root(dest: Path, files: list[tuple[str, ...]]) -> Path:
    if (PAIRS_FILE,) in files:
        return dest
    tops = {parts[0] for parts in files}
    if len(tops) == 1:
        top = next(iter(tops))
        if (top, PAIRS_FILE) in files:
            return dest / top
    raise LabelledSetError("the archive needs a pairs.csv at its root or inside one top-level folder")


def make_zip(folder: str | Path, pairs_only: bool = False) -> bytes:
    """Zip a labelled folder (``pairs.csv`` and the images it names); handy for uploads and tests."""
    root = Path(folder)
    pairs = read_pairs(root)
    names = {PAIRS_FILE} if pairs_only else {PAIRS_FILE} | {p.ref for p in pairs} | {p.query for p in pairs}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for rel in sorted(names):
            archive.write(root / rel, rel)
    return buffer.getvalue()


def copy_folder(src: str | Path, dest: str | Path) -> Path:
    """Copy a labelled folder's ``pairs.csv`` and named images to ``dest`` (tests, demos)."""
    src, dest = Path(src), Path(dest)
    for rel in {PAIRS_FILE} | {x for p in read_pairs(src) for x in (p.ref, p.query)}:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dest / rel)
    return dest
