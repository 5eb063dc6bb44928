"""Bytes a folder holds on disk (the local store's storage quota)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["tree_bytes"]


def tree_bytes(top: Path) -> int:
    """Sum of the sizes of the regular files under ``top`` (symlinks not followed; 0 when ``top`` is missing).

    Other ``OSError`` (a permission, a file where the folder should be) propagates.
    """
    total = 0
    pending = [top]
    try:
        while pending:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
    except FileNotFoundError:
        return total
    return total
