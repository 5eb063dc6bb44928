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

See :func:`vision.store.s3.s3_store_from_settings` for the timeout settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vision.store.base import ReferenceStore, StoreConfigError
from vision.store.local import DEFAULT_ROOT, LocalReferenceStore

__all__ = ["STORE_KINDS", "settings_from_env_and_secrets", "store_from_settings"]

STORE_KINDS = ("local", "s3")


def store_from_settings(settings: Mapping[str, str]) -> ReferenceStore:
    """Build the reference store the settings ask for.

    Parameters
    ----------
    settings : Mapping[str, str]
        Typically ``settings_from_env_and_secrets(os.environ, st.secrets)``.

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
        from vision.store.s3 import s3_store_from_settings

        return s3_store_from_settings(settings)
    raise StoreConfigError(
        f"VISION_STORE must be one of {', '.join(STORE_KINDS)}, got {settings.get('VISION_STORE')!r}"
    )


def _scalar(value: Any) -> str | None:
    """Render a secrets value as an environment-style string (None: skip it)."""
    if value is None:
        return None
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


def _flatten(table: Mapping[str, Any], path: tuple[str, ...], out: dict[str, str]) -> None:
    for name, value in table.items():
        full = (*path, str(name))
        if isinstance(value, Mapping):
            _flatten(value, full, out)
            continue
        text = _scalar(value)
        if text is not None:
            out["_".join(full).upper()] = text


def settings_from_env_and_secrets(env: Mapping[str, str], secrets: Mapping[str, Any] | None) -> dict[str, str]:
    """Merge the environment and Streamlit secrets into one flat ``str -> str`` dict.

    Flattening of ``secrets`` (a ``st.secrets``-like nested mapping):

    - a top-level ``name = value`` becomes ``NAME`` (upper-cased), so
      ``VISION_STORE = "s3"`` or ``aws_access_key_id = "..."`` work as written;
    - a value inside tables is named by its path joined with ``_`` and
      upper-cased: ``[aws] access_key_id`` -> ``AWS_ACCESS_KEY_ID``,
      ``[vision] store`` -> ``VISION_STORE``, ``[vision.s3] bucket`` ->
      ``VISION_S3_BUCKET``;
    - a nested name that does not already start with ``VISION_`` or ``AWS_``
      also gets a ``VISION_``-prefixed alias, so the short forms
      ``[s3] bucket`` -> ``VISION_S3_BUCKET`` and ``[store] dir`` ->
      ``VISION_STORE_DIR`` work; aliases never override a name given
      explicitly;
    - booleans become ``"true"``/``"false"``, numbers their ``str``, lists
      are joined with ``,``; ``None`` is skipped.

    Precedence: secrets win over the environment, as in Streamlit itself
    (which copies root-level secrets into ``os.environ``).

    Parameters
    ----------
    env : Mapping[str, str]
        Usually ``os.environ``; non-string values are ignored.
    secrets : Mapping or None
        Usually ``st.secrets``; None, or a mapping that raises
        ``FileNotFoundError`` when read (Streamlit without a secrets file),
        means "no secrets".

    Returns
    -------
    dict[str, str]
        A new dict; neither input is modified.
    """
    merged = {str(k): v for k, v in env.items() if isinstance(v, str)}
    if secrets is None:
        return merged
    if not isinstance(secrets, Mapping):
        raise TypeError(f"secrets must be a mapping, not {type(secrets).__name__}")
    try:
        items = list(secrets.items())
    except FileNotFoundError:
        # st.secrets raises this lazily when no secrets.toml exists.
        return merged
    explicit: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for name, value in items:
        if isinstance(value, Mapping):
            nested: dict[str, str] = {}
            _flatten(value, (str(name),), nested)
            explicit.update(nested)
            for flat, text in nested.items():
                if not flat.startswith(("VISION_", "AWS_")):
                    aliases[f"VISION_{flat}"] = text
        else:
            text = _scalar(value)
            if text is not None:
                explicit[str(name).upper()] = text
    for name, text in aliases.items():
        explicit.setdefault(name, text)
    merged.update(explicit)
    return merged
