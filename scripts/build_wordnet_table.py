"""Build the ImageNet class names and the class-to-ancestors table from WordNet 3.0.

ImageNet-1k class ids (``n01440764`` ...) are WordNet 3.0 noun offsets, and
the model's output order is the sorted list of those ids.  This script reads
WordNet's ``data.noun`` (Debian: ``apt-get install -y wordnet-base``, files in
``/usr/share/wordnet``) and writes, under ``vision/models/``:

``imagenet_classes.txt``
    1000 lines ``<wnid> <lemma>, <lemma>, ...`` in model output order.
``imagenet_ancestors.json``
    ``{"synsets": {offset: [lemmas]}, "classes": [[ancestor offsets], ...]}``:
    for each class (same order) every ancestor reached through hypernym
    (``@``) and instance-hypernym (``@i``) pointers, nearest first.

Usage::

    python -m scripts.build_wordnet_table [--wordnet-dir /usr/share/wordnet]
        [--synsets FILE]   # one wnid per line; default: first column of the
                           # existing imagenet_classes.txt
"""

from __future__ import annotations

import argparse
import json
from collections import deque
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "vision" / "models"
HYPERNYM_POINTERS = {"@", "@i"}


def parse_data_noun(path: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Read WordNet's ``data.noun``.

    Parameters
    ----------
    path : Path
        The ``data.noun`` file of WordNet 3.0.

    Returns
    -------
    lemmas : dict
        8-digit offset -> lemma names (underscores turned into spaces).
    parents : dict
        8-digit offset -> offsets of its hypernyms and instance hypernyms.
    """
    lemmas: dict[str, list[str]] = {}
    parents: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("  "):  # licence header
                continue
            offset, names, ptrs = _parse_line(line)
            lemmas[offset] = names
            parents[offset] = ptrs
    return lemmas, parents


def _parse_line(line: str) -> tuple[str, list[str], list[str]]:
    """Split one ``data.noun`` record into offset, lemmas and hypernym offsets."""
    fields = line.split(" | ", 1)[0].split()
    offset, w_cnt = fields[0], int(fields[3], 16)
    names = [fields[4 + 2 * i].replace("_", " ") for i in range(w_cnt)]
    pos = 4 + 2 * w_cnt
    p_cnt = int(fields[pos])
    ptrs = []
    for i in range(p_cnt):
        symbol, target, target_pos = fields[pos + 1 + 4 * i : pos + 4 + 4 * i]
        if symbol in HYPERNYM_POINTERS and target_pos == "n":
            ptrs.append(target)
    return offset, names, ptrs


def ancestors(offset: str, parents: dict[str, list[str]]) -> list[str]:
    """All hypernym ancestors of a synset, breadth first (nearest first).

    Parameters
    ----------
    offset : str
        8-digit WordNet noun offset.
    parents : dict
        As returned by :func:`parse_data_noun`.

    Returns
    -------
    list of str
        Ancestor offsets without duplicates, the synset itself excluded.
    """
    seen: dict[str, None] = {}
    queue = deque(parents.get(offset, []))
    while queue:
        cur = queue.popleft()
        if cur in seen:
            continue
        seen[cur] = None
        queue.extend(parents.get(cur, []))
    return list(seen)


def read_wnids(path: Path) -> list[str]:
    """Read class ids: the first whitespace-separated field of each non-empty line."""
    ids = [ln.split()[0] for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if len(ids) != 1000 or ids != sorted(ids):
        raise SystemExit(f"{path}: expected 1000 sorted wnids, got {len(ids)}")
    return ids


def build(wnids: list[str], lemmas: dict, parents: dict) -> tuple[list[str], dict]:
    """Return the class-name lines and the ancestors table.

    Parameters
    ----------
    wnids : list of str
        ``n`` + 8-digit offset, in model output order.
    lemmas, parents : dict
        As returned by :func:`parse_data_noun`.

    Returns
    -------
    lines : list of str
        ``"<wnid> <lemma>, ..."`` for ``imagenet_classes.txt``.
    table : dict
        The JSON document for ``imagenet_ancestors.json``.
    """
    lines, classes, used = [], [], set()
    for wnid in wnids:
        offset = wnid[1:]
        lines.append(f"{wnid} {', '.join(lemmas[offset])}")
        anc = ancestors(offset, parents)
        classes.append([int(a) for a in anc])
        used.update(anc)
    table = {
        "source": "WordNet 3.0 (Princeton University), data.noun; pointers @ and @i",
        "synsets": {str(int(o)): lemmas[o] for o in sorted(used)},
        "classes": classes,
    }
    return lines, table


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet-dir", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--synsets", type=Path, default=MODELS / "imagenet_classes.txt")
    parser.add_argument("--out-dir", type=Path, default=MODELS)
    args = parser.parse_args(argv)
    wnids = read_wnids(args.synsets)
    lemmas, parents = parse_data_noun(args.wordnet_dir / "data.noun")
    lines, table = build(wnids, lemmas, parents)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "imagenet_classes.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (args.out_dir / "imagenet_ancestors.json").open("w", encoding="utf-8") as fh:
        json.dump(table, fh, separators=(",", ":"), ensure_ascii=False)
    print(f"wrote {len(lines)} classes, {len(table['synsets'])} ancestor synsets to {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
