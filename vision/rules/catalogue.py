"""The catalogue of rules: their names, where each lives, and whether a profile may choose it.

A leaf (it imports nothing first-party), so :mod:`vision.profile` can check a
profile's rule name against it without importing any rule; ``vision.rules.get``
imports a rule's module on first use.  To add a rule, write
``vision/rules/<name>.py`` and add one line to :data:`CATALOGUE`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATALOGUE", "Entry", "default_rule_names", "rule_names"]


@dataclass(frozen=True)
class Entry:
    """Where a rule lives, and whether a profile may choose it as its default rule."""

    module: str
    default_ok: bool = True


#: Every rule, in the order pages and ``--rule`` list them.
CATALOGUE: dict[str, Entry] = {
    "learned": Entry("vision.rules.learned"),  # the default (issue 10): AKAZE + XFeat + global similarity
    "robust": Entry("vision.rules.robust"),
    "fused": Entry("vision.rules.fused"),
    "original": Entry("vision.rules.original", default_ok=False),  # the note's rule: for comparison only
}


def rule_names() -> tuple[str, ...]:
    """Every rule's name, in the catalogue's order (read now: a line added at run time counts)."""
    return tuple(CATALOGUE)


def default_rule_names() -> tuple[str, ...]:
    """The rules a profile may select as its rule."""
    return tuple(name for name, entry in CATALOGUE.items() if entry.default_ok)
