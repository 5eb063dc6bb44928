"""What a tag word may be: short, printable words (checked by the tag flow, published in the OpenAPI schema)."""

from __future__ import annotations

import re

from vision.core.logsafe import safe_text

__all__ = ["MAX_TAG_CHARS", "TAG_PATTERN", "TAG_SYNONYMS", "TAG_WORDS", "check_tag"]

MAX_TAG_CHARS = 64
"""Longest tag word accepted (longer ones are ``400 No Tag``; nothing longer is logged or echoed)."""

TAG_PATTERN = r"^ *\w[\w '.&-]* *$"
"""What a tag may be: words of letters and digits (any script) with spaces, ``'``, ``.``, ``&``, ``-``."""
TAG_WORDS = re.compile(TAG_PATTERN[1:-1])


def check_tag(tag: str) -> str:
    """'' for a usable tag word, else why it is refused (too long, not words: control characters...)."""
    if len(tag) > MAX_TAG_CHARS:
        return f"the tag is {len(tag)} characters long; the limit is {MAX_TAG_CHARS}"
    if safe_text(tag, MAX_TAG_CHARS) != tag:
        return f"the tag contains control characters: {safe_text(tag)!r}"
    if not TAG_WORDS.fullmatch(tag):
        return f"the tag must be words (letters, digits, spaces, ' . & -), got {safe_text(tag)!r}"
    return ""


TAG_SYNONYMS: dict[str, str] = {
    "mug": "cup",  # WordNet's "mug" is only the beer mug; a coffee mug photo is "coffee mug" or "espresso"
    "coffee cup": "cup",
    "teacup": "cup",
    "kitten": "cat",
    "kitty": "cat",
    "puppy": "dog",
    "tv": "television",
    "houseplant": "plant",
    "potted plant": "plant",
    "sneaker": "running shoe",
    "cellphone": "cellular telephone",
    "smartphone": "cellular telephone",
    "bike": "bicycle",
}
"""Everyday word -> the word the tagger knows for it (both normalised: singular, lower case).

A tag matches what its own word names *and* what its synonym names, so
"mug" on a coffee photo counts the cups.  Short on purpose: only words
people type for a habit photo that WordNet files elsewhere or not at all.
"""
