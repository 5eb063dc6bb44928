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
import hashlib
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vision.features import FeatureSettings, features_from_bytes, features_to_bytes
from vision.fingerprint import fingerprint_from_bytes, fingerprint_to_bytes, make_fingerprint
from vision.imageio import decode_image
from vision.pipeline import prepare_photo
from vision.replay import ReplayEvidence, ReplayThresholds, decide, measure
from vision.replay_transforms import DIGITAL, SCREEN

EVIDENCE = [
    "n_points",
    "n_inliers",
    "inlier_fraction",
    "reproj_px",
    "detail_ncc",
    "similarity_residual",
    "angle_off_deg",
    "frame_inside",
    "border_flatness",
]
FIELDS = ["scene", "ref", "query", "cls", "kind", *EVIDENCE]
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
        **{k: ev.to_json()[k] for k in EVIDENCE},
    }


def _cached(cache_dir: Path | None, name: str, make: Callable[[], bytes], settings: FeatureSettings):
    """(features, fingerprint) of the photo ``make()`` encodes; kept in ``cache_dir`` between runs."""
    path = cache_dir / (hashlib.sha1(name.encode()).hexdigest() + ".npz") if cache_dir else None
    if path is not None and path.is_file():
        with np.load(path) as npz:
            return features_from_bytes(npz["features"].tobytes()), fingerprint_from_bytes(npz["fp"].tobytes())
    photo = prepare_photo(make(), settings)
    fp = make_fingerprint(photo.image, photo.features)
    if path is not None:
        np.savez(
            path,
            features=np.frombuffer(features_to_bytes(photo.features), np.uint8),
            fp=np.frombuffer(fingerprint_to_bytes(fp), np.uint8),
        )
    return photo.features, fp


def _lazy_source(path: Path) -> Callable[[], np.ndarray]:
    """The reference decoded at SOURCE_SIDE, decoded on first call only (cached runs never decode)."""
    decoded: list[np.ndarray] = []

    def source() -> np.ndarray:
        if not decoded:
            decoded.append(decode_image(path.read_bytes(), max_side=SOURCE_SIDE).bgr)
        return decoded[0]

    return source


def build(data_dir: Path, screen_variants: int, limit: int | None, cache_dir: Path | None = None) -> list[dict]:
    """Measure every replay and genuine pair of ``data_dir/pairs.csv``; one evidence row each."""
    with open(data_dir / "pairs.csv", newline="") as handle:
        pairs = [r for r in csv.DictReader(handle) if r["label"] == "1"]
    settings = FeatureSettings()
    cache: dict[str, tuple] = {}

    def prepared(rel: str):
        if rel not in cache:
            cache[rel] = _cached(cache_dir, rel, (data_dir / rel).read_bytes, settings)
        return cache[rel]

    rows: list[dict] = []
    refs = sorted({p["ref"] for p in pairs})[:limit]
    for n, ref in enumerate(refs):
        start = time.perf_counter()
        _, ref_fp = prepared(ref)
        source = _lazy_source(data_dir / ref)
        seed = int(hashlib.sha1(ref.encode()).hexdigest()[:8], 16)  # stable across runs
        jobs = [(name, fn, 0) for name, fn in DIGITAL.items()]
        jobs += [(name, fn, v) for name, fn in SCREEN.items() for v in range(screen_variants)]
        for name, fn, variant in jobs:
            rng = np.random.default_rng([seed, variant, len(name)])
            features, qfp = _cached(
                cache_dir, f"{ref}|{name}|{variant}|{seed}", lambda f=fn, r=rng, s=source: f(s(), r), settings
            )
            ev = measure(ref_fp, features, qfp.thumb, qfp)
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


def _evidence(row: dict) -> ReplayEvidence:
    """The evidence a CSV row records (empty cells are 'no value': infinite errors)."""

    def num(name: str, missing: float) -> float:
        value = row.get(name)
        return float(value) if value not in ("", "None", None) else missing

    return ReplayEvidence(
        int(row["n_points"]),
        0,
        int(row["n_inliers"]),
        num("inlier_fraction", 0.0),
        num("reproj_px", float("inf")),
        num("detail_ncc", 0.0),
        0,
        num("similarity_residual", float("inf")),
        num("angle_off_deg", 45.0),
        num("frame_inside", 0.0),
        num("border_flatness", float("inf")),
    )


def _flags(rows: list[dict], t: ReplayThresholds) -> np.ndarray:
    return np.array([decide(_evidence(r), t)[0] for r in rows], bool)


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
    parser.add_argument("--cache", type=Path, help="folder keeping each photo's features between runs")
    args = parser.parse_args(argv)
    if args.from_csv:
        with open(args.from_csv, newline="") as handle:
            rows = list(csv.DictReader(handle))
    else:
        if args.data_dir is None:
            parser.error("give DATA_DIR or --from-csv")
        if args.cache:
            args.cache.mkdir(parents=True, exist_ok=True)
        rows = build(args.data_dir, args.screen_variants, args.limit, args.cache)
        with open(args.out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {len(rows)} rows to {args.out}", file=sys.stderr)
    report(rows, ReplayThresholds())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
