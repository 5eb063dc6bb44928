"""Pick and build the reference store from settings (environment + Streamlit secrets).

Settings read (all optional except the bucket for ``s3``):

=========================== ===================================================
``VISION_STORE``            ``local`` (default) or ``s3``
``VISION_STORE_DIR``        local root directory (default ``./references``)
``VISION_S3_BUCKET``        bucket name (required for ``s3``)
``VISION_S3_REGION``        region (else ``AWS_REGION``/``AWS_DEFAULT_REGION``)
``VISION_S3_ENDPOINT_URL``  MinIO or another S3-compatible endpoint
``VISION_S3_PREFIX``        key prefix (default ``references/``)
``VISION_S3_PRESIGN_EXPIRY`` presigned URL lifetime in seconds (default 3600)
``AWS_ACCESS_KEY_ID``,      credentials; without them boto3's default chain
``AWS_SECRET_ACCESS_KEY``,  (profile, SSO, instance role...) is used
``AWS_SESSION_TOKEN``
=========================== ===================================================

See :func:`vision.store.s3_settings.s3_store_from_settings` for the timeout settings.
"""

from __future__ import annotations

from collections.abc import Mapping

from vision.store.base import ReferenceStore, StoreConfigError
from vision.store.local import DEFAULT_ROOT, LocalReferenceStore

__all__ = ["STORE_KINDS", "store_from_settings"]

STORE_KINDS = ("local", "s3")


def store_from_settings(settings: Mapping[str, str]) -> ReferenceStore:
    """Build the reference store the settings ask for.

    Parameters
    ----------
    settings : Mapping[str, str]
        Typically :func:`vision.core.settings.load_settings` (environment + secrets).

    Returns
    -------
    ReferenceStore
        A :class:`LocalReferenceStore` or an
        :class:`~vision.store.s3.S3ReferenceStore`.  Nothing is contacted yet:
        an unreachable S3 endpoint shows up as
        :class:`~vision.store.base.StoreUnavailableError` on first use.

    Raises
    ------
    StoreConfigError
        Unknown ``VISION_STORE``, or ``s3`` without a bucket (or other bad S3
        settings).
    """
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings must be a mapping, not {type(settings).__name__}")
    kind = str(settings.get("VISION_STORE") or "local").strip().lower() or "local"
    if kind == "local":
        root = str(settings.get("VISION_STORE_DIR") or "").strip()
        return LocalReferenceStore(root or DEFAULT_ROOT)
    if kind == "s3":
        # Imported here: boto3 is only needed when S3 is chosen.
        from vision.store.s3_settings import s3_store_from_settings

        return s3_store_from_settings(settings)
    raise StoreConfigError(
        f"VISION_STORE must be one of {', '.join(STORE_KINDS)}, got {settings.get('VISION_STORE')!r}"
    )
