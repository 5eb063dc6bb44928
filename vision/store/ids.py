"""User ids and reference keys: validation and generation.

A user id comes from the client (``{"name": ...}`` in ``/auth/feature``), so it
is hostile input that ends up in a file path or an S3 object key.  Everything
that builds a path or key goes through :func:`validate_user_id` /
:func:`validate_key` first; with the alphabet below neither can contain a path
separator, a NUL, or a ``..`` component, so no key can leave the store root.

A reference key is ``"<user_id>/<32 lowercase hex>"``: the hex part is a
``uuid4`` (122 random bits), so keys never collide and cannot be guessed.
"""

from __future__ import annotations

import re
import uuid

from vision.store.errors import InvalidUserIdError

__all__ = [
    "MAX_USER_ID_LENGTH",
    "USER_ID_ALPHABET",
    "new_key",
    "split_key",
    "validate_key",
    "validate_user_id",
]

MAX_USER_ID_LENGTH = 64
USER_ID_ALPHABET = "A-Z a-z 0-9 _ . @ -"

_USER_ID_CHAR = re.compile(r"[A-Za-z0-9_.@-]")
_REF_ID = re.compile(r"[0-9a-f]{32}")


def validate_user_id(user_id: str) -> str:
    """Check that ``user_id`` is safe to use as a path component and object key.

    Parameters
    ----------
    user_id : str
        1 to 64 characters of ``[A-Za-z0-9_.@-]``, not starting with ``.`` and
        not containing ``..``.

    Returns
    -------
    str
        ``user_id`` unchanged (no normalisation: ``"Bob"`` and ``"bob"`` are
        different users).

    Raises
    ------
    InvalidUserIdError
        With a message naming the rule that failed.
    """
    if not isinstance(user_id, str):
        raise InvalidUserIdError(f"user id must be a string, not {type(user_id).__name__}")
    if not user_id:
        raise InvalidUserIdError("user id is empty")
    if len(user_id) > MAX_USER_ID_LENGTH:
        raise InvalidUserIdError(f"user id is {len(user_id)} characters long; the limit is {MAX_USER_ID_LENGTH}")
    for position, char in enumerate(user_id):
        if not _USER_ID_CHAR.fullmatch(char):
            # repr() so that a NUL or a newline is visible in the message.
            raise InvalidUserIdError(
                f"user id contains {char!r} at position {position}; allowed characters are {USER_ID_ALPHABET}"
            )
    if user_id.startswith("."):
        raise InvalidUserIdError("user id must not start with '.'")
    if ".." in user_id:
        raise InvalidUserIdError("user id must not contain '..'")
    return user_id


RESERVED_IN_CLIENT_IDS = "@@"
"""Joins a user id and a habit in the store's owner ids (:mod:`vision.service.habits`): never in a client's id."""


def validate_client_user_id(user_id: str) -> str:
    """:func:`validate_user_id` for an id a client sent, which may not contain ``@@``.

    The store names a habit's owner ``<user>@@<habit>``; a client calling
    itself ``bob@@desk`` would otherwise reach bob's ``desk`` habit.
    """
    validate_user_id(user_id)
    if RESERVED_IN_CLIENT_IDS in user_id:
        raise InvalidUserIdError(f"user id may not contain {RESERVED_IN_CLIENT_IDS!r} (it names habits in the store)")
    return user_id


def validate_key(key: str) -> str:
    """Check that ``key`` has the form ``"<valid user id>/<32 lowercase hex>"``.

    Parameters
    ----------
    key : str
        A key as returned by :func:`new_key` (and stored in ``ReferenceRecord.key``).

    Returns
    -------
    str
        ``key`` unchanged.

    Raises
    ------
    InvalidUserIdError
        When the key is not a string, has the wrong shape, or its user part is
        not a valid user id.
    """
    split_key(key)
    return key


def split_key(key: str) -> tuple[str, str]:
    """Split a validated key into ``(user_id, ref_id)``.

    Parameters
    ----------
    key : str
        ``"<user id>/<32 lowercase hex>"``.

    Returns
    -------
    tuple of str
        The user id and the 32-hex reference id.

    Raises
    ------
    InvalidUserIdError
        When the key is malformed (see :func:`validate_key`).
    """
    if not isinstance(key, str):
        raise InvalidUserIdError(f"reference key must be a string, not {type(key).__name__}")
    if key.count("/") != 1:
        raise InvalidUserIdError(f"reference key must look like '<user id>/<32 hex digits>', got {key[:100]!r}")
    user_id, ref_id = key.split("/")
    validate_user_id(user_id)
    if not _REF_ID.fullmatch(ref_id):
        raise InvalidUserIdError(f"reference key must end in 32 lowercase hex digits, got {ref_id[:100]!r}")
    return user_id, ref_id


def new_key(user_id: str) -> str:
    """Make a fresh, random, unguessable key for a new reference of ``user_id``.

    Parameters
    ----------
    user_id : str
        Validated here.

    Returns
    -------
    str
        ``"<user_id>/<uuid4 hex>"``.
    """
    return f"{validate_user_id(user_id)}/{uuid.uuid4().hex}"
