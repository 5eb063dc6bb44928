"""Build the replay set from a labelled folder and measure the replay check on it.

Every positive pair's reference is passed through each transformation of
:mod:`vision.replay.transforms` (digital replays, and ``--screen-variants``
simulated photos of a screen); each replay is checked against the
reference's fingerprint.  The genuine positive pairs (reference vs query,
both directions) are the opposite class.  Pairs of the ``synthetic_*``
kinds are digital edits of their reference (rotation, scaling of the same
pixels), so they are replays by the issue's definition, not genuine new
photos: they are reported apart.

    python scripts/build_replay_set.py ../shared/data --out replay_eval.csv
    python scripts/build_replay_set.py --from-csv replay_eval.csv      # report only
    python -m scripts.build_replay_set ../shared/data --edits --out replay_edits.csv   # edited copies
    python -m scripts.build_replay_set --edits --from-csv replay_edits.csv

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
from dataclasses import replace
from pathlib import Path

import numpy as np

from scripts.replay_edit_set import EDIT_FIELDS, build_edits, report_edits
from vision.flows.prepare import prepare_photo
from vision.image.imageio import decode_image
from vision.matchers.akaze import FeatureSettings, features_from_bytes, features_to_bytes
from vision.profile import Profile
from vision.replay.check import Alignment, ReplayEvidence, ReplayThresholds, decide, measure
from vision.replay.fingerprint import fingerprint_from_bytes, fingerprint_to_bytes, make_fingerprint
from vision.replay.memory import composed_alignment, replay_thresholds, verification_alignment
from vision.replay.transforms import DIGITAL, SCREEN
from vision.rules.evidence import decide_verification, evaluate_match, match_features

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
MODES = ("ref", "proof")
"""``ref``: aligned by the verification's homography (the reference, as the verify flow does);
``proof``: aligned by the fingerprint's keypoints alone (a remembered proof)."""
FIELDS = ["scene", "ref", "query", "cls", "kind", "accepted"] + [f"{m}_{k}" for m in MODES for k in EVIDENCE]
CLASS_OF_KIND = {"synthetic": "synthetic", "blur": "tripod", "light": "tripod"}
"""Positive pairs that are not hand-held new photos: ``synthetic_*`` are digital edits of the reference
(replays by definition); Oxford ``blur`` / ``light`` are a fixed tripod's focus / exposure series."""
SOURCE_SIDE = 2000  # replays are made from the reference decoded at this long side (speed)


def _scene(path: str) -> str:
    return str(Path(path).parent)


def _measure_both(ref_features, ref_fp, features, fp, thresholds: Profile) -> tuple[bool, dict]:
    """Robust-rule verification of the pair, and the replay evidence in both modes (:data:`MODES`)."""
    evidence = evaluate_match(match_features(ref_features, features), thresholds)
    accepted = decide_verification(evidence, thresholds).result
    alignment = None
    if evidence.H is not None and not evidence.problems:
        alignment = Alignment(evidence.H, evidence.n_inliers, ref_features.image_size)
    out = {}
    for mode, align in (("ref", alignment), ("proof", None)):
        ev = measure(ref_fp, features, fp.thumb, fp, align).to_json()
        out.update({f"{mode}_{k}": ev[k] for k in EVIDENCE})
    return accepted, out


