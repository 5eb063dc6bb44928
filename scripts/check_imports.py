"""Fail when the first-party modules import each other in a circle, or a module grows past the line limit.

Usage: ``python -m scripts.check_imports [--max-lines 500]``.  Every ``import``
of a first-party module counts, at module level or inside a function (a lazy
import hides a circle, it does not remove it); ``if TYPE_CHECKING:`` imports do
not.  A package's ``__init__`` counts as a module of its own.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vision", "ui")
SINGLE = ("api",)
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


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The first-party modules ``path`` imports (``from pkg import mod`` resolves to ``pkg.mod`` when it is one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
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
