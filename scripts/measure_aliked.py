"""ALIKED + LightGlue checked homography inliers on every pair of a labelled folder, beside the learned rule's verdict.

Per pair: ALIKED (ONNX, ``vision.matchers.aliked``: 640 px long side, 1024 keypoints)
on both photos, LightGlue (``vision.matchers.lightglue_aliked``), then the geometry the
learned rule applies to XFeat's matches (``vision.matchers.xfeat_geometry``: MAGSAC
homography, plausible outline and stretch, inlier coverage; counted as
``vision.rules.learned_steps.xfeat_inliers`` counts, with the shipped profile's bounds).
The shipped learned rule's verdict comes from the lab (``vision.lab.learned``,
one thread), so the CSV says which genuine pairs it rejects.

Writes ``--out`` (default ``/tmp/aliked_scores.csv``): pair id (row of
pairs.csv), ref, query, kind, label, scene, learned_accepted, aliked_matches,
aliked_inliers (checked), aliked_raw_inliers, problems, coverage, ms (ALIKED on
the query + LightGlue + geometry: the second opinion's cost with the
reference's features stored), extract_ms, match_ms.  ALIKED features are cached
under ``--cache`` (by the image bytes' SHA-256), so a rerun only matches.

Then prints, for the genuine pairs the learned rule rejects, how many ALIKED
accepts at a threshold picked leave-one-scene-out: for each scene, the highest
checked-inlier count of the negatives of the other scenes (same-kind negatives
included) plus ``margin``; and the negatives' maximum.

Usage: ``python -m scripts.measure_aliked [DATA_DIR] [--out CSV] [--cache DIR] [--margins 1 3 5]``
(``--analyse-only`` reads an existing CSV).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import time
from collections import Counter
from pathlib import Path

import numpy as np

from vision.image.imageio import decode_image
from vision.lab.data import LabelledPair
from vision.matchers import aliked, lightglue_aliked
from vision.matchers.xfeat_geometry import learned_geometry
from vision.profile import Profile
from vision.rules.learned_steps import xfeat_inliers

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FIELDS = [
    "pair_id",
    "ref",
    "query",
    "kind",
    "label",
    "scene",
    "learned_accepted",
    "aliked_matches",
    "aliked_inliers",
    "aliked_raw_inliers",
    "problems",
    "coverage",
    "ms",
    "extract_ms",
    "match_ms",
]


def cached_features(path: Path, cache: Path) -> tuple[aliked.AlikedFeatures, float]:
    """ALIKED features of one photo (decoded upright, as a verification decodes it) and their milliseconds."""
    data = path.read_bytes()
    entry = cache / f"{hashlib.sha256(data).hexdigest()}-{aliked.ALIKED_SIDE}-{aliked.MAX_KEYPOINTS}.npz"
    if entry.is_file():
        with np.load(entry) as z:
            size = (int(z["size"][0]), int(z["size"][1]))
            return aliked.AlikedFeatures(z["keypoints"], z["scores"], z["descriptors"], size), float(z["ms"])
    image = decode_image(data).bgr
    start = time.perf_counter()
    found = aliked.extract(image)
    ms = (time.perf_counter() - start) * 1000
    np.savez(
        entry,
        keypoints=found.keypoints,
        scores=found.scores,
        descriptors=found.descriptors,
        size=np.array(found.image_size),
        ms=ms,
    )
    return found, ms


def learned_verdicts(data_dir: Path, profile: Profile) -> np.ndarray:
    """``(N,)`` bool: the shipped learned rule's verdict per pair (the lab, one thread; unusable pairs False)."""
    from vision.lab.data import open_folder
    from vision.lab.learned import score_learned
    from vision.lab.pool import Workers, stderr_progress
    from vision.lab.run import TuningRun

    labelled = open_folder(data_dir)
    run = TuningRun.build(
        labelled, profile.feature_settings, Workers(1, "threads"), stderr_progress, original=False, learned=True
    )
    return score_learned(run, profile).accepted(profile)


def measure(data_dir: Path, out: Path, cache: Path, profile: Profile) -> None:
    """Score every pair and append it to the CSV (see the module docstring); pairs already there are skipped.

    The genuine pairs the learned rule rejects and the negatives come first (the
    analysis needs them), the genuine pairs it accepts last, so a run cut short
    still answers.
    """
    from vision.lab.data import open_folder

    cache.mkdir(parents=True, exist_ok=True)
    pairs = open_folder(data_dir).pairs
    accepted = learned_verdicts(data_dir, profile)
    done = {int(r["pair_id"]) for r in csv.DictReader(out.open())} if out.is_file() else set()
    order = sorted(range(len(pairs)), key=lambda i: (pairs[i].label == 1 and bool(accepted[i]), pairs[i].label, i))
    todo = [i for i in order if i not in done]
    print(f"{len(pairs)} pairs, {len(done)} already in {out}, {len(todo)} to score", flush=True)
    with out.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if not done:
            writer.writeheader()
        for n, i in enumerate(todo, start=1):
            writer.writerow(score_pair(data_dir, pairs[i], i, bool(accepted[i]), cache, profile))
            f.flush()
            if n % 25 == 0:
                print(f"{n}/{len(todo)} pairs", flush=True)
    print(f"wrote {out}")


