"""Settings: the environment merged with ``.streamlit/secrets.toml`` (secrets win), as one flat ``str -> str`` dict.

Every part that reads configuration (the API's runtime, the dashboard, the
reference store, the tagger, the S3 backend, the sidebar's profile path) takes
it from :func:`load_settings`, so a name means the same thing everywhere:
``VISION_STORE``, ``VISION_S3_BUCKET`` (or ``[s3] bucket`` in the secrets),
``CLARIFAI_PAT``, ``VISION_PROFILE``, ...  Values are never logged here.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "SECRETS_FILES",
    "load_settings",
    "number",
    "read_secrets",
    "settings_from_env_and_secrets",
    "text",
    "truthy",
]

#: Where Streamlit looks for secrets, lowest precedence first (the project's file wins over the user's).
SECRETS_FILES = (Path.home() / ".streamlit" / "secrets.toml", Path(".streamlit") / "secrets.toml")


def read_secrets(paths: tuple[Path, ...] = SECRETS_FILES) -> dict[str, Any]:
    """The secrets files that exist, merged (later files win); ``{}`` when there are none.

    ``ValueError`` naming the file when one is not valid TOML (its content is not echoed).
    """
    merged: dict[str, Any] = {}
    for path in paths:
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        try:
            merged.update(tomllib.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            raise ValueError(f"{path} is not valid TOML") from None
    return merged


def load_settings(env: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None) -> dict[str, str]:
    """``env`` (default ``os.environ``) merged with ``secrets`` (default: :func:`read_secrets`); secrets win."""
    return settings_from_env_and_secrets(
        os.environ if env is None else env, read_secrets() if secrets is None else secrets
    )


def text(settings: Mapping[str, str], name: str) -> str | None:
    """The setting stripped, or None when it is absent or blank."""
    value = settings.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def number(
    settings: Mapping[str, str],
    name: str,
    default: float,
    *,
    integer: bool = False,
    minimum: float | None = None,
    error: type[Exception] = ValueError,
) -> Any:
    """A numeric setting (``default`` when absent or blank); ``error`` naming the setting when malformed.

    Without ``minimum`` the value must be positive; with it, at least ``minimum``.
    """
    raw = settings.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = int(str(raw).strip()) if integer else float(str(raw).strip())
    except ValueError:
        raise error(f"{name} must be a {'whole ' if integer else ''}number, got {raw!r}") from None
    if minimum is None and value <= 0:
        raise error(f"{name} must be positive, got {raw!r}")
    if minimum is not None and value < minimum:
        raise error(f"{name} must be >= {minimum:g}, got {value}")
    return value


def truthy(value: str | None) -> bool:
    """``1``, ``true``, ``yes``, ``on`` (any case) are true; anything else, None included, is false."""
    return isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on")


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
            scalar = _scalar(value)
            if scalar is not None:
                explicit[str(name).upper()] = scalar
    for name, text in aliases.items():
        explicit.setdefault(name, text)
    merged.update(explicit)
    return merged
