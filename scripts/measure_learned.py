"""Collect the evidence of every rule on a labelled folder, once, into a cache (for the learned rule's study).

    nice python scripts/measure_learned.py collect ../shared/data --cache /tmp/learned_cache
    python scripts/measure_learned.py analyse --cache /tmp/learned_cache

``collect`` computes per image (cached as ``.npz``): AKAZE features and the
global descriptor (as the pipeline does), XFeat features of the working image
turned by 0/90/180/270 degrees and of its CLAHE version; per pair: the
``original``, ``robust`` and ``fused`` verdicts with default thresholds and the
LighterGlue matches (query turned by each step; CLAHE on both).  ``analyse``
(in ``scripts/analyse_learned.py``) then only reruns geometry and decisions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vision.lab.data import open_folder  # noqa: E402
from vision.lab.run import TuningRun, score_original  # noqa: E402
from vision.matchers import lighterglue, xfeat  # noqa: E402
from vision.matchers.akaze import decode_working  # noqa: E402
from vision.matchers.xfeat_geometry import ROTATIONS, rotate_image  # noqa: E402
from vision.profile import Profile  # noqa: E402

VARIANTS = (*tuple(f"rot{r}" for r in ROTATIONS), "clahe")


def clahe(gray: np.ndarray) -> np.ndarray:
    """Contrast-limited histogram equalisation (8x8 tiles, clip 2), what the study tries for dark photos."""
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)


def image_xfeat(path: Path, cache: Path, settings) -> dict[str, xfeat.XFeatFeatures]:
    """XFeat features of one image's working version per variant, cached as npz."""
    key = hashlib.sha1(str(path).encode()).hexdigest()[:16]
    f = cache / f"img_{key}.npz"
    if f.exists():
        with np.load(f) as z:
            return {
                v: xfeat.XFeatFeatures(z[f"{v}_k"], z[f"{v}_s"], z[f"{v}_d"], tuple(int(x) for x in z[f"{v}_size"]))
                for v in VARIANTS
            }
    working, _ = decode_working(path.read_bytes(), settings)
    gray = cv2.cvtColor(working, cv2.COLOR_BGR2GRAY)
    out = {f"rot{r}": xfeat.extract(rotate_image(gray, r)) for r in ROTATIONS}
    out["clahe"] = xfeat.extract(clahe(gray))
    arrays = {}
    for v, feats in out.items():
        arrays.update(
            {
                f"{v}_k": feats.keypoints,
                f"{v}_s": feats.scores,
                f"{v}_d": feats.descriptors,
                f"{v}_size": feats.image_size,
            }
        )
    np.savez(f, **arrays)
    return out


MATCH_KEYPOINTS = 512
"""Keypoints per side given to LighterGlue (the strongest; the runtime's default)."""


def _top(f: xfeat.XFeatFeatures, k: int = MATCH_KEYPOINTS) -> xfeat.XFeatFeatures:
    return xfeat.XFeatFeatures(f.keypoints[:k], f.scores[:k], f.descriptors[:k], f.image_size)


TILTS = {"tilt_x": (0.5, 1.0), "tilt_y": (1.0, 0.5)}
"""Simulated oblique views of the reference (AffineFeature-style tilt 2 along x or y): scale factors."""


