"""The decision rules: the catalogue of names, and :func:`get` for a rule's behaviour.

Each rule lives in one module of this package that defines ``RULE`` (a
:class:`vision.rules.base.Rule`): how it gathers evidence for a pair of photos
and decides (``verify_bytes``, the CLI), how the lab scores and decides a whole
labelled set from arrays (``lab_*``), and the words a page shows (``label``,
``decided_by``).  To add a rule, write ``vision/rules/<name>.py`` and add one
line to :data:`CATALOGUE` (see docs/ARCHITECTURE.md).

This module imports no rule: :mod:`vision.profile` validates rule names here,
below everything the rules themselves import; :func:`get` imports the rule's
module on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vision.rules.base import Rule

__all__ = ["CATALOGUE", "DEFAULT_RULES", "RULES", "Entry", "get"]


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
RULES: tuple[str, ...] = tuple(CATALOGUE)
#: The rules a profile may select as the default.
DEFAULT_RULES: tuple[str, ...] = tuple(name for name, entry in CATALOGUE.items() if entry.default_ok)


def get(name: str) -> Rule:
    """The rule called ``name``; ``ValueError`` listing the known ones otherwise."""
    entry = CATALOGUE.get(name)
    if entry is None:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {name!r}")
    rule: Rule = importlib.import_module(entry.module).RULE
    return rule
