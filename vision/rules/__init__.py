"""The decision rules; :func:`get` gives a rule's behaviour by name.

Each rule lives in one module of this package that defines ``RULE`` (a
:class:`vision.rules.base.Rule`): what the verify flow must prepare
(``needs``), how it decides one pair (``decide``), how the lab scores and
decides a whole labelled set from arrays (``lab_*``, through the same
acceptance), and the words a page shows (``label``, ``decided_by``,
``score_name``).  The names are in :mod:`vision.rules.catalogue`: to add a
rule, write ``vision/rules/<name>.py`` and add one line there (see
docs/ARCHITECTURE.md).  Callers never compare rule names: they ask
``rules.get(profile.rule)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from vision.rules.catalogue import CATALOGUE, rule_names

if TYPE_CHECKING:
    from vision.rules.base import Rule


def get(name: str) -> Rule:
    """The rule called ``name``; ``ValueError`` listing the known ones otherwise."""
    entry = CATALOGUE.get(name)
    if entry is None:
        raise ValueError(f"rule must be one of {', '.join(rule_names())}, got {name!r}")
    rule: Rule = importlib.import_module(entry.module).RULE
    return rule
