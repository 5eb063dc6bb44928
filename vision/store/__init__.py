"""Reference-photo storage: a local directory (default) or an S3 bucket.

Typical use::

    from vision.core.settings import load_settings
    from vision.store import store_from_settings

    store = store_from_settings(load_settings())  # environment + .streamlit/secrets.toml
    record = store.put(user_id, jpeg, features, n_keypoints=n, width=w,
                       height=h, content_type="image/jpeg")
    latest = store.latest(user_id)          # None: "You don't have std img"

The S3 backend is imported lazily (``vision.store.S3ReferenceStore`` still
works), so the local store does not need boto3.
"""

from __future__ import annotations

from typing import Any

from vision.store.base import (
    CONTENT_TYPES,
    CorruptReferenceError,
    InvalidUserIdError,
    ReferenceNotFoundError,
    ReferenceRecord,
    ReferenceStore,
    StoreConfigError,
    StoreError,
    StoreUnavailableError,
)
from vision.store.factory import store_from_settings
from vision.store.ids import new_key, split_key, validate_key, validate_user_id
from vision.store.local import LocalReferenceStore

__all__ = [
    "CONTENT_TYPES",
    "CorruptReferenceError",
    "InvalidUserIdError",
    "LocalReferenceStore",
    "ReferenceNotFoundError",
    "ReferenceRecord",
    "ReferenceStore",
    "S3ReferenceStore",
    "StoreConfigError",
    "StoreError",
    "StoreUnavailableError",
    "new_key",
    "s3_store_from_settings",
    "split_key",
    "store_from_settings",
    "validate_key",
    "validate_user_id",
]

_LAZY = {"S3ReferenceStore": "vision.store.s3", "s3_store_from_settings": "vision.store.s3_settings"}


def __getattr__(name: str) -> Any:
    # PEP 562: import botocore only when the S3 names are actually used.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