def score_pair(data_dir: Path, pair: LabelledPair, i: int, accepted: bool, cache: Path, profile: Profile) -> dict:
    """One CSV row: ALIKED + LightGlue checked inliers of ``pair`` and what they cost."""
    ref, _ = cached_features(data_dir / pair.ref, cache)
    query, extract_ms = cached_features(data_dir / pair.query, cache)
    start = time.perf_counter()
    m = lightglue_aliked.match(ref, query)
    match_ms = (time.perf_counter() - start) * 1000
    src, dst = ref.keypoints[m.idx0], query.keypoints[m.idx1]
    geo = learned_geometry(src, dst, ref.image_size, query.image_size, max_anisotropy=profile.learned_max_stretch)
    total_ms = extract_ms + (time.perf_counter() - start) * 1000
    return {
        "pair_id": i,
        "ref": pair.ref,
        "query": pair.query,
        "kind": pair.kind,
        "label": pair.label,
        "scene": pair.scene,
        "learned_accepted": int(accepted),
        "aliked_matches": len(m),
        "aliked_inliers": xfeat_inliers(geo, profile),
        "aliked_raw_inliers": geo.n_inliers,
        "problems": "; ".join(geo.problems),
        "coverage": round(geo.coverage, 4),
        "ms": round(total_ms, 1),
        "extract_ms": round(extract_ms, 1),
        "match_ms": round(match_ms, 1),
    }


def analyse(csv_path: Path, margins: list[int]) -> None:
    """Print what a leave-one-scene-out ALIKED threshold adds to the learned rule (see the module docstring)."""
    rows = list(csv.DictReader(csv_path.open()))
    inl = np.array([int(r["aliked_inliers"]) for r in rows])
    lab = np.array([int(r["label"]) for r in rows])
    acc = np.array([int(r["learned_accepted"]) for r in rows], bool)
    scene = np.array([r["scene"] for r in rows])
    qscene = np.array([str(Path(r["query"]).parent) for r in rows])
    kind = np.array([str(r["kind"]) for r in rows]).astype(object)
    neg = lab == 0
    ms = np.array([float(r["ms"]) for r in rows])
    print(f"pairs {len(rows)}: genuine {int((lab == 1).sum())}, negatives {int(neg.sum())}")
    print(f"learned rule accepts {int(acc[lab == 1].sum())} genuine, {int(acc[neg].sum())} negatives")
    order = np.argsort(-inl[neg])[:5]
    top = ", ".join(f"{inl[neg][k]} ({kind[neg][k]}: {rows[np.nonzero(neg)[0][k]]['query']})" for k in order)
    print(f"negatives' checked ALIKED inliers: max {inl[neg].max()}, top 5: {top}")
    print(
        f"negatives' checked ALIKED inliers by kind (max): {dict(sorted({str(k): int(inl[neg & (kind == k)].max()) for k in set(kind[neg])}.items()))}"
    )
    print(
        f"second opinion cost per pair (ALIKED query + LightGlue + geometry): median {np.median(ms):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms"
    )
    rejected = np.nonzero((lab == 1) & ~acc)[0]
    print(f"genuine pairs the learned rule rejects: {len(rejected)} {dict(Counter(kind[rejected]))}")
    for floor in (10, 15, 19, 25, 50):
        print(f"  of them with >= {floor} checked ALIKED inliers: {int((inl[rejected] >= floor).sum())}")
    best = sorted(rejected, key=lambda i: -inl[i])[:20]
    print("  strongest: " + ", ".join(f"{inl[i]} ({kind[i]}: {rows[i]['query']})" for i in best))
    for margin in margins:
        gained, false_acc, thresholds = [], 0, []
        for s in sorted(set(scene)):
            test = scene == s
            train = neg & (scene != s) & (qscene != s)
            t = int(inl[train].max(initial=0)) + margin
            thresholds.append(t)
            gained += [i for i in rejected if test[i] and inl[i] >= t]
            false_acc += int((neg & test & (inl >= t)).sum())
        print(
            f"margin {margin} (thresholds {min(thresholds)}-{max(thresholds)}): ALIKED accepts {len(gained)} of "
            f"{len(rejected)} rejected genuine pairs {dict(Counter(kind[gained]))}; held-out negatives accepted {false_acc}"
        )
    t_all = int(inl[neg].max()) + 1
    print(
        f"at one threshold on all negatives (max + 1 = {t_all}): {int((inl[rejected] >= t_all).sum())} of {len(rejected)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("/tmp/aliked_scores.csv"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/aliked_features"))
    parser.add_argument("--margins", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--analyse-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.analyse_only:
        measure(args.data_dir, args.out, args.cache, Profile())
    analyse(args.out, args.margins)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