def tilted_refs(data_dir: Path, rel: str, cache: Path, settings) -> dict[str, tuple[xfeat.XFeatFeatures, tuple]]:
    """XFeat features of the reference's working image squeezed by each tilt, keypoints mapped back."""
    key = hashlib.sha1(("tilt" + str(data_dir / rel)).encode()).hexdigest()[:16]
    f = cache / f"tilt_{key}.npz"
    out = {}
    if f.exists():
        with np.load(f) as z:
            for v in TILTS:
                out[v] = xfeat.XFeatFeatures(
                    z[f"{v}_k"], z[f"{v}_s"], z[f"{v}_d"], tuple(int(x) for x in z[f"{v}_size"])
                )
        return out
    working, _ = decode_working((data_dir / rel).read_bytes(), settings)
    gray = cv2.cvtColor(working, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    arrays = {}
    for v, (sx, sy) in TILTS.items():
        # blur along the squeezed axis first, as ASIFT does, then squeeze
        blurred = cv2.GaussianBlur(
            gray, (0, 0), sigmaX=0.8 * (1 / sx if sx < 1 else 0.01), sigmaY=0.8 * (1 / sy if sy < 1 else 0.01)
        )
        small = cv2.resize(blurred, (max(32, int(w * sx)), max(32, int(h * sy))), interpolation=cv2.INTER_AREA)
        found = xfeat.extract(small)
        back = found.keypoints / np.array([small.shape[1] / w, small.shape[0] / h], np.float32)
        feats = xfeat.XFeatFeatures(back.astype(np.float32), found.scores, found.descriptors, (w, h))
        out[v] = feats
        arrays.update(
            {
                f"{v}_k": feats.keypoints,
                f"{v}_s": feats.scores,
                f"{v}_d": feats.descriptors,
                f"{v}_size": feats.image_size,
            }
        )
    np.savez(f, **arrays)
    return out


def collect_tilts(data_dir: Path, cache: Path) -> None:
    """LighterGlue of each simulated tilt of the reference against the upright query (cached in tilts.pkl)."""
    labelled = open_folder(data_dir)
    settings = Profile().feature_settings
    path = cache / "tilts.pkl"
    done = pickle.loads(path.read_bytes()) if path.exists() else {}
    start = time.time()
    for i, p in enumerate(labelled.pairs):
        key = f"{p.ref}|{p.query}"
        if key in done:
            continue
        q = _top(image_xfeat(data_dir / p.query, cache, settings)["rot0"])
        entry = {}
        for v, ref_f in tilted_refs(data_dir, p.ref, cache, settings).items():
            # the squeezed image's LightGlue normalisation differs; match in its own frame, then map back
            sx, sy = TILTS[v]
            squeezed = xfeat.XFeatFeatures(
                ref_f.keypoints * np.array([sx, sy], np.float32),
                ref_f.scores,
                ref_f.descriptors,
                (int(ref_f.image_size[0] * sx), int(ref_f.image_size[1] * sy)),
            )
            m = lighterglue.match(_top(squeezed), q)
            entry[v] = {
                "src": ref_f.keypoints[m.idx0],
                "dst": q.keypoints[m.idx1],
                "conf": m.confidence,
                "ref_size": ref_f.image_size,
                "query_size": q.image_size,
                "n_ref": len(ref_f),
                "n_query": len(q),
            }
        done[key] = entry
        if i % 50 == 0:
            print(f"tilts {i} pairs, {time.time() - start:.0f} s", flush=True)
            path.write_bytes(pickle.dumps(done))
    path.write_bytes(pickle.dumps(done))


def collect(data_dir: Path, cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    labelled = open_folder(data_dir)
    pairs = labelled.pairs
    t = Profile()
    table_path = cache / "akaze.pkl"
    if not table_path.exists():
        start = time.time()
        run = TuningRun.build(labelled, t.feature_settings, workers=1, original=False, embed=True)
        scored = run.scored(t)
        robust, fused = scored.accepted_by("robust"), scored.accepted_by("fused")
        rows = []
        for i, p in enumerate(pairs):
            sim = None if run.similarity is None or not np.isfinite(run.similarity[i]) else float(run.similarity[i])
            rows.append(
                {
                    "ref": p.ref,
                    "query": p.query,
                    "label": p.label,
                    "kind": p.kind,
                    "scene": p.scene,
                    "akaze": float(scored.inliers[i]),  # plausible-homography inliers (robust's ROC score)
                    "akaze_area": float(scored.area_fraction[i]),
                    "robust": bool(robust[i]),
                    "fused": bool(fused[i]),
                    "similarity": sim,
                }
            )
        print(f"akaze + fused: {time.time() - start:.0f} s", flush=True)
        table_path.write_bytes(pickle.dumps(rows))
    start = time.time()
    feats = {}
    for i, rel in enumerate(sorted({p.ref for p in pairs} | {p.query for p in pairs})):
        feats[rel] = image_xfeat(data_dir / rel, cache, t.feature_settings)
        if i % 50 == 0:
            print(f"xfeat {i} images, {time.time() - start:.0f} s", flush=True)
    match_path = cache / "matches.pkl"
    done = pickle.loads(match_path.read_bytes()) if match_path.exists() else {}
    start = time.time()
    # one variant at a time over all pairs, so the analysis can start after the first
    for v in VARIANTS:
        for i, p in enumerate(pairs):
            entry = done.setdefault(f"{p.ref}|{p.query}", {})
            if v in entry:
                continue
            a, b = feats[p.ref], feats[p.query]
            ref_f = _top(a["clahe"] if v == "clahe" else a["rot0"])
            q = _top(b[v])
            m = lighterglue.match(ref_f, q)
            entry[v] = {
                "src": ref_f.keypoints[m.idx0],
                "dst": q.keypoints[m.idx1],
                "conf": m.confidence,
                "ref_size": ref_f.image_size,
                "query_size": q.image_size,
                "n_ref": len(ref_f),
                "n_query": len(q),
            }
            if i % 50 == 0:
                print(f"lighterglue {v} {i} pairs, {time.time() - start:.0f} s", flush=True)
        match_path.write_bytes(pickle.dumps(done))
    original_path = cache / "original.pkl"
    if not original_path.exists():  # full resolution: the slowest part, so last
        start = time.time()
        area = score_original(labelled, workers=1).area_px
        original_path.write_bytes(pickle.dumps([bool(a > t.original_min_area_px) for a in area]))
        print(f"original: {time.time() - start:.0f} s", flush=True)
    print(json.dumps({"pairs": len(pairs), "images": len(feats)}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["collect", "tilts"])
    parser.add_argument("data", type=Path)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/learned_cache"))
    args = parser.parse_args(argv)
    if args.command == "tilts":
        collect_tilts(args.data, args.cache)
    else:
        collect(args.data, args.cache)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
