"""Build the replay set from a labelled folder and measure the replay check on it.

Every positive pair's reference is passed through each transformation of
:mod:`vision.replay_transforms` (digital replays, and ``--screen-variants``
simulated photos of a screen); each replay is checked against the
reference's fingerprint.  The genuine positive pairs (reference vs query,
both directions) are the opposite class.  Pairs of the ``synthetic_*``
kinds are digital edits of their reference (rotation, scaling of the same
pixels), so they are replays by the issue's definition, not genuine new
photos: they are reported apart.

    python scripts/build_replay_set.py ../shared/data --out replay_eval.csv
    python scripts/build_replay_set.py --from-csv replay_eval.csv      # report only

Writes one CSV row of evidence per checked photo, then prints detection
rates per transformation, the false-flag rate on genuine pairs, and the
thresholds picked with whole scenes held out.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vision.features import FeatureSettings
from vision.fingerprint import make_fingerprint
from vision.imageio import decode_image
from vision.pipeline import prepare_photo
from vision.replay import ReplayThresholds, decide, measure
from vision.replay_transforms import DIGITAL, SCREEN

FIELDS = ["scene", "ref", "query", "cls", "kind", "n_points", "n_inliers", "inlier_fraction", "reproj_px", "detail_ncc"]
SOURCE_SIDE = 2000  # replays are made from the reference decoded at this long side (speed)


def _scene(path: str) -> str:
    return str(Path(path).parent)


def _row(scene: str, ref: str, query: str, cls: str, kind: str, ev) -> dict:
    return {
        "scene": scene,
        "ref": ref,
        "query": query,
        "cls": cls,
        "kind": kind,
        **{k: ev.to_json()[k] for k in ("n_points", "n_inliers", "inlier_fraction", "reproj_px", "detail_ncc")},
    }


def build(data_dir: Path, screen_variants: int, limit: int | None) -> list[dict]:
    """Measure every replay and genuine pair of ``data_dir/pairs.csv``; one evidence row each."""
    with open(data_dir / "pairs.csv", newline="") as handle:
        pairs = [r for r in csv.DictReader(handle) if r["label"] == "1"]
    settings = FeatureSettings()
    cache: dict[str, tuple] = {}

    def prepared(rel: str):
        if rel not in cache:
            photo = prepare_photo((data_dir / rel).read_bytes(), settings)
            cache[rel] = (photo.features, make_fingerprint(photo.image, photo.features))
        return cache[rel]

    rows: list[dict] = []
    refs = sorted({p["ref"] for p in pairs})[:limit]
    for n, ref in enumerate(refs):
        start = time.perf_counter()
        _, ref_fp = prepared(ref)
        source = decode_image((data_dir / ref).read_bytes(), max_side=SOURCE_SIDE).bgr
        seed = abs(hash(ref)) % 2**32
        jobs = [(name, fn, 0) for name, fn in DIGITAL.items()]
        jobs += [(name, fn, v) for name, fn in SCREEN.items() for v in range(screen_variants)]
        for name, fn, variant in jobs:
            rng = np.random.default_rng([seed, variant, len(name)])
            photo = prepare_photo(fn(source, rng), settings)
            qfp = make_fingerprint(photo.image, photo.features)
            ev = measure(ref_fp, photo.features, qfp.thumb, qfp)
            cls = "screen" if name in SCREEN else "digital"
            rows.append(_row(_scene(ref), ref, f"{name}#{variant}", cls, name, ev))
        print(f"[{n + 1}/{len(refs)}] {ref}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    for p in pairs:
        if p["ref"] not in refs:
            continue
        cls = "synthetic" if p["kind"].startswith("synthetic") else "genuine"
        for a, b in ((p["ref"], p["query"]), (p["query"], p["ref"])):
            _a_features, a_fp = prepared(a)
            b_features, b_fp = prepared(b)
            rows.append(_row(_scene(p["ref"]), a, b, cls, p["kind"], measure(a_fp, b_features, b_fp.thumb, b_fp)))
    return rows


def _flags(rows: list[dict], t: ReplayThresholds) -> np.ndarray:
    from vision.replay import ReplayEvidence

    out = []
    for r in rows:
        reproj = float(r["reproj_px"]) if r["reproj_px"] not in ("", "None", None) else float("inf")
        ev = ReplayEvidence(
            int(r["n_points"]),
            0,
            int(r["n_inliers"]),
            float(r["inlier_fraction"]),
            reproj,
            float(r["detail_ncc"]),
            0,
        )
        out.append(decide(ev, t)[0])
    return np.array(out, bool)


def pick_ncc(rows: list[dict], base: ReplayThresholds, margin: float = 0.05) -> float:
    """``min_detail_ncc``: the highest genuine correlation (among pairs passing the keypoint gates) plus a margin."""
    loose = ReplayThresholds(base.min_inliers, base.min_inlier_fraction, -1.0)
    genuine = [r for r in rows if r["cls"] == "genuine"]
    passing = [float(r["detail_ncc"]) for r, f in zip(genuine, _flags(genuine, loose), strict=False) if f]
    return round(min(max(passing, default=0.0) + margin, 0.99), 3)


def report(rows: list[dict], t: ReplayThresholds) -> None:
    """Print detection per transformation, false flags on genuine pairs, and leave-one-scene-out picks."""
    flags = _flags(rows, t)
    by_kind: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for r, f in zip(rows, flags, strict=False):
        by_kind[(r["cls"], r["kind"])].append(bool(f))
    print(f"thresholds: {t}")
    print(f"{'class':10s} {'kind':20s} {'flagged':>8s} {'n':>5s}  rate")
    for (cls, kind), fs in sorted(by_kind.items()):
        print(f"{cls:10s} {kind:20s} {sum(fs):8d} {len(fs):5d}  {np.mean(fs):.1%}")
    for cls in ("digital", "screen", "genuine", "synthetic"):
        fs = [f for r, f in zip(rows, flags, strict=False) if r["cls"] == cls]
        if fs:
            print(f"== {cls}: {sum(fs)}/{len(fs)} flagged ({np.mean(fs):.2%})")
    scenes = sorted({r["scene"] for r in rows})
    held = {"digital": [], "screen": [], "genuine": []}
    picks = []
    for scene in scenes:
        train = [r for r in rows if r["scene"] != scene]
        test = [r for r in rows if r["scene"] == scene]
        tt = ReplayThresholds(t.min_inliers, t.min_inlier_fraction, pick_ncc(train, t))
        picks.append(tt.min_detail_ncc)
        for r, f in zip(test, _flags(test, tt), strict=False):
            if r["cls"] in held:
                held[r["cls"]].append(bool(f))
    print(f"leave-one-scene-out min_detail_ncc picks: {min(picks):.3f}-{max(picks):.3f}")
    for cls, fs in held.items():
        if fs:
            print(f"   held-out {cls}: {sum(fs)}/{len(fs)} flagged ({np.mean(fs):.2%})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, help="folder with pairs.csv (e.g. ../shared/data)")
    parser.add_argument("--out", type=Path, default=Path("replay_eval.csv"))
    parser.add_argument("--from-csv", type=Path, help="report on an earlier run's CSV instead of building")
    parser.add_argument("--screen-variants", type=int, default=3)
    parser.add_argument("--limit", type=int, help="only the first N references (smoke runs)")
    args = parser.parse_args(argv)
    if args.from_csv:
        with open(args.from_csv, newline="") as handle:
            rows = list(csv.DictReader(handle))
    else:
        if args.data_dir is None:
            parser.error("give DATA_DIR or --from-csv")
        rows = build(args.data_dir, args.screen_variants, args.limit)
        with open(args.out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {len(rows)} rows to {args.out}", file=sys.stderr)
    report(rows, ReplayThresholds())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
