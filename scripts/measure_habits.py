"""One reference vs a habit of up to three: genuine accepts and false accepts per kind on a labelled folder.

Scenes are the images' folders (``images/<source>/<scene>/...``; the folder is the scene, as
``lab.split.split_by_scene`` holds out).  For each genuine pair (label 1) the one-reference verdict is
the pair's own; the habit adds the scene's two images *most different* from the pair's reference by the
global descriptor (lowest cosine; never the query itself), tried most similar to the query first, through
:func:`vision.flows.verify.verify_photo`, stopping at the first acceptance, as
:func:`vision.service.habits.verify_habit_bytes` does.  For each negative pair (label 0) the stranger's
query meets the reference's habit built the same way: the false-accept cost.  Replay is not checked here.

Sampled: at most ``--per-kind`` pairs of each kind (seeded), since each pair costs up to three verifications
on the two busy cores.  Run: ``python -m scripts.measure_habits ../shared/data --per-kind 6``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections import defaultdict
from functools import cache
from pathlib import Path

from vision import rules
from vision.flows.prepare import PreparedPhoto, prepare_photo, with_embedding
from vision.flows.verify import verify_photo
from vision.matchers.descriptor import cosine_similarity
from vision.profile import Profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--per-kind", type=int, default=6)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    root: Path = args.folder
    profile = Profile()
    needs = rules.get(profile.rule).needs
    rows = list(csv.DictReader((root / "pairs.csv").open()))
    scene_images: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        for side in ("ref", "query"):
            scene_images[str(Path(row[side]).parent)].add(row[side])
    by_kind: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    rng = random.Random(args.seed)
    sample = [r for kind in sorted(by_kind) for r in rng.sample(by_kind[kind], min(args.per_kind, len(by_kind[kind])))]

    @cache
    def photo(path: str) -> PreparedPhoto:
        return with_embedding(prepare_photo((root / path).read_bytes(), profile.feature_settings, needs=needs))

    def habit(ref: str, avoid: str) -> list[str]:
        """The pair's reference plus the scene's two images least similar to it (never ``avoid``)."""
        others = [p for p in scene_images[str(Path(ref).parent)] if p not in (ref, avoid)]
        others.sort(key=lambda p: cosine_similarity(photo(p).features.embedding, photo(ref).features.embedding))
        return [ref, *others[:2]]

    def accepts(ref: str, query: str) -> bool:
        data = (root / query).read_bytes()
        return bool(verify_photo(photo(ref).features, data, profile, query=photo(query)).verdict.result)

    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    start = time.perf_counter()
    for i, row in enumerate(sample):
        ref, query, label = row["ref"], row["query"], int(row["label"])
        refs = habit(ref, query)
        q = photo(query).features.embedding
        ordered = sorted(refs, key=lambda p: -cosine_similarity(photo(p).features.embedding, q))
        one = accepts(ref, query)
        many = one or any(accepts(p, query) for p in ordered if p != ref)
        s = stats[row["kind"]]
        s["pairs"] += 1
        s["label"] = label
        s["refs_total"] += len(refs)
        s["one_ref_accepted"] += one
        s["habit_accepted"] += many
        print(f"{i + 1}/{len(sample)} {row['kind']} one={one} habit={many}", file=sys.stderr)
    out = {
        "sampled_per_kind": args.per_kind,
        "seed": args.seed,
        "seconds": round(time.perf_counter() - start),
        "kinds": stats,
    }
    print(json.dumps(out, indent=1, default=dict))


if __name__ == "__main__":
    main()
