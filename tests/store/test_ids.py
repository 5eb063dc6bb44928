"""User id and key validation: hostile input never reaches a path or object key."""

from __future__ import annotations

import re

import pytest

from vision.core.errors import VisionError
from vision.store import InvalidUserIdError, StoreError, new_key, split_key, validate_key, validate_user_id

HEX = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "user_id",
    ["a", "bob", "Bob", "user_42", "a.b", "alice@example.com", "x-y_z.1@2", "-lead", "9" * 64, "a.b.c"],
)
def test_valid_user_ids_pass_unchanged(user_id: str) -> None:
    assert validate_user_id(user_id) == user_id


@pytest.mark.parametrize(
    ("user_id", "fragment"),
    [
        ("", "empty"),
        ("a" * 65, "65 characters"),
        ("a" * 5000, "5000 characters"),
        ("../x", repr("/")),
        ("a/b", repr("/")),
        ("a\\b", repr("\\")),
        ("a\x00b", repr("\x00")),
        ("a b", repr(" ")),
        ("a\nb", repr("\n")),
        ("héllo", repr("é")),
        ("..", "start with '.'"),
        (".hidden", "start with '.'"),
        ("a..b", "'..'"),
        ("a:b", repr(":")),
        ("%2e%2e", repr("%")),
    ],
)
def test_invalid_user_ids_are_rejected_with_a_specific_message(user_id: str, fragment: str) -> None:
    with pytest.raises(InvalidUserIdError, match=re.escape(fragment)) as info:
        validate_user_id(user_id)
    # Callers may catch any of these.
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, StoreError)
    assert isinstance(info.value, VisionError)


@pytest.mark.parametrize("user_id", [None, 42, b"bob", ["bob"]])
def test_non_string_user_ids_are_rejected(user_id: object) -> None:
    with pytest.raises(InvalidUserIdError, match="must be a string"):
        validate_user_id(user_id)  # type: ignore[arg-type]


def test_new_key_is_user_slash_32_hex_and_unique() -> None:
    keys = {new_key("bob") for _ in range(2000)}
    assert len(keys) == 2000
    for key in keys:
        assert re.fullmatch(r"bob/[0-9a-f]{32}", key)
        assert validate_key(key) == key


def test_new_key_validates_the_user() -> None:
    with pytest.raises(InvalidUserIdError):
        new_key("../etc")


def test_split_key() -> None:
    assert split_key(f"alice@x.org/{HEX}") == ("alice@x.org", HEX)


@pytest.mark.parametrize(
    "key",
    [
        "",
        HEX,
        f"/{HEX}",
        f"bob/{HEX}/x",
        f"../{HEX}",
        f"../../etc/{HEX}",
        f"bob/../{HEX}",
        f"bob/{HEX.upper()}",
        f"bob/{HEX[:-1]}",
        f"bob/{HEX}0",
        f"bob/{HEX[:-1]}g",
        f"bob\\{HEX}",
        f"bob/{HEX}\x00",
        f".bob/{HEX}",
        "bob/..",
        None,
        123,
    ],
)
def test_malformed_keys_are_rejected(key: object) -> None:
    with pytest.raises(InvalidUserIdError):
        validate_key(key)  # type: ignore[arg-type]
