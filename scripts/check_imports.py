"""Fail when first-party imports go up the layers or in a circle, a private name is imported, or a module is too long.

Usage: ``python -m scripts.check_imports [--max-lines 500]``.  Every ``import``
of a first-party module counts: at module level, inside a function (a lazy
import hides a circle, it does not remove it) and under ``if TYPE_CHECKING:``
(a type-only import is still a dependency of the design).  A package's
``__init__`` counts as a module of its own.

The layers (:data:`LAYERS`, lowest first) are the order of docs/ARCHITECTURE.md:
a module may import its own layer or lower ones, never a higher one.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vision", "ui", "pages")
SINGLE = ("api", "app")
#: Module prefixes by layer, lowest first; a module belongs to its longest matching prefix.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("vision.core", "vision.rules.catalogue", "vision.replay.thresholds"),  # leaves: words, settings, names
    ("vision.image",),  # bytes -> upright pixels, with limits
    ("vision.tagging",),  # the tag check (its ONNX backbone also gives the matchers' global descriptor)
    ("vision.matchers",),  # AKAZE, kNN, homography checks, XFeat, LighterGlue, the global descriptor
    ("vision.profile",),  # every tunable number
    ("vision.rules",),  # evidence and the rules' decisions
    ("vision.store",),  # references, proofs (the replay memory's storage)
    ("vision.replay",),  # is the new photo an old one?
    ("vision.flows",),  # prepare, the one verify dispatch, the replay step, references
    ("vision.service",),  # the contract's flows as plain functions
    ("vision.web",),  # the HTTP layer
    ("vision.views",),  # what pages draw and say
    ("vision.lab",),  # the evaluation engine
    ("vision.cli", "vision.__main__", "vision"),  # python -m vision
    ("ui",),  # Streamlit glue
    ("pages", "api", "app"),  # pages, the API app, the dashboard's entry point
)
#: Modules allowed past the line limit, and why (see docs/ARCHITECTURE.md).
LONG_MODULES: dict[str, str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def first_party_files() -> list[Path]:
    files = [ROOT / f"{name}.py" for name in SINGLE]
    for package in PACKAGES:
        files += sorted((ROOT / package).rglob("*.py"))
    return [f for f in files if f.is_file()]


def layer_of(module: str) -> int:
    """The layer index of ``module`` (its longest matching prefix in :data:`LAYERS`); ``ValueError`` if none."""
    best, found = -1, None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    if found is None:
        raise ValueError(f"{module} is in no layer of scripts/check_imports.py LAYERS")
    return found


def private_imports(path: Path, known: set[str]) -> list[str]:
    """``from first_party import _name`` in ``path``: a private name used across modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            first_party = node.module in known or node.module.split(".")[0] in PACKAGES
            for alias in node.names:
                if first_party and alias.name.startswith("_") and f"{node.module}.{alias.name}" not in known:
                    out.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports private {node.module}.{alias.name}")
    return out


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The first-party modules ``path`` imports (``from pkg import mod`` resolves to ``pkg.mod`` when it is one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return {m for m in found if m in known}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-lines", type=int, default=500)
    args = parser.parse_args(argv)
    files = first_party_files()
    names = {module_name(f): f for f in files}
    known = set(names)
    # A package imports nothing by being a parent: only real import statements count.
    graph = {name: imports_of(path, known) - {name} for name, path in names.items()}
    problems = [f"import circle: {' <-> '.join(c)}" for c in cycles(graph)]
    for name in sorted(graph):
        try:
            mine = layer_of(name)
            for target in sorted(graph[name]):
                if layer_of(target) > mine:
                    problems.append(f"{name} imports {target}, a higher layer ({layer_of(target)} > {mine})")
        except ValueError as exc:
            problems.append(str(exc))
    for path in names.values():
        problems += private_imports(path, known)
    for name, path in sorted(names.items()):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > args.max_lines and name not in LONG_MODULES:
            problems.append(f"{path.relative_to(ROOT)}: {n} lines (limit {args.max_lines})")
    for line in problems:
        print(line, file=sys.stderr)
    print(f"{len(names)} modules, {sum(len(v) for v in graph.values())} imports, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