def _row(scene: str, ref: str, query: str, cls: str, kind: str, accepted: bool, evidence: dict) -> dict:
    return {"scene": scene, "ref": ref, "query": query, "cls": cls, "kind": kind, "accepted": int(accepted), **evidence}


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
    thresholds = Profile()
    settings = thresholds.feature_settings
    cache: dict[str, tuple] = {}

    def prepared(rel: str):
        if rel not in cache:
            cache[rel] = _cached(cache_dir, rel, (data_dir / rel).read_bytes, settings)
        return cache[rel]

    rows: list[dict] = []
    refs = sorted({p["ref"] for p in pairs})[:limit]
    for n, ref in enumerate(refs):
        start = time.perf_counter()
        ref_features, ref_fp = prepared(ref)
        source = _lazy_source(data_dir / ref)
        seed = int(hashlib.sha1(ref.encode()).hexdigest()[:8], 16)  # stable across runs
        jobs = [(name, fn, 0) for name, fn in DIGITAL.items()]
        jobs += [(name, fn, v) for name, fn in SCREEN.items() for v in range(screen_variants)]
        for name, fn, variant in jobs:
            rng = np.random.default_rng([seed, variant, len(name)])
            features, qfp = _cached(
                cache_dir, f"{ref}|{name}|{variant}|{seed}", lambda f=fn, r=rng, s=source: f(s(), r), settings
            )
            accepted, evidence = _measure_both(ref_features, ref_fp, features, qfp, thresholds)
            cls = "screen" if name in SCREEN else "digital"
            rows.append(_row(_scene(ref), ref, f"{name}#{variant}", cls, name, accepted, evidence))
        print(f"[{n + 1}/{len(refs)}] {ref}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    for p in pairs:
        if p["ref"] not in refs:
            continue
        cls = CLASS_OF_KIND.get(p["kind"].split("_")[0], "genuine")
        for a, b in ((p["ref"], p["query"]), (p["query"], p["ref"])):
            a_features, a_fp = prepared(a)
            b_features, b_fp = prepared(b)
            accepted, evidence = _measure_both(a_features, a_fp, b_features, b_fp, thresholds)
            rows.append(_row(_scene(p["ref"]), a, b, cls, p["kind"], accepted, evidence))
    return rows


def _evidence(row: dict, mode: str) -> ReplayEvidence:
    """The evidence a CSV row records for ``mode`` (empty cells are 'no value': infinite errors)."""

    def num(name: str, missing: float) -> float:
        value = row.get(f"{mode}_{name}")
        return float(value) if value not in ("", "None", None) else missing

    return ReplayEvidence(
        int(num("n_points", 0)),
        0,
        int(num("n_inliers", 0)),
        num("inlier_fraction", 0.0),
        num("reproj_px", float("inf")),
        num("detail_ncc", 0.0),
        0,
        num("similarity_residual", float("inf")),
        num("angle_off_deg", 45.0),
        num("frame_inside", 0.0),
        num("border_flatness", float("inf")),
    )


def _flags(rows: list[dict], t: ReplayThresholds, mode: str) -> np.ndarray:
    return np.array([decide(_evidence(r, mode), t)[0] for r in rows], bool)


def pick(rows: list[dict], base: ReplayThresholds) -> ReplayThresholds:
    """Thresholds from ``rows``, keeping margins to the genuine hand-held pairs.

    * ``max_similarity_residual``: twice the 99.5th percentile over digital replays (a copy's alignment);
    * ``min_detail_ncc``: the highest detail correlation of a genuine pair that passes that similarity
      gate, plus 0.05 (at least 0.85);
    * ``max_border_flatness``: 0.7 x the flattest border of a genuine pair whose old frame is at least
      ``min_frame_inside`` in view and whose detail reaches ``min_framed_ncc`` (at most 0.5);
      ``min_framed_ncc`` is kept (0.75: below 90 % of aligned screen photos, far above genuine pairs
      with a flat border).
    """
    evs = {c: [_evidence(r, m) for r in rows if r["cls"] == c for m in MODES] for c in ("digital", "genuine")}
    residuals = [e.similarity_residual for e in evs["digital"] if e.n_inliers >= base.min_inliers]
    max_res = base.max_similarity_residual
    if residuals:
        max_res = float(np.ceil(2 * np.percentile(residuals, 99.5) * 1e4) / 1e4)
    aligned = [e for e in evs["genuine"] if e.n_inliers >= base.min_inliers]
    similar = [
        e.detail_ncc for e in aligned if e.similarity_residual <= max_res and e.angle_off_deg <= base.max_angle_off_deg
    ]
    min_ncc = round(max(max(similar, default=0.0) + 0.05, 0.85), 3)
    framed = [
        e.border_flatness
        for e in aligned
        if e.frame_inside >= base.min_frame_inside and e.detail_ncc >= base.min_framed_ncc
    ]
    max_flat = round(min(0.7 * min(framed, default=1.0), 0.5), 3)
    return replace(base, max_similarity_residual=max_res, min_detail_ncc=min_ncc, max_border_flatness=max_flat)


def _rate(flags: list[bool]) -> str:
    return f"{sum(flags)}/{len(flags)} ({np.mean(flags):.1%})" if flags else "-"


def report(rows: list[dict], t: ReplayThresholds) -> None:
    """Detection per transformation (as a replay of the reference and of a remembered proof),
    false flags on genuine pairs, and leave-one-scene-out picks."""
    print(f"thresholds: {t}")
    ref_flags, proof_flags = _flags(rows, t, "ref"), _flags(rows, t, "proof")
    accepted = np.array([r["accepted"] == "1" or r["accepted"] == 1 for r in rows], bool)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[(r["cls"], r["kind"])].append(i)
    print(f"{'class':10s} {'kind':20s} {'of reference':>18s} {'not Complete':>18s} {'of a proof':>18s}")
    for (cls, kind), idx in sorted(groups.items()):
        ref = [bool(ref_flags[i]) for i in idx]
        caught = [bool(ref_flags[i] or not accepted[i]) for i in idx]
        proof = [bool(proof_flags[i]) for i in idx]
        print(f"{cls:10s} {kind:20s} {_rate(ref):>18s} {_rate(caught):>18s} {_rate(proof):>18s}")
    for cls in ("digital", "screen", "genuine", "tripod", "synthetic"):
        idx = [i for i, r in enumerate(rows) if r["cls"] == cls]
        if idx:
            acc = [i for i in idx if accepted[i]]
            print(
                f"== {cls}: flagged as replay of the reference {_rate([bool(ref_flags[i]) for i in idx])}, "
                f"of those the verification accepts {_rate([bool(ref_flags[i]) for i in acc])}; "
                f"not Complete {_rate([bool(ref_flags[i] or not accepted[i]) for i in idx])}; "
                f"as replay of a proof {_rate([bool(proof_flags[i]) for i in idx])}"
            )
    scenes = sorted({r["scene"] for r in rows})
    held: dict[str, list[bool]] = defaultdict(list)
    picks = []
    for scene in scenes:
        tt = pick([r for r in rows if r["scene"] != scene], t)
        picks.append(tt)
        test = [r for r in rows if r["scene"] == scene]
        for mode in MODES:
            for r, f in zip(test, _flags(test, tt, mode), strict=True):
                held[f"{r['cls']} ({mode})"].append(bool(f))
    for name in ("min_detail_ncc", "max_similarity_residual", "max_border_flatness"):
        values = [getattr(p, name) for p in picks]
        print(
            f"leave-one-scene-out {name}: {min(values):g}-{max(values):g}; on all scenes: {getattr(pick(rows, t), name):g}"
        )
    for name, fs in sorted(held.items()):
        print(f"   held-out {name}: {_rate(fs)} flagged")


def proof_screens(data_dir: Path, cache_dir: Path | None, variants: int = 2) -> dict[str, list[bool]]:
    """Screen photos of an accepted *proof*, checked as the verify flow checks a remembered proof.

    For each genuine positive pair (reference A, proof B) that the verification accepts, ``variants``
    simulated screen photos Q of B are verified against A; an accepted Q is checked against B's
    fingerprint (its own keypoints, else through the reference: H(A->Q) H(A->B)^-1).  The genuine side:
    every other accepted photo C of the same reference checked against B the same way.
    """
    thresholds = Profile()
    rt = replay_thresholds(thresholds)
    with open(data_dir / "pairs.csv", newline="") as handle:
        pairs = [
            r
            for r in csv.DictReader(handle)
            if r["label"] == "1" and CLASS_OF_KIND.get(r["kind"].split("_")[0], "genuine") == "genuine"
        ]
    prepared: dict[str, tuple] = {}

    def prep(rel: str) -> tuple:
        if rel not in prepared:
            prepared[rel] = _cached(cache_dir, rel, (data_dir / rel).read_bytes, thresholds.feature_settings)
        return prepared[rel]

    def verify(a, b) -> tuple[bool, Alignment | None]:
        evidence = evaluate_match(match_features(a, b), thresholds)
        return decide_verification(evidence, thresholds).result, verification_alignment(evidence, a)

    others = defaultdict(list)
    for p in pairs:
        others[p["ref"]].append(p["query"])
    out: dict[str, list[bool]] = defaultdict(list)
    for p in pairs:
        (fa, _), (fb, fpb) = prep(p["ref"]), prep(p["query"])
        ok, to_b = verify(fa, fb)
        if not ok or to_b is None:
            continue
        seed = int(hashlib.sha1(p["query"].encode()).hexdigest()[:8], 16)
        source = _lazy_source(data_dir / p["query"])
        for v in range(variants):
            rng = np.random.default_rng([seed, v, 99])
            make = lambda r=rng, s=source: SCREEN["screen_photo"](s(), r)  # noqa: E731
            fq, fpq = _cached(cache_dir, f"{p['query']}|proofscreen|{v}|{seed}", make, thresholds.feature_settings)
            okq, to_q = verify(fa, fq)
            composed = (
                None if to_q is None else composed_alignment(replace(fpb, anchor=to_b.H, anchor_key="r"), "r", to_q)
            )
            flagged = decide(measure(fpb, fq, fpq.thumb, fpq, composed), rt)[0]
            out["screen photo of a proof: not Complete"].append(bool(flagged or not okq))
            if okq:
                out["screen photo of a proof, accepted: flagged"].append(bool(flagged))
        for c in others[p["ref"]]:
            if c == p["query"]:
                continue
            fc, fpc = prep(c)
            okc, to_c = verify(fa, fc)
            if okc and to_c is not None:
                composed = composed_alignment(replace(fpb, anchor=to_b.H, anchor_key="r"), "r", to_c)
                out["genuine photo vs an earlier proof: flagged"].append(
                    decide(measure(fpb, fc, fpc.thumb, fpc, composed), rt)[0]
                )
    return out


def _rows(
    args: argparse.Namespace, parser: argparse.ArgumentParser, fields: list[str], make: Callable[[Path], list[dict]]
) -> list[dict]:
    """The rows of ``--from-csv``, or ``make(data_dir)``'s, written to ``--out`` with ``fields``."""
    if args.from_csv:
        with open(args.from_csv, newline="") as handle:
            return list(csv.DictReader(handle))
    if args.data_dir is None:
        parser.error("give DATA_DIR or --from-csv")
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    rows = make(args.data_dir)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.out}", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, help="folder with pairs.csv (e.g. ../shared/data)")
    parser.add_argument("--out", type=Path, default=Path("replay_eval.csv"))
    parser.add_argument("--from-csv", type=Path, help="report on an earlier run's CSV instead of building")
    parser.add_argument("--screen-variants", type=int, default=3)
    parser.add_argument("--limit", type=int, help="only the first N references (smoke runs)")
    parser.add_argument("--cache", type=Path, help="folder keeping each photo's features between runs")
    parser.add_argument("--proof-screens", action="store_true", help="also: screen photos of accepted proofs")
    parser.add_argument("--edits", action="store_true", help="the edit set (scripts/replay_edit_set.py) instead")
    parser.add_argument("--per-scene", type=int, default=2, help="edit set: sources (references, proofs) per scene")
    args = parser.parse_args(argv)
    if args.edits:  # the edit set (scripts/replay_edit_set.py), reported per edit
        report_edits(
            _rows(args, parser, EDIT_FIELDS, lambda d: build_edits(d, args.per_scene, args.cache)), ReplayThresholds()
        )
        return 0
    rows = _rows(args, parser, FIELDS, lambda d: build(d, args.screen_variants, args.limit, args.cache))
    report(rows, ReplayThresholds())
    if args.proof_screens and args.data_dir is not None:
        for name, flags in proof_screens(args.data_dir, args.cache).items():
            print(f"== {name}: {_rate(flags)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
